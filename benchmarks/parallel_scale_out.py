"""Issue 17 figure (reported): a ParallelRunStep with ``node_count=2`` on the Celery stack of the
scale-out test (PostgreSQL, Redis, moto S3, api-server, scheduler, dag-processor), once with one
Celery worker of one slot and once with two: 40 files in 20 mini-batches, each ``run()`` holding
0.5 s (waiting, as scoring that calls out would; the machine has 2 cores). The figure is the DAG
run's duration in Airflow's metadata DB (start to end); the ratio is 1 worker / 2 workers.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from _report import report

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import services  # noqa: E402
from tests.parallel_stack import parallel_stack  # noqa: E402

ITEMS = 40
HOLD = 0.5


def duration(stack: object, dag_run: str) -> float:
    from datetime import datetime

    row = stack.wait("parallel_scale_out", dag_run, timeout=600)  # type: ignore[attr-defined]
    assert row["state"] == "success", stack.log_tails()  # type: ignore[attr-defined]
    start, end = (datetime.fromisoformat(str(row[k])) for k in ("start_date", "end_date"))
    return (end - start).total_seconds()


def main() -> None:
    postgres = services.Postgres().start()
    redis = services.Redis().start()
    s3 = services.start_moto()
    scratch = Path(tempfile.mkdtemp(prefix="mlw-bench-parallel-celery-"))
    seconds = {}
    try:
        for count in (1, 2):
            folder = scratch / f"workers{count}"
            folder.mkdir()
            names = [f"w{i + 1}" for i in range(count)]
            with parallel_stack(folder, postgres, redis, s3, os.environ.__setitem__, names, ITEMS, HOLD) as (
                _ws,
                stack,
                _marks,
            ):
                seconds[count] = duration(stack, stack.trigger("parallel_scale_out"))
    finally:
        s3.stop()
        redis.stop()
        postgres.stop()
    report(
        f"ParallelRunStep node_count=2 on 2 Celery workers vs 1 ({ITEMS // 2} mini-batches of {HOLD} s)",
        f"{seconds[2]:.1f} s (DAG run)",
        f"{seconds[1]:.1f} s (1 worker)",
        seconds[1] / seconds[2],
        "reported (speed-up of the second worker)",
    )


if __name__ == "__main__":
    main()
