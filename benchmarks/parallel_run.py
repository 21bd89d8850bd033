"""Issue 17 figure: ParallelRunStep scoring 20,000 small files with a trivial ``run()`` (100 files a
mini-batch, ``process_count_per_node`` = cores) vs a plain ``multiprocessing.Pool`` of as many
processes over the same files in the same chunks (target: throughput >= 0.8x). The step is timed
end to end (an in-process pipeline run: DAG run, input materialised, driver, output committed),
and so is the pool (start, read every file, stop). Allow_reuse is off so both really run.
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
    ours = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        run = Experiment(ws, "bench").submit(pipeline)
        ours.append(time.perf_counter() - t)
        assert run.get_status() == "Finished", run.get_status()
    step_time, pool_time = statistics.median(ours), statistics.median(plain)
    report(
        f"ParallelRunStep throughput over {FILES} files vs multiprocessing.Pool ({cores} processes)",
        f"{FILES / step_time:.0f} files/s ({step_time:.1f} s end to end)",
        f"{FILES / pool_time:.0f} files/s ({pool_time:.1f} s)",
        pool_time / step_time,
        ">= 0.8 (throughput ratio)",
    )


if __name__ == "__main__":
    main()
