"""A ParallelRunStep on the Celery stack of ``test_scale_out`` (PostgreSQL for Airflow's metadata
DB and the registry, Redis as broker, moto S3 as the default datastore; api-server, scheduler,
dag-processor and ``airflow celery worker`` processes with homes of their own): the DAG
``parallel_scale_out`` scores ``items`` files in mini-batches of 2 over ``node_count=2`` mapped
tasks, each ``run()`` holding ``hold`` seconds. Used by ``tests/test_parallel_scale_out.py`` and
``benchmarks/parallel_scale_out.py``."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.airflow_stack import AirflowStack, airflow_stack, celery_env, s3_registry_settings
from tests.stores import new_bucket

SCORE = """
import os, time

def run(mini_batch):
    marks = os.environ["MLW_TEST_MARKS"]
    first = os.path.basename(mini_batch[0])
    open(os.path.join(marks, f"{os.environ['MLW_TEST_WORKER']}-{os.getpid()}-{first}-{time.time()}"), "w").close()
    time.sleep(float(os.environ["MLW_TEST_HOLD"]))
    return [f"{os.path.basename(p)} {open(p).read()}" for p in mini_batch]
"""

DAG_FILE = """
from airflow_mlw.core import Dataset, Datastore, Environment, Workspace
from airflow_mlw.core.compute import ClusterCompute, ComputeTarget
from airflow_mlw.pipeline.steps import ParallelRunConfig, ParallelRunStep
from airflow_mlw.pipelines import OutputFileDatasetConfig, Pipeline

ws = Workspace.from_config()
cpu = ComputeTarget.declare(ws, "cpu-cluster", ClusterCompute.provisioning_configuration(queue="cpu", max_nodes=2))
items = Dataset.File.from_files((Datastore(ws, "s3data"), "items"), validate=False)
config = ParallelRunConfig(
    source_directory={src!r}, entry_script="score.py", mini_batch_size="2", error_threshold=0,
    output_action="append_row", environment=Environment("default"), compute_target=cpu,
    node_count=2, process_count_per_node=1, run_max_try=1,
)
step = ParallelRunStep("score", config, inputs=[items.as_named_input("items")], output=OutputFileDatasetConfig("scores"))
dag = Pipeline(ws, [step]).to_dag("parallel_scale_out")
"""


@contextlib.contextmanager
def parallel_stack(
    folder: Path,
    postgres: Any,
    redis_server: Any,
    s3_server: Any,
    setenv: Callable[[str, str], None],
    workers: list[str],
    items: int,
    hold: float,
) -> Iterator[tuple[Any, AirflowStack, Path]]:
    """(the client's workspace, the running stack, the folder of ``run()`` marks); ``workers``
    serve the ``cpu`` queue with one slot each, the first also the ``default`` queue (the
    pipeline's planning task)."""
    from airflow_mlw import Datastore
    from airflow_mlw.core import Workspace
    from airflow_mlw.core.compute import ClusterCompute, ComputeTarget

    meta_db = postgres.create_database(f"parallel_airflow_{folder.name}")
    registry = postgres.create_database(f"parallel_registry_{folder.name}")
    settings = s3_registry_settings(registry, s3_server)
    for key, value in {**settings, "AIRFLOW__MLW__HOME": str(folder / "client-home")}.items():
        setenv(key, value)
    ws = Workspace.from_config()
    Datastore.register_s3_bucket(ws, "s3data", new_bucket(s3_server), aws_conn_id="mlw_s3")
    ComputeTarget.create(
        ws, "cpu-cluster", ClusterCompute.provisioning_configuration(queue="cpu", max_nodes=2)
    )
    data = folder / "items"
    data.mkdir()
    for i in range(items):
        (data / f"{i:03d}.txt").write_text(str(i * i))
    Datastore(ws, "s3data").upload(str(data), "items", show_progress=False)
    src = folder / "code"
    src.mkdir()
    (src / "score.py").write_text(SCORE)
    dags = folder / "dags"
    dags.mkdir()
    (dags / "parallel_scale_out.py").write_text(DAG_FILE.format(src=str(src)))
    marks = folder / "marks"
    marks.mkdir()

    def worker(name: str, queues: str) -> dict[str, Any]:
        home = folder / "workers" / name
        env = {"AIRFLOW__MLW__HOME": str(home / "mlw-home"), "MLW_TEST_WORKER": name}
        return {
            "queues": queues,
            "cwd": home,
            "concurrency": 1,
            "env": {**env, "MLW_TEST_MARKS": str(marks), "MLW_TEST_HOLD": str(hold)},
        }

    env = celery_env(settings, meta_db, redis_server, folder / "server-home")
    specs = {name: worker(name, "cpu,default" if i == 0 else "cpu") for i, name in enumerate(workers)}
    with airflow_stack(dags, extra_env=env, workers=specs, parallelism=8) as stack:
        sync = subprocess.run(
            [str(Path(sys.executable).with_name("mlw")), "compute", "sync"],
            env=stack.env,
            capture_output=True,
            text=True,
        )
        assert sync.returncode == 0, sync.stderr
        stack.wait_for_dags(["parallel_scale_out"])
        yield ws, stack, marks
