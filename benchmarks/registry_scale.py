"""Issue 9 figures: the registry at scale, on a PostgreSQL 15 cluster of its own (tests/services.py).

- 200 concurrent registrations of new versions of one dataset (10 processes x 4 threads, public
  API): p95 latency, next to the median of the same registration done alone;
- ``Dataset.get_by_name(ws, name)`` over a dataset with 1,000 versions and ``find_hit`` (the
  reuse lookup of the script operator, output check included) over 10,000 step runs: median and
  p95 (target p95 < 10 ms), next to one hand-written SQL query for the same row on a plain
  psycopg2 connection. tests/registry/test_scale.py checks with EXPLAIN that both use indexes.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _report import report  # noqa: E402

ROUNDS = 200

LATEST_VERSION_SQL = """
SELECT v.* FROM mlw_dataset_versions v JOIN mlw_datasets d ON d.id = v.dataset_id
WHERE d.workspace_id = %s AND d.name = %s ORDER BY v.version DESC LIMIT 1
"""
REUSE_HIT_SQL = """
SELECT * FROM mlw_runs WHERE workspace_id = %s AND reuse_key = %s AND status = 'Finished'
ORDER BY finished_at DESC LIMIT 5
"""


def timings(call: Callable[[], Any], rounds: int = ROUNDS) -> list[float]:
    call()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="mlw-bench-registry-"))
    os.environ["AIRFLOW_HOME"] = str(scratch / "airflow")
    import psycopg2

    from airflow_mlw.datasets import Dataset
    from airflow_mlw.execution.reuse import find_hit
    from airflow_mlw.workspace import Workspace
    from tests.registry.scale import DATASET, WORKSPACE, fill_registry, percentile, register_concurrently
    from tests.services import Postgres

    postgres = Postgres().start()
    try:
        url = postgres.create_database("registrations")
        outcomes = register_concurrently(url, scratch / "files", count=200, processes=10, threads=4)
        assert sorted(v for v, _ in outcomes) == list(range(1, 201)), "versions lost or duplicated"
        ws = Workspace.get(WORKSPACE, registry_url=url)
        alone = []
        for index in range(20):
            path = scratch / "files" / f"alone-{index}.txt"
            path.write_text(f"alone {index}\n")
            started = time.perf_counter()
            Dataset.File.from_files(str(path)).register(ws, DATASET, create_new_version=True)
            alone.append(time.perf_counter() - started)
        ws.store.dispose()
        seconds = [s for _, s in outcomes]
        p95, single = percentile(seconds, 0.95), statistics.median(alone)
        report(
            "200 concurrent dataset registrations (10 processes x 4 threads), p95 vs one alone",
            ms(p95),
            ms(single),
            p95 / single,
            "printed (versions 1..200, none lost)",
            line=f"200 concurrent registrations, PostgreSQL: versions 1..200, median {ms(statistics.median(seconds))}, "
            f"p95 {ms(p95)}; one registration alone {ms(single)}; p95 ratio {p95 / single:.1f}",
        )

        url = postgres.create_database("lookups")
        filled = fill_registry(Workspace.create(WORKSPACE, registry_url=url), scratch / "fill")
        ws = Workspace(workspace_name=WORKSPACE, registry_url=url)
        ws_id = ws._workspace_id()
        connection = psycopg2.connect(host="127.0.0.1", port=postgres.port, user="postgres", dbname="lookups")
        connection.autocommit = True
        cursor = connection.cursor()

        def plain(sql: str, *parameters: Any) -> Callable[[], Any]:
            return lambda: (cursor.execute(sql, parameters), cursor.fetchall())

        for figure, ours, baseline in (
            (
                f"get_by_name over {filled.versions} versions",
                timings(lambda: Dataset.get_by_name(ws, filled.dataset)),
                timings(plain(LATEST_VERSION_SQL, ws_id, filled.dataset)),
            ),
            (
                f"reuse lookup (find_hit) over {filled.step_runs:,} step runs",
                timings(lambda: find_hit(ws, filled.reuse_key)),
                timings(plain(REUSE_HIT_SQL, ws_id, filled.reuse_key)),
            ),
        ):
            o50, o95 = statistics.median(ours), percentile(ours, 0.95)
            b50 = statistics.median(baseline)
            report(
                f"{figure}, median (p95) vs hand-written SQL",
                f"{ms(o50)} ({ms(o95)})",
                ms(b50),
                o50 / b50,
                "p95 < 10 ms",
                line=f"{figure}: median {ms(o50)}, p95 {ms(o95)}; plain psycopg2 query {ms(b50)}, "
                f"ratio {o50 / b50:.1f} [p95 < 10 ms]",
            )
        connection.close()
        ws.store.dispose()
    finally:
        postgres.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
