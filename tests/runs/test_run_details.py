"""``RunDetails`` (Azure's ``azureml.widgets.RunDetails``) on real in-process pipeline runs."""

from __future__ import annotations

import contextlib
import io
import os
import select
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Experiment
from airflow_mlw.pipelines import Pipeline, PipelineData, PythonScriptStep
from airflow_mlw.widgets import RunDetails

STEP = """
import os, sys, time
from airflow_mlw.core import Run
out, seconds, metric, value = sys.argv[1], float(sys.argv[2]), sys.argv[3], float(sys.argv[4])
time.sleep(seconds)
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "value.txt"), "w").write(metric)
Run.get_context().log(metric, value)
"""


def pipeline(workspace: Any, tmp_path: Path, seconds: float = 0) -> Pipeline:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "step.py").write_text(STEP)
    prepped, model = PipelineData("prepped"), PipelineData("model")
    prepare = PythonScriptStep(
        "step.py",
        name="prepare data",
        source_directory=str(tmp_path / "src"),
        arguments=[prepped, 0, "rows", 600],
        outputs=[prepped],
    )
    train = PythonScriptStep(
        "step.py",
        name="train model",
        source_directory=str(tmp_path / "src"),
        arguments=[model, seconds, "accuracy", 0.8125],
        inputs=[prepped],
        outputs=[model],
    )
    return Pipeline(workspace, [prepare, train])


def shown(run: Any, **kwargs: Any) -> tuple[Any, str]:
    """``show()`` with stdout a plain stream (not a terminal): its last snapshot and what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        last = RunDetails(run).show(refresh_seconds=0.2, **kwargs)
    return last, out.getvalue()


def test_finished_pipeline_shows_steps_and_a_second_submission_shows_reuse(
    workspace: Any, tmp_path: Path
) -> None:
    first = Experiment(workspace, "details").submit(pipeline(workspace, tmp_path))
    last, printed = shown(first)
    assert last.status == "Finished"
    assert [(s.name, s.status, s.reused_from) for s in last.steps] == [
        ("prepare data", "Finished", None),
        ("train model", "Finished", None),
    ]
    assert f"PipelineRun {first.id}  Status: Finished" in printed
    assert "  StepRun(train model) Status: Finished\n" in printed
    assert "train model/accuracy: 0.8125" in printed and "prepare data/rows: 600" in printed
    assert printed.count("Status: Finished\n") == 3, "a finished run is printed once"

    second = Experiment(workspace, "details").submit(pipeline(workspace, tmp_path))
    origin = {step.name: step.id for step in first.get_steps()}
    last, printed = shown(second)
    assert [(s.name, s.reused_from) for s in last.steps] == [
        ("prepare data", origin["prepare data"]),
        ("train model", origin["train model"]),
    ]
    assert f"StepRun(prepare data) Status: Finished  (reused from {origin['prepare data']})" in printed
    assert RunDetails(second).get_widget_data()["metrics"] == [
        {"step": "prepare data", "name": "rows", "value": "600"},
        {"step": "train model", "name": "accuracy", "value": "0.8125"},
    ]


def test_html_view_has_the_steps_and_metric_values(workspace: Any, tmp_path: Path) -> None:
    run = Experiment(workspace, "details").submit(pipeline(workspace, tmp_path))
    page = RunDetails(run)._repr_html_()
    assert f"PipelineRun {run.id}: Finished" in page
    assert "<td>prepare data</td><td>Finished</td>" in page and "<td>train model</td>" in page
    assert "<td>accuracy</td><td>0.8125</td>" in page and "<td>rows</td><td>600</td>" in page


def test_view_of_a_running_pipeline_refreshes_until_it_finishes(workspace: Any, tmp_path: Path) -> None:
    """A real run still going: ``submit`` runs it in this thread (``dag.test()`` needs the main
    thread, and in-process ``submit`` returns when the run has ended); a second thread calls
    ``show()`` on the pipeline run as soon as its registry row exists."""
    from sqlalchemy import select

    from airflow_mlw.registry.rows import RunRow
    from airflow_mlw.runs import PipelineRun

    seen: dict[str, Any] = {}

    def watch() -> None:
        deadline = time.monotonic() + 120
        while "run_id" not in seen and time.monotonic() < deadline:
            with workspace.store.session() as session:
                run_id = session.scalars(select(RunRow.id).where(RunRow.kind == "pipeline")).first()
            if run_id is not None:
                seen["run_id"] = run_id
            time.sleep(0.05)
        seen["last"], seen["printed"] = shown(PipelineRun(workspace, seen["run_id"]), timeout_seconds=120)

    watcher = threading.Thread(target=watch)
    watcher.start()
    run = Experiment(workspace, "live").submit(pipeline(workspace, tmp_path, seconds=4))
    watcher.join(timeout=120)
    assert seen["run_id"] == run.id and run.get_status() == "Finished"
    headers = [line for line in seen["printed"].splitlines() if line.startswith(f"PipelineRun {run.id}")]
    assert headers[0].endswith("Status: Running"), seen["printed"]
    assert headers[-1].endswith("Status: Finished") and seen["last"].status == "Finished"
    assert [s.status for s in seen["last"].steps] == ["Finished", "Finished"]
    blocks = list(seen["printed"].split(f"PipelineRun {run.id}")[1:])
    assert all(a != b for a, b in zip(blocks, blocks[1:], strict=False)), (
        "one snapshot per change, not per refresh"
    )


def test_terminal_view_uses_rich_on_a_tty(workspace: Any, tmp_path: Path) -> None:
    run = Experiment(workspace, "details").submit(pipeline(workspace, tmp_path))
    master, slave = os.openpty()
    terminal = os.fdopen(slave, "w")
    try:
        with contextlib.redirect_stdout(terminal):
            RunDetails(run).show()
        terminal.flush()
        chunks = []
        while select.select([master], [], [], 0.5)[0]:
            chunks.append(os.read(master, 65536))
        screen = b"".join(chunks).decode(errors="replace")
    finally:
        terminal.close()
        os.close(master)
    assert "Steps" in screen and "prepare data" in screen and "train model" in screen
    assert "0.8125" in screen and "Finished" in screen
    assert "\x1b[" in screen, "rich drew it with terminal control codes"


@pytest.mark.parametrize("thing", ["0fd04b88a9739384f43e85e0309a2541", None, Experiment])
def test_something_that_is_not_a_run_is_refused(thing: Any) -> None:
    from airflow_mlw.runs.details import NotARunError

    with pytest.raises(NotARunError, match="RunDetails needs a run"):
        RunDetails(thing)


def test_an_interactive_run_still_running_is_shown_once(
    workspace: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """``RunDetails(run).show()`` right after ``start_logging`` (DP-100 lab 04) must not wait for a
    run only this process can end."""
    from airflow_mlw.core import Experiment
    from airflow_mlw.widgets import RunDetails

    run = Experiment(workspace, "shown_once").start_logging()
    run.log("alpha", 0.1)
    shot = RunDetails(run).show(refresh_seconds=0.1)
    assert "Running" in shot.text() and "alpha" in shot.text()
    run.complete()
