"""Issue 6 figure: 8 independent steps vs the same 8 steps chained, with 2 parallel task slots.

A real Airflow deployment on loopback (api-server, scheduler, dag-processor; LocalExecutor with
parallelism 2; PostgreSQL metadata DB, as LocalExecutor parallelism needs) runs both pipelines; each step sleeps 6 s (Airflow's own scheduling gaps are a few
seconds). Prints both durations (from the DAG runs' start and end dates) and their ratio.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _report import report  # noqa: E402

DAG_FILE = """
from airflow_mlw.core import Workspace
from airflow_mlw.pipeline.core import Pipeline
from airflow_mlw.pipeline.steps import PythonScriptStep
ws = Workspace(workspace_name="bench", registry_url="sqlite:///{registry}")
def steps(prefix):
    return [PythonScriptStep("sleep.py", name=f"{{prefix}}{{i}}", source_directory="{source}", allow_reuse=False) for i in range(8)]
fan = steps("f")
fan_out = Pipeline(ws, fan).to_dag("bench_fan_out")
chain = steps("c")
for before, after in zip(chain, chain[1:]):
    after.run_after(before)
sequential = Pipeline(ws, chain).to_dag("bench_sequential")
"""


def seconds(row: dict) -> float:  # type: ignore[type-arg]
    start, end = (datetime.fromisoformat(str(row[k])) for k in ("start_date", "end_date"))
    return (end - start).total_seconds()


def main() -> None:
    from airflow_mlw.core import Workspace
    from tests.airflow_stack import airflow_stack
    from tests.services import Postgres

    scratch = Path(tempfile.mkdtemp(prefix="mlw-bench-fanout-"))
    (scratch / "src").mkdir()
    (scratch / "src" / "sleep.py").write_text("import time\ntime.sleep(6)\n")
    (scratch / "dags").mkdir()
    registry = scratch / "registry.db"
    Workspace.create("bench", registry_url=f"sqlite:///{registry}")
    (scratch / "dags" / "bench.py").write_text(DAG_FILE.format(registry=registry, source=scratch / "src"))
    postgres = Postgres().start()
    try:
        database = postgres.create_database("airflow").replace("postgresql+psycopg2", "postgresql+psycopg2")
        env = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database}
        with airflow_stack(scratch / "dags", parallelism=2, extra_env=env) as stack:
            stack.wait_for_dags(["bench_fan_out", "bench_sequential"])
            fan = stack.wait("bench_fan_out", stack.trigger("bench_fan_out"))
            seq = stack.wait("bench_sequential", stack.trigger("bench_sequential"))
            assert fan["state"] == seq["state"] == "success", (fan, seq)
    finally:
        postgres.stop()
    f, s = seconds(fan), seconds(seq)
    report(
        "fan-out of 8 steps vs 8 chained steps, 2 slots (LocalExecutor), time ratio",
        f"{f:.1f} s",
        f"{s:.1f} s",
        f / s,
        "clearly < 1",
        line=f"fan-out of 8 steps vs 8 chained steps, 2 slots: {f:.1f}s vs {s:.1f}s, ratio {f / s:.2f} [clearly < 1]",
    )


if __name__ == "__main__":
    main()
