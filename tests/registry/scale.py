"""A registry under load, shared by tests/registry/test_scale.py and benchmarks/registry_scale.py.

- :func:`register_concurrently`: many processes, each with several threads, register new versions
  of one dataset name through the public API and report (version, seconds) per registration.
- :func:`fill_registry`: many dataset versions and step-run records, inserted in bulk through the
  registry models, plus one reusable step run whose output really exists on the local datastore.
- :func:`issued_selects` and :func:`query_plans`: the SELECTs a lookup sends, and their plans
  (PostgreSQL ``EXPLAIN``, SQLite ``EXPLAIN QUERY PLAN``).
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORKSPACE = "scale"
DATASET = "scale_files"


def _register_in_process(
    url: str, root: str, indices: list[int], threads: int, start: Any, results: Any
) -> None:
    try:
        results.put(_register_batch(url, Path(root), indices, threads, start))
    except BaseException as exc:
        results.put(f"{type(exc).__name__}: {exc}")
        raise


def _register_batch(
    url: str, root: Path, indices: list[int], threads: int, start: Any
) -> list[tuple[int, float]]:
    from airflow_mlw.datasets import Dataset
    from airflow_mlw.workspace import Workspace

    ws = Workspace.get(WORKSPACE, registry_url=url)  # opens (and checks the migrations of) the registry
    paths = []
    for index in indices:
        path = root / f"part-{index:04d}.txt"
        path.write_text(f"registration {index}\n")
        paths.append(path)
    start.wait(timeout=300)

    def register(path: Path) -> tuple[int, float]:
        began = time.perf_counter()
        version = Dataset.File.from_files(str(path)).register(ws, DATASET, create_new_version=True).version
        return int(version), time.perf_counter() - began

    try:
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(register, paths))
    finally:
        ws.store.dispose()


def register_concurrently(
    url: str, root: Path, count: int = 200, processes: int = 10, threads: int = 4
) -> list[tuple[int, float]]:
    """``count`` registrations of new versions of :data:`DATASET`, all released at once.

    Creates workspace :data:`WORKSPACE`; returns ``(version, seconds)`` per registration.
    """
    from airflow_mlw.workspace import Workspace

    Workspace.create(WORKSPACE, registry_url=url).store.dispose()
    root.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(
            target=_register_in_process,
            args=(url, str(root), list(range(p, count, processes)), threads, start, results),
        )
        for p in range(processes)
    ]
    for worker in workers:
        worker.start()
    outcomes: list[tuple[int, float]] = []
    try:
        for _ in workers:
            batch = results.get(timeout=600)
            if isinstance(batch, str):
                raise RuntimeError(f"a registering process failed: {batch}")
            outcomes.extend(batch)
    finally:
        for worker in workers:
            worker.join(timeout=60)
    return outcomes


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` 0.95 for p95)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))]


def _digest(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


@dataclass
class FilledRegistry:
    workspace: Any
    dataset: str
    versions: int
    step_runs: int
    reuse_key: str
    #: The run that computed ``reuse_key``; the others with that key reused it.
    computed_run_id: str
    step_name: str
    dag_id: str


def fill_registry(
    workspace: Any,
    tmp: Path,
    versions: int = 1000,
    step_runs: int = 10_000,
    other_datasets: int = 200,
    runs_per_key: int = 4,
) -> FilledRegistry:
    """``versions`` versions of one dataset (among ``other_datasets`` others) and ``step_runs`` step runs.

    Step runs come in groups of ``runs_per_key`` sharing a reuse key (one computed it, the others
    reused it) over 50 step names and 20 DAGs; every finished run's output record points at one
    output committed on the workspace's default datastore, so :func:`find_hit` checks a real output.
    """
    from sqlalchemy import insert, select

    from airflow_mlw.execution.outputs import commit_output
    from airflow_mlw.registry.rows import DatasetRow, DatasetVersionRow, RunRow, new_id, utcnow

    ws_id = workspace._workspace_id()
    staging = tmp / "staging" / "model"
    staging.mkdir(parents=True)
    (staging / "model.pkl").write_bytes(b"weights" * 100)
    output = commit_output(
        workspace,
        {"name": "model", "datastore": None},
        staging,
        "mlw/runs/scale/run/train/model",
        {"dag_id": "scale", "run_id": "run", "step": "train"},
    )
    name = "big_dataset"
    now = utcnow()
    with workspace.store.session(write=True) as session:
        names = [name] + [f"other_{i:04d}" for i in range(other_datasets)]
        session.execute(
            insert(DatasetRow),
            [{"workspace_id": ws_id, "name": n, "kind": "file", "created_at": now} for n in names],
        )
        ids = {
            dataset_name: dataset_id
            for dataset_name, dataset_id in session.execute(
                select(DatasetRow.name, DatasetRow.id).where(DatasetRow.workspace_id == ws_id)
            )
        }
        rows = [(ids[name], v) for v in range(1, versions + 1)]
        rows += [(ids[n], 1) for n in names[1:]]
        session.execute(
            insert(DatasetVersionRow),
            [
                {
                    "id": new_id(),
                    "dataset_id": dataset_id,
                    "version": version,
                    "definition": {
                        "sources": [{"path": f"/data/{dataset_id}/{version}.csv"}],
                        "format": None,
                    },
                    "fingerprint": _digest("dataset", dataset_id, version),
                    "tags": {},
                    "snapshot": False,
                    "created_at": now,
                }
                for dataset_id, version in rows
            ],
        )
        run_rows = []
        computed = ""
        for index in range(step_runs):
            group = index // runs_per_key
            first = index % runs_per_key == 0
            run_id = new_id()
            if first:
                computed = run_id
            step = f"step_{group % 50:02d}"
            run_rows.append(
                {
                    "id": run_id,
                    "workspace_id": ws_id,
                    "kind": "step",
                    "experiment_name": "scale",
                    "name": step,
                    "dag_id": f"dag_{group % 20:02d}",
                    "dag_run_id": f"run_{index // 200:03d}",
                    "task_id": step,
                    "status": "Finished",
                    "reuse_key": _digest("key", group),
                    "key_document": {"script": f"{step}.py", "arguments": [group]},
                    "reused_from_id": None if first else computed,
                    "outputs": {"model": output},
                    "tags": {},
                    "properties": {},
                    "created_at": now,
                    "started_at": now,
                    "finished_at": now,
                }
            )
        session.execute(insert(RunRow), run_rows)
    middle = run_rows[(step_runs // 2 // runs_per_key) * runs_per_key]
    with workspace.store.engine.begin() as connection:  # planner statistics, as autovacuum would gather
        connection.exec_driver_sql("ANALYZE")
    return FilledRegistry(
        workspace=workspace,
        dataset=name,
        versions=versions,
        step_runs=step_runs,
        reuse_key=middle["reuse_key"],
        computed_run_id=middle["id"],
        step_name=middle["name"],
        dag_id=middle["dag_id"],
    )


@contextlib.contextmanager
def issued_selects(engine: Any) -> Iterator[list[tuple[str, Any]]]:
    """Collect ``(statement, parameters)`` of every SELECT sent on ``engine`` inside the block."""
    from sqlalchemy import event

    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def query_plans(engine: Any, statements: list[tuple[str, Any]], seqscan: bool = True) -> list[str]:
    """One plan text per statement: ``EXPLAIN`` on PostgreSQL, ``EXPLAIN QUERY PLAN`` on SQLite.

    :param seqscan: ``False`` runs PostgreSQL's planner with ``enable_seqscan = off``, so a table
        with too few rows to bother still shows whether an index *can* serve the query
    """
    plans = []
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as connection:
        if postgres and not seqscan:
            connection.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in statements:
            prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
            rows = connection.exec_driver_sql(prefix + statement, parameters).all()
            plans.append("\n".join(str(row[0] if postgres else row[-1]) for row in rows))
        connection.rollback()
    return plans
