"""Issue 17 figures.

1. ParallelRunStep scoring 20,000 small files with a trivial ``run()`` (100 files a mini-batch,
   ``process_count_per_node`` = cores) vs a plain ``multiprocessing.Pool`` of as many processes
   over the same files in the same chunks (target: throughput >= 0.8x): end to end (an in-process
   pipeline run: plan, mapped task, gather; input materialised, batches keyed, committed, output
   committed), and the driver alone (its own "N item(s) in X s" line: workers started, every
   batch keyed, run and committed) against the pool (start, read every file, stop).
2. The plan and gather tasks' time for 1,000 mini-batches vs for 10 (Airflow's task durations).

Reuse is off (``allow_reuse=False`` and a fresh salt each round) so everything really runs.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

from _report import report

FILES = int(os.environ.get("MLW_BENCH_PARALLEL_FILES", "20000"))
BATCH = 100
ROUNDS = 3
ENTRY = """
import os

def run(mini_batch):
    return [f"{os.path.basename(p)}: {len(open(p).read())}" for p in mini_batch]
"""


def score(batch: list[str]) -> list[str]:
    return [f"{os.path.basename(p)}: {len(open(p).read())}" for p in batch]


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="mlw-bench-parallel-"))
    items = scratch / "store" / "items"
    items.mkdir(parents=True)
    for i in range(FILES):
        (items / f"{i:06d}.txt").write_text(str(i))
    cores = os.cpu_count() or 1
    paths = sorted(str(p) for p in items.iterdir())
    chunks = [paths[i : i + BATCH] for i in range(0, len(paths), BATCH)]
    # The pool first: forking after Airflow has started threads can deadlock the children.
    plain = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        with multiprocessing.get_context("fork").Pool(cores) as pool:
            lines = [line for part in pool.map(score, chunks) for line in part]
        plain.append(time.perf_counter() - t)
        assert len(lines) == FILES

    os.environ.setdefault("AIRFLOW_HOME", str(scratch / "airflow"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    from airflow_mlw.core import Dataset, Datastore, Environment, Experiment, Workspace
    from airflow_mlw.pipeline.core import Pipeline
    from airflow_mlw.pipeline.steps import ParallelRunConfig, ParallelRunStep
    from airflow_mlw.pipelines import OutputFileDatasetConfig

    scripts = scratch / "scripts"
    scripts.mkdir()
    (scripts / "trivial.py").write_text(ENTRY)
    ws = Workspace.create("bench", registry_url=f"sqlite:///{scratch / 'registry.db'}")
    store = Datastore.register_local(ws, "bench_store", scratch / "store")
    files = Dataset.File.from_files((store, "items")).register(ws, "items")
    config = ParallelRunConfig(
        source_directory=str(scripts),
        entry_script="trivial.py",
        mini_batch_size=str(BATCH),
        error_threshold=0,
        output_action="append_row",
        environment=Environment("default"),
        compute_target="local",
        process_count_per_node=cores,
    )
    step = ParallelRunStep(
        "trivial",
        config,
        inputs=[files.as_named_input("items")],
        output=OutputFileDatasetConfig("scores"),
        allow_reuse=False,
    )
    pipeline = Pipeline(ws, [step])
    ours, driver = [], []
    for round_ in range(ROUNDS):
        (scripts / "round.txt").write_text(str(round_))  # a new source tree: no batch is reused
        t = time.perf_counter()
        run = Experiment(ws, "bench").submit(pipeline)
        ours.append(time.perf_counter() - t)
        assert run.get_status() == "Finished", run.get_status()
        driver.append(driver_seconds(run.find_step_run("trivial")[0]))
        print("task durations (s):", {k: round(v, 2) for k, v in task_durations(run).items()})
    step_time, pool_time, driver_time = (
        statistics.median(ours),
        statistics.median(plain),
        statistics.median(driver),
    )
    report(
        f"ParallelRunStep throughput over {FILES} files vs multiprocessing.Pool ({cores} processes), end to end",
        f"{FILES / step_time:.0f} files/s ({step_time:.1f} s end to end)",
        f"{FILES / pool_time:.0f} files/s ({pool_time:.1f} s)",
        pool_time / step_time,
        ">= 0.8 (throughput ratio)",
    )
    report(
        f"ParallelRunStep driver alone over {FILES} files vs multiprocessing.Pool ({cores} processes)",
        f"{FILES / driver_time:.0f} files/s ({driver_time:.2f} s)",
        f"{FILES / pool_time:.0f} files/s ({pool_time:.2f} s)",
        pool_time / driver_time,
        ">= 0.8 (throughput ratio)",
    )
    overhead = {}
    for batches in (10, 1000):
        folder = scratch / "store" / f"few-{batches}"
        folder.mkdir()
        for i in range(batches):
            (folder / f"{i:05d}.txt").write_text(str(i))
        few = Dataset.File.from_files((store, f"few-{batches}"))
        one_each = ParallelRunConfig(
            source_directory=str(scripts),
            entry_script="trivial.py",
            mini_batch_size="1",
            error_threshold=0,
            output_action="append_row",
            environment=Environment("default"),
            compute_target="local",
            process_count_per_node=cores,
        )
        name = f"batches{batches}"
        step = ParallelRunStep(
            name, one_each, inputs=[few.as_named_input("items")], output=OutputFileDatasetConfig("o")
        )
        run = Experiment(ws, "bench").submit(Pipeline(ws, [step]))
        assert run.get_status() == "Finished", run.get_status()
        durations = task_durations(run)
        overhead[batches] = durations[f"{name}__plan"] + durations[name]
    report(
        "ParallelRunStep plan + gather tasks, 1,000 mini-batches vs 10",
        f"{overhead[1000]:.2f} s",
        f"{overhead[10]:.2f} s",
        overhead[1000] / overhead[10],
        "reported (the per-batch part of planning and gathering)",
    )


def driver_seconds(step_run: object) -> float:
    """The driver's own time, from its log line ``N item(s) in X s`` (the slowest mapped task)."""
    import re

    text = step_run.driver_output()  # type: ignore[attr-defined]
    found = [float(m) for m in re.findall(r"item\(s\) in ([0-9.]+) s", text)]
    assert found, text[-2000:]
    return max(found)


def task_durations(run: object) -> dict[str, float]:
    """Airflow's duration of each task of the pipeline run's DAG run."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    row = run._row()  # type: ignore[attr-defined]
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=row.dag_id, run_id=row.dag_run_id).all()
        return {ti.task_id: float(ti.duration or 0.0) for ti in tis}


if __name__ == "__main__":
    main()
