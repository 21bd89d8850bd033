"""What an in-process submission prints: Azure's few lines on the console, Airflow's in the run's log."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Experiment
from airflow_mlw.pipelines import Pipeline, PipelineData, PythonScriptStep

WRITE = """
import os, sys
print("script says hello from", sys.argv[2])
os.makedirs(sys.argv[1], exist_ok=True)
open(os.path.join(sys.argv[1], "value.txt"), "w").write(sys.argv[2])
"""


def two_steps(workspace: Any, tmp_path: Path) -> Pipeline:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "write.py").write_text(WRITE)
    first_out, second_out = PipelineData("first_out"), PipelineData("second_out")
    first = PythonScriptStep(
        "write.py",
        name="prepare data",
        source_directory=str(tmp_path / "src"),
        arguments=[first_out, "one"],
        outputs=[first_out],
    )
    second = PythonScriptStep(
        "write.py",
        name="train model",
        source_directory=str(tmp_path / "src"),
        arguments=[second_out, "two"],
        inputs=[first_out],
        outputs=[second_out],
    )
    return Pipeline(workspace, [first, second])


def test_console_shows_run_id_and_steps_and_the_log_file_keeps_airflow_lines(
    workspace: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    capfd.readouterr()
    run = Experiment(workspace, "quiet").submit(two_steps(workspace, tmp_path))
    out, err = capfd.readouterr()
    lines = (out + err).splitlines()
    assert run.get_status() == "Finished"
    assert not [line for line in lines if "[DAG TEST]" in line or "DagBag" in line or "bundle" in line]
    assert len(lines) < 15, "\n".join(lines)
    console = "\n".join(lines)
    assert f"PipelineRunId: {run.id}" in console
    assert "StepRun(prepare data) Status: Finished" in console
    assert "StepRun(train model) Status: Finished" in console
    assert "not reused prepare data" in console, "the reuse decision is shown"
    assert "script says hello" not in console, "script output only with wait_for_completion(show_output=True)"

    (log_line,) = [line for line in lines if line.startswith("Log of this run: ")]
    log_file = Path(log_line.removeprefix("Log of this run: "))
    assert log_file.parent.parent == Path(os.environ["AIRFLOW_HOME"]) / "logs" / "mlw-in-process"
    logged = log_file.read_text()
    assert "[DAG TEST] starting task_id=prepare_data" in logged
    assert "Filling up the DagBag" in logged
    assert "script says hello from one" in logged and "script says hello from two" in logged

    again = Experiment(workspace, "quiet").submit(two_steps(workspace, tmp_path))
    console = "".join(capfd.readouterr())
    assert f"PipelineRunId: {again.id}" in console and again.id != run.id
    assert "  reused prepare data from " in console and "  reused train model from " in console


def test_a_failing_step_shows_its_error_and_logging_is_restored(
    workspace: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import logging

    import structlog

    handlers, processors = logging.getLogger().handlers[:], list(structlog.get_config()["processors"])
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "fail.py").write_text(
        "import sys\nprint('bad input row 7', file=sys.stderr)\nsys.exit(3)\n"
    )
    step = PythonScriptStep("fail.py", name="broken", source_directory=str(tmp_path / "src"))
    capfd.readouterr()
    run = Experiment(workspace, "quiet").submit(Pipeline(workspace, [step]))
    console = "".join(capfd.readouterr())
    assert run.get_status() == "Failed"
    assert "StepRun(broken) Status: Failed" in console
    assert "script fail.py exited with code 3" in console and "bad input row 7" in console
    assert logging.getLogger().handlers == handlers
    assert list(structlog.get_config()["processors"]) == processors
