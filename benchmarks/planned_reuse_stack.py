"""Issue 19 figures on a real deployment: a fully reused 20-step chain, planned ahead.

Airflow's api-server, scheduler and dag-processor on loopback (LocalExecutor, 2 slots, SQLite
metadata DB, SQLite registry) run, in the same stack and alternating: the 20-step pipeline chain
(first run, then reused runs), a one-task DAG (one no-op PythonOperator) and 20 chained
EmptyOperators. Durations are the DAG runs' start and end dates; medians of 3 rounds (each round:
one run of each DAG). Each planned run writes a handful of XComs (a request to the api-server each:
~25 ms with the SQLite metadata DB, one commit each).
Targets: reused chain <= 1.5x the one-task DAG and <= 0.15x the 20 EmptyOperators.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _report import report  # noqa: E402

DAG_FILE = """
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from airflow_mlw.core import Workspace
from airflow_mlw.pipelines import Pipeline, PipelineData, PythonScriptStep

ws = Workspace.from_config()
steps, previous = [], None
for i in range(20):
    out = PipelineData(f"out{{i}}")
    inputs = [previous] if previous is not None else []
    steps.append(PythonScriptStep(
        "step.py", name=f"s{{i}}", source_directory={source!r}, arguments=[out, *inputs],
        inputs=inputs, outputs=[out],
    ))
    previous = out
chain = Pipeline(ws, steps).to_dag("bench_chain20")

with DAG("bench_one_task", schedule=None) as one_task:
    PythonOperator(task_id="noop", python_callable=lambda: None)

with DAG("bench_empty20", schedule=None) as empty20:
    previous = None
    for i in range(20):
        task = EmptyOperator(task_id=f"t{{i}}")
        if previous is not None:
            previous >> task
        previous = task
"""
STEP = (
    "import os, sys\nos.makedirs(sys.argv[1], exist_ok=True)\n"
    "text = open(os.path.join(sys.argv[2], 'x')).read() if len(sys.argv) > 2 else ''\n"
    "open(os.path.join(sys.argv[1], 'x'), 'w').write(text + 'x')\n"
)


def seconds(row: dict) -> float:  # type: ignore[type-arg]
    start, end = (datetime.fromisoformat(str(row[k])) for k in ("start_date", "end_date"))
    return (end - start).total_seconds()


def task_seconds(database: Path, dag_id: str, task_id: str, run_ids: list[str]) -> float:
    """Median running time of a task in the given DAG runs (the metadata DB's start and end dates)."""
    import sqlite3

    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT run_id, start_date, end_date FROM task_instance WHERE dag_id = ? AND task_id = ? AND state = 'success'",
            (dag_id, task_id),
        ).fetchall()
    spans = [
        (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        for run_id, start, end in rows
        if run_id in run_ids
    ]
    return statistics.median(spans) if spans else float("nan")


def main() -> None:
    from tests.airflow_stack import airflow_stack

    scratch = Path(tempfile.mkdtemp(prefix="mlw-bench-planned-"))
    (scratch / "src").mkdir()
    (scratch / "src" / "step.py").write_text(STEP)
    (scratch / "dags").mkdir()
    (scratch / "dags" / "bench.py").write_text(DAG_FILE.format(source=str(scratch / "src")))
    env = {
        "AIRFLOW__MLW__REGISTRY_URL": f"sqlite:///{scratch / 'registry.db'}",
        "AIRFLOW__MLW__HOME": str(scratch / "mlw-home"),
    }
    os.environ.update(env)
    rounds: dict[str, list[float]] = {"reused": [], "one": [], "empty": []}
    run_ids: dict[str, list[str]] = {"bench_chain20": [], "bench_one_task": []}
    with airflow_stack(scratch / "dags", parallelism=2, extra_env=env) as stack:
        stack.wait_for_dags(["bench_chain20", "bench_one_task", "bench_empty20"])

        def run(dag_id: str) -> float:
            run_id = stack.trigger(dag_id)
            row = stack.wait(dag_id, run_id)
            assert row["state"] == "success", (row, stack.log_tails())
            run_ids.setdefault(dag_id, []).append(run_id)
            return seconds(row)

        first = run("bench_chain20")
        run_ids["bench_chain20"].clear()  # the planning task's time is that of the reused runs
        for _ in range(3):
            rounds["reused"].append(run("bench_chain20"))
            rounds["one"].append(run("bench_one_task"))
            rounds["empty"].append(run("bench_empty20"))
        database = stack.home / "airflow.db"
        planner = task_seconds(database, "bench_chain20", "mlw_plan", run_ids["bench_chain20"])
        noop = task_seconds(database, "bench_one_task", "noop", run_ids["bench_one_task"])
    reused, one, empty = (statistics.median(rounds[k]) for k in ("reused", "one", "empty"))
    print(
        "  rounds: " + "; ".join(f"{k} " + ", ".join(f"{v:.2f}" for v in rounds[k]) for k in rounds),
        flush=True,
    )
    report(
        "planned reuse (LocalExecutor): fully reused 20-step chain vs a one-task DAG, time ratio",
        f"{reused:.2f} s",
        f"{one:.2f} s",
        reused / one,
        "<= 1.5",
        line=f"fully reused 20-step chain vs one-task DAG: {reused:.2f}s vs {one:.2f}s, ratio {reused / one:.2f} [<= 1.5]",
    )
    report(
        "planned reuse (LocalExecutor): fully reused 20-step chain vs 20 chained EmptyOperators, time ratio",
        f"{reused:.2f} s",
        f"{empty:.2f} s",
        reused / empty,
        "<= 0.15",
        line=f"  vs 20 chained EmptyOperators: {empty:.2f}s, ratio {reused / empty:.2f} [<= 0.15]",
    )
    print(
        f"  where the time goes: the planning task runs {planner:.2f}s (median of the reused runs; the "
        f"one-task DAG's no-op task {noop:.2f}s); the rest is scheduling",
        flush=True,
    )
    report(
        "planned reuse (LocalExecutor): reused run vs first run of the 20-step chain, time ratio",
        f"{reused:.2f} s",
        f"{first:.2f} s",
        reused / first,
        "reported",
        line=f"  vs the first (computing) run: {first:.2f}s, ratio {reused / first:.2f}",
    )


if __name__ == "__main__":
    main()
