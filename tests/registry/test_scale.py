"""The registry at scale: 200 concurrent registrations from many processes on PostgreSQL, and
index-backed lookups over 1,000 dataset versions and 10,000 step runs (plans checked with EXPLAIN).

Timings are printed, never asserted (the machine is shared); benchmarks/registry_scale.py holds
the figures against their < 10 ms target.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_mlw.datasets import Dataset
from airflow_mlw.execution.reuse import find_hit, last_run_of_step
from airflow_mlw.workspace import Workspace
from tests.registry.scale import (
    DATASET,
    fill_registry,
    issued_selects,
    percentile,
    query_plans,
    register_concurrently,
)

#: Tables that grow with use; lookups on them must use an index even when the planner may choose.
BIG_TABLES = ("mlw_dataset_versions", "mlw_runs")


def test_200_concurrent_registrations_from_10_processes_get_versions_1_to_200(
    postgres_url: str, tmp_path: Path
) -> None:
    outcomes = register_concurrently(postgres_url, tmp_path / "files", count=200, processes=10, threads=4)
    versions = sorted(version for version, _ in outcomes)
    assert versions == list(range(1, 201))
    ws = Workspace.get("scale", registry_url=postgres_url)
    registered = Dataset.get_by_name(ws, DATASET)
    assert registered.version == 200
    assert registered.versions == list(range(1, 201))
    fingerprints = {Dataset.get_by_name(ws, DATASET, version=v).fingerprint for v in (1, 100, 200)}
    assert len(fingerprints) == 3
    ws.store.dispose()
    seconds = [elapsed for _, elapsed in outcomes]
    print(
        f"\n200 concurrent registrations (10 processes x 4 threads, PostgreSQL): "
        f"median {statistics.median(seconds) * 1000:.0f} ms, p95 {percentile(seconds, 0.95) * 1000:.0f} ms"
    )


def _plans_use_indexes(engine: Any, statements: list[tuple[str, Any]]) -> list[str]:
    """Check every plan; return the planner's own choices (statistics gathered, seq scans allowed)."""
    chosen = query_plans(engine, statements)
    if engine.dialect.name == "sqlite":
        for plan in chosen:
            accesses = [line for line in plan.splitlines() if re.match(r"(SEARCH|SCAN) ", line)]
            assert accesses and all(re.match(r"SEARCH \w+ USING (COVERING )?INDEX ", a) for a in accesses), (
                plan
            )
        return chosen
    for plan in chosen:
        assert not re.search(rf"Seq Scan on ({'|'.join(BIG_TABLES)})\b", plan), plan
    # Small tables are cheaper to scan, so the planner may; forbidding it shows an index exists.
    for plan in query_plans(engine, statements, seqscan=False):
        assert "Seq Scan" not in plan and re.search(r"Index (Only )?Scan", plan), plan
    return chosen


def _median_ms(call: Callable[[], Any], rounds: int = 30) -> float:
    call()
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def test_get_by_name_and_reuse_lookup_use_indexes_over_1000_versions_and_10000_step_runs(
    registry_url: str, tmp_path: Path
) -> None:
    filled = fill_registry(Workspace.create("scale", registry_url=registry_url), tmp_path)
    ws = Workspace(workspace_name="scale", registry_url=registry_url)  # looks its own id up again
    engine = ws.store.engine
    postgres = engine.dialect.name == "postgresql"

    with issued_selects(engine) as by_name:
        latest = Dataset.get_by_name(ws, filled.dataset)
        version = latest.version  # get_by_name reads when the dataset is first used
    assert version == filled.versions == 1000
    plans = _plans_use_indexes(engine, by_name)
    tables = ["mlw_workspaces", "mlw_datasets", "mlw_dataset_versions"]
    assert [next(t for t in tables if f" {t} " in f" {plan} ") for plan in plans] == tables
    if postgres:
        assert "Index Scan Backward using uq_mlw_dataset_versions_dataset_id_version" in plans[2]
    else:
        assert re.search(r"SEARCH mlw_dataset_versions USING INDEX \w+ \(dataset_id=\?\)", plans[2])

    with issued_selects(engine) as reuse_lookup:
        hit = find_hit(ws, filled.reuse_key)
        previous = last_run_of_step(ws, filled.step_name, filled.dag_id, exclude="none")
    assert hit is not None and hit.reused_from_id == filled.computed_run_id
    assert previous is not None and previous["script"] == f"{filled.step_name}.py"
    plans = _plans_use_indexes(engine, reuse_lookup)
    assert "ix_mlw_runs_workspace_id_reuse_key_status" in plans[0]
    assert "ix_mlw_runs_workspace_id_name_finished_at" in plans[-1]

    by_name_ms = _median_ms(lambda: Dataset.get_by_name(ws, filled.dataset).version)
    hit_ms = _median_ms(lambda: find_hit(ws, filled.reuse_key))
    print(
        f"\n{engine.dialect.name}: get_by_name over {filled.versions} versions {by_name_ms:.2f} ms, "
        f"find_hit over {filled.step_runs} step runs {hit_ms:.2f} ms (medians)"
    )
    ws.store.dispose()
