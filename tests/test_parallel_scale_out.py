"""ParallelRunStep across two Celery workers, all real and on loopback (the stack of
``test_scale_out``, see ``tests/parallel_stack.py``): the mini-batch tasks run on both workers; one
worker is SIGKILLed mid-step, Airflow retries its task, the retry runs only the mini-batches not
committed yet, and the output holds every item exactly once, in order.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.parallel_stack import parallel_stack

ITEMS = 40


def test_mini_batches_on_two_workers_survive_a_sigkilled_worker(
    postgres: Any, redis_server: Any, s3_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = (postgres, redis_server, s3_server)
    with parallel_stack(tmp_path, *services, monkeypatch.setenv, ["w1", "w2"], ITEMS, hold=1) as (
        ws,
        stack,
        marks,
    ):
        try:
            killed_after, dag_run = _run_and_kill(stack, marks)
        except BaseException:  # the stack's home goes with it: keep its logs for the report
            shutil.copytree(stack.home, tmp_path / "airflow-home", ignore=shutil.ignore_patterns("*.db"))
            raise
    _check(ws, tmp_path, marks, dag_run, killed_after)


def _run_and_kill(stack: Any, marks: Path) -> tuple[int, str]:
    """Trigger the DAG, SIGKILL w2 (and its task runner) once it has started 5 mini-batches,
    restart it, and wait for the run; (batches w2 had started, the DAG run id)."""
    dag_run = stack.trigger("parallel_scale_out")

    def started(worker: str) -> list[str]:
        return [p.name for p in marks.iterdir() if p.name.startswith(worker + "-")]

    deadline = time.monotonic() + 240
    while len(started("w2")) < 5:  # w2's task has committed a few mini-batches
        assert time.monotonic() < deadline, f"w2 never got going: {stack.log_tails()}"
        time.sleep(0.2)
    killed_after = len(started("w2"))
    stack.kill_worker("w2")
    stack.start_worker("w2")
    assert stack.wait("parallel_scale_out", dag_run, timeout=400)["state"] == "success", stack.log_tails()
    return killed_after, dag_run


def _check(ws: Any, tmp_path: Path, marks: Path, dag_run: str, killed_after: int) -> None:
    from airflow_mlw.execution.records import pipeline_run_id
    from airflow_mlw.runs.pipeline_run import PipelineRun

    pipeline_run = PipelineRun(ws, pipeline_run_id(ws, "parallel_scale_out", dag_run))
    (step,) = pipeline_run.get_steps()
    folder = Path(step.get_output_data("scores").download(str(tmp_path / "got")))
    lines = next(folder.rglob("parallel_run_step.txt")).read_text().splitlines()
    assert lines == [f"{i:03d}.txt {i * i}" for i in range(ITEMS)], "every item exactly once, in input order"
    ran = [name.split("-")[2] for name in (p.name for p in marks.iterdir())]
    assert {name.split("-")[0] for name in (p.name for p in marks.iterdir())} == {"w1", "w2"}
    again = [first for first in set(ran) if ran.count(first) > 1]
    # The killed task's retry ran only what it had not committed: the batch in flight and at most
    # one finished within the last commit interval, not the killed_after - 1 it had finished.
    assert len(again) <= 2, (again, killed_after)
    assert step.get_metrics()["reused_mini_batches"] >= killed_after - 2 >= 3
    assert step.get_metrics()["mini_batches"] == ITEMS // 2
