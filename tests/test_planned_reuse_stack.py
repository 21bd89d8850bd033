"""Reuse planned ahead on a real deployment: api-server, scheduler and dag-processor (LocalExecutor,
SQLite metadata DB) run a 20-step chain; the planning task settles every reused step, so none of
them is ever started on a worker, and the steps that must run (and their consumers) still do."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.airflow_stack import airflow_stack

STEP = """
import os, sys
name, out = sys.argv[1], sys.argv[2]
text = open(os.path.join(sys.argv[3], "data.txt")).read() if len(sys.argv) > 3 else ""
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "data.txt"), "w").write(text + name + {suffix!r} + ";")
"""
REPORT = """
import os, sys
from airflow_mlw.core import Run
Run.get_context().log("text", open(os.path.join(sys.argv[1], "data.txt")).read())
"""
DAG_FILE = """
import os
from airflow_mlw.core import Workspace
from airflow_mlw.pipelines import Pipeline, PipelineData, PythonScriptStep

SRC, LENGTH, DAG_ID = {src!r}, {length}, {dag_id!r}
if os.path.exists({crash!r}):  # fault injection: the planning task's process dies while planning
    import airflow_mlw.execution.planning as planning

    planning.plan_hits = lambda *args, **kwargs: os._exit(3)
ws = Workspace.from_config()
steps, previous = [], None
for i in range(LENGTH):
    out = PipelineData(f"out{{i}}")
    inputs = [previous] if previous is not None else []
    steps.append(PythonScriptStep(
        "step.py", name=f"s{{i}}", source_directory=f"{{SRC}}/s{{i}}",
        arguments=[f"s{{i}}", out, *inputs], inputs=inputs, outputs=[out],
    ))
    previous = out
steps.append(PythonScriptStep(
    "report.py", name="report", source_directory=f"{{SRC}}/report", arguments=[previous],
    inputs=[previous], allow_reuse=False,
))
dag = Pipeline(ws, steps).to_dag(DAG_ID)
"""
CHAIN = 20


def task_instances(home: Path, dag_id: str, run_id: str) -> dict[str, tuple[str, Any]]:
    """task id -> (state, pid) from the metadata DB."""
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "SELECT task_id, state, pid FROM task_instance WHERE dag_id = ? AND run_id = ?", (dag_id, run_id)
        ).fetchall()
    return {task: (state, pid) for task, state, pid in rows}


def ever_running(home: Path, dag_id: str, run_id: str) -> set[str]:
    """Tasks of the run that a worker started (a pid, a hostname, or a row in the history table)."""
    with sqlite3.connect(home / "airflow.db") as db:
        started = db.execute(
            "SELECT task_id FROM task_instance WHERE dag_id = ? AND run_id = ? AND (pid IS NOT NULL OR hostname != '')",
            (dag_id, run_id),
        ).fetchall()
        history = db.execute(
            "SELECT task_id FROM task_instance_history WHERE dag_id = ? AND run_id = ?", (dag_id, run_id)
        ).fetchall()
    return {task for (task,) in started + history}


def write_sources(src: Path, changed: int | None = None) -> None:
    for i in range(CHAIN):
        (src / f"s{i}").mkdir(parents=True, exist_ok=True)
        (src / f"s{i}" / "step.py").write_text(STEP.format(suffix="*" if i == changed else ""))
    (src / "report").mkdir(exist_ok=True)
    (src / "report" / "report.py").write_text(REPORT)


def expected_text(changed: int | None = None) -> str:
    return "".join(f"s{i}{'*' if i == changed else ''};" for i in range(CHAIN))


def test_planner_settles_a_reused_chain_without_running_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_mlw.core import Workspace
    from airflow_mlw.execution.records import pipeline_run_id
    from airflow_mlw.runs.pipeline_run import PipelineRun

    settings = {
        "AIRFLOW__MLW__REGISTRY_URL": f"sqlite:///{tmp_path / 'registry.db'}",
        "AIRFLOW__MLW__HOME": str(tmp_path / "mlw-home"),
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    ws = Workspace.from_config()
    src, dags, crash = tmp_path / "src", tmp_path / "dags", tmp_path / "crash-the-planner"
    write_sources(src)
    dags.mkdir()
    for dag_id, length in (("chain", CHAIN), ("short_chain", 3)):
        text = DAG_FILE.format(src=str(src), length=length, dag_id=dag_id, crash=str(crash))
        (dags / f"{dag_id}.py").write_text(text)
    steps = [f"s{i}" for i in range(CHAIN)]

    def pipeline_steps(dag_id: str, run_id: str) -> dict[str, Any]:
        run = PipelineRun(ws, pipeline_run_id(ws, dag_id, run_id))
        return {step.name: step for step in run.get_steps()}

    with airflow_stack(dags, extra_env=settings) as stack:
        stack.wait_for_dags(["chain", "short_chain"])
        first = stack.trigger("chain")
        assert stack.wait("chain", first)["state"] == "success", stack.log_tails()
        ran = pipeline_steps("chain", first)
        assert ran["report"].get_metrics() == {"text": expected_text()}

        # Unchanged: the planner reuses all 20 steps; none is ever started; the consumer reads their data.
        second = stack.trigger("chain")
        assert stack.wait("chain", second)["state"] == "success", stack.log_tails()
        states = task_instances(stack.home, "chain", second)
        assert {task: states[task][0] for task in steps} == dict.fromkeys(steps, "skipped")
        assert ever_running(stack.home, "chain", second) == {"mlw_plan", "report"}
        reused = pipeline_steps("chain", second)
        assert all(reused[name].is_reused for name in steps)
        assert reused["s7"].reused_from == ran["s7"].id
        assert reused["report"].get_metrics() == {"text": expected_text()}

        # Step 10 changed: exactly it and its consumers run.
        write_sources(src, changed=10)
        third = stack.trigger("chain")
        assert stack.wait("chain", third)["state"] == "success", stack.log_tails()
        states = task_instances(stack.home, "chain", third)
        assert {task for task in steps if states[task][0] == "success"} == set(steps[10:])
        assert {task for task in steps if states[task][0] == "skipped"} == set(steps[:10])
        assert ever_running(stack.home, "chain", third) == {"mlw_plan", "report", *steps[10:]}
        assert pipeline_steps("chain", third)["report"].get_metrics() == {"text": expected_text(10)}

        # The planning task dies: every step decides in-task (all hits here) and the run completes.
        crash.touch()
        fourth = stack.trigger("short_chain")
        assert stack.wait("short_chain", fourth)["state"] == "success", stack.log_tails()
        states = task_instances(stack.home, "short_chain", fourth)
        assert states["mlw_plan"][0] == "failed"
        assert {task: states[task][0] for task in ("s0", "s1", "s2", "report")} == dict.fromkeys(
            ("s0", "s1", "s2", "report"), "success"
        )
        decided = pipeline_steps("short_chain", fourth)
        assert [decided[name].is_reused for name in ("s0", "s1", "s2")] == [True, True, True]
        assert decided["report"].get_metrics() == {"text": "s0;s1;s2;"}
