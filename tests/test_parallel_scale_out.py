"""ParallelRunStep across two Celery workers, all real and on loopback (the stack of
``test_scale_out``: PostgreSQL, Redis, moto S3 as the default datastore, api-server, scheduler,
dag-processor, two ``airflow celery worker`` processes with their own homes): the mini-batch tasks
run on both workers; one worker is SIGKILLed mid-step, Airflow retries its task, the retry runs
only the mini-batches not committed yet, and the output holds every item exactly once, in order.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.airflow_stack import airflow_stack
from tests.stores import new_bucket

SCORE = """
import os, time

def run(mini_batch):
    marks = os.environ["MLW_TEST_MARKS"]
    first = os.path.basename(mini_batch[0])
    open(os.path.join(marks, f"{os.environ['MLW_TEST_WORKER']}-{os.getpid()}-{first}-{time.time()}"), "w").close()
    time.sleep(2)
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

ITEMS = 40


def test_mini_batches_on_two_workers_survive_a_sigkilled_worker(
    postgres: Any, redis_server: Any, s3_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_mlw import Datastore
    from airflow_mlw.core import Workspace
    from airflow_mlw.core.compute import ClusterCompute, ComputeTarget

    meta_db = postgres.create_database("parallel_airflow")
    registry = postgres.create_database("parallel_registry")
    s3_conn = json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": f"http://127.0.0.1:{s3_server.port}", "region_name": "us-east-1"},
        }
    )
    settings = {
        "AIRFLOW__MLW__REGISTRY_URL": registry,
        "AIRFLOW__MLW__DEFAULT_DATASTORE": "s3data",
        "AIRFLOW_CONN_MLW_S3": s3_conn,
    }
    for key, value in {**settings, "AIRFLOW__MLW__HOME": str(tmp_path / "client-home")}.items():
        monkeypatch.setenv(key, value)
    ws = Workspace.from_config()
    Datastore.register_s3_bucket(ws, "s3data", new_bucket(s3_server), aws_conn_id="mlw_s3")
    ComputeTarget.create(
        ws, "cpu-cluster", ClusterCompute.provisioning_configuration(queue="cpu", max_nodes=2)
    )
    data = tmp_path / "items"
    data.mkdir()
    for i in range(ITEMS):
        (data / f"{i:03d}.txt").write_text(str(i * i))
    Datastore(ws, "s3data").upload(str(data), "items", show_progress=False)
    src = tmp_path / "code"
    src.mkdir()
    (src / "score.py").write_text(SCORE)
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "parallel_scale_out.py").write_text(DAG_FILE.format(src=str(src)))
    marks = tmp_path / "marks"
    marks.mkdir()

    def worker(name: str, queues: str) -> dict[str, Any]:
        folder = tmp_path / "workers" / name
        env = {"AIRFLOW__MLW__HOME": str(folder / "mlw-home"), "MLW_TEST_WORKER": name}
        return {
            "queues": queues,
            "cwd": folder,
            "concurrency": 1,
            "env": {**env, "MLW_TEST_MARKS": str(marks)},
        }

    env = {
        **settings,
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta_db,
        "AIRFLOW__CELERY__BROKER_URL": redis_server.url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + meta_db.replace("+psycopg2", ""),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
        "AIRFLOW__MLW__HOME": str(tmp_path / "server-home"),
    }
    workers = {"w1": worker("w1", "cpu,default"), "w2": worker("w2", "cpu")}
    with airflow_stack(dags, extra_env=env, workers=workers, parallelism=8) as stack:
        try:
            killed_after, dag_run = _run_and_kill(stack, marks)
        except BaseException:  # the stack's home goes with it: keep its logs for the report
            shutil.copytree(stack.home, tmp_path / "airflow-home", ignore=shutil.ignore_patterns("*.db"))
            raise
    _check(ws, tmp_path, marks, dag_run, killed_after)


def _run_and_kill(stack: Any, marks: Path) -> tuple[int, str]:
    if True:
        sync = subprocess.run(
            [str(Path(sys.executable).with_name("mlw")), "compute", "sync"],
            env=stack.env,
            capture_output=True,
            text=True,
        )
        assert sync.returncode == 0, sync.stderr
        stack.wait_for_dags(["parallel_scale_out"])
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
