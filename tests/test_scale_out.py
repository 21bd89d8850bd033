"""Scale-out on Airflow's own distributed engine, all real and on loopback: PostgreSQL (Airflow's
metadata DB and the registry, separate databases), Redis as Celery broker, moto S3 as the default
datastore, api-server + scheduler + dag-processor, and two ``airflow celery worker`` processes on
different queues, each with its own working folder, temp folder and mlw home (so the built-in local
datastore of one is invisible to the other: data can only cross through S3).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.airflow_stack import airflow_stack, celery_env, s3_registry_settings
from tests.stores import new_bucket, s3_client

STEP = """
import os, sys, time
from airflow_mlw.core import Run
t0 = time.time()
name, out = sys.argv[1], sys.argv[2]
text = name
for folder in sys.argv[3:]:
    text += "+" + open(os.path.join(folder, "data.txt")).read()
if os.path.exists(os.environ["MLW_TEST_MARKS"]) and name == "train_a":
    open(os.path.join(os.environ["MLW_TEST_MARKS"], "train_a.started"), "w").write(str(os.getpid()))
    time.sleep(float(os.environ.get("MLW_TEST_HOLD", "0")))
time.sleep(2)
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "data.txt"), "w").write(text)
run = Run.get_context()
run.log("worker", os.environ["MLW_TEST_WORKER"])
run.log("t0", t0)
run.log("t1", time.time())
"""

DAG_FILE = """
from datetime import timedelta

from airflow_mlw.core import Workspace
from airflow_mlw.core.compute import ClusterCompute, ComputeTarget
from airflow_mlw.pipelines import Pipeline, PipelineData, PythonScriptStep

SRC = {src!r}
ws = Workspace.from_config()
cpu = ComputeTarget.declare(ws, "cpu-cluster", ClusterCompute.provisioning_configuration(queue="cpu", max_nodes=1))
gpu = ComputeTarget.declare(ws, "gpu-cluster", ClusterCompute.provisioning_configuration(queue="gpu", max_nodes=2))


def step(name, target, inputs=()):
    out = PipelineData(name + "_out")
    return PythonScriptStep(
        "step.py", name=name, source_directory=SRC, compute_target=target,
        arguments=[name, out, *inputs], inputs=list(inputs), outputs=[out],
    ), out


prep, prepped = step("prep", cpu)
train_a, model_a = step("train_a", gpu, [prepped])
model_a.as_dataset().register("model-a")
train_b, model_b = step("train_b", gpu, [prepped])
eval_x, _ = step("eval_x", cpu, [model_a, model_b])
eval_y, _ = step("eval_y", cpu, [model_a, model_b])
dag = Pipeline(ws, [eval_x, eval_y]).to_dag(
    "scale_out", default_args={{"retries": 2, "retry_delay": timedelta(seconds=1)}}
)
"""


def _steps(ws: Any, dag_run_id: str) -> dict[str, Any]:
    from airflow_mlw.execution.records import pipeline_run_id
    from airflow_mlw.runs.pipeline_run import PipelineRun

    return {s.name: s for s in PipelineRun(ws, pipeline_run_id(ws, "scale_out", dag_run_id)).get_steps()}


def test_pipeline_over_two_celery_queues(
    postgres: Any, redis_server: Any, s3_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_mlw import Datastore
    from airflow_mlw.core import Dataset, Workspace
    from airflow_mlw.core.compute import ClusterCompute, ComputeTarget

    meta_db = postgres.create_database("scale_out_airflow")
    registry = postgres.create_database("scale_out_registry")
    settings = s3_registry_settings(registry, s3_server)
    for key, value in {**settings, "AIRFLOW__MLW__HOME": str(tmp_path / "client-home")}.items():
        monkeypatch.setenv(key, value)
    ws = Workspace.from_config()
    bucket = new_bucket(s3_server)
    Datastore.register_s3_bucket(ws, "s3data", bucket, aws_conn_id="mlw_s3")
    ComputeTarget.create(
        ws, "cpu-cluster", ClusterCompute.provisioning_configuration(queue="cpu", max_nodes=1)
    )
    ComputeTarget.create(
        ws, "gpu-cluster", ClusterCompute.provisioning_configuration(queue="gpu", max_nodes=2)
    )
    src = tmp_path / "code"
    src.mkdir()
    (src / "step.py").write_text(STEP)
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "scale_out.py").write_text(DAG_FILE.format(src=str(src)))
    marks = tmp_path / "marks"

    def worker(name: str, queue: str) -> dict[str, Any]:
        folder = tmp_path / "workers" / name
        env = {"AIRFLOW__MLW__HOME": str(folder / "mlw-home"), "MLW_TEST_WORKER": name}
        return {
            "queues": queue,
            "cwd": folder,
            "concurrency": 2,
            "env": {**env, "MLW_TEST_MARKS": str(marks)},
        }

    env = celery_env(settings, meta_db, redis_server, tmp_path / "server-home")
    workers = {"cpu-worker": worker("cpu-worker", "cpu"), "gpu-worker": worker("gpu-worker", "gpu")}
    with airflow_stack(dags, extra_env=env, workers=workers, parallelism=8) as stack:
        synced = stack.airflow("pools", "list", "-o", "json")
        assert synced.returncode == 0, synced.stderr
        sync = __import__("subprocess").run(
            [str(Path(__import__("sys").executable).with_name("mlw")), "compute", "sync"],
            env=stack.env,
            capture_output=True,
            text=True,
        )
        assert sync.returncode == 0, sync.stderr
        stack.wait_for_dags(["scale_out"])

        first = stack.trigger("scale_out")
        assert stack.wait("scale_out", first, timeout=180)["state"] == "success", stack.log_tails()
        steps = _steps(ws, first)
        assert set(steps) == {"prep", "train_a", "train_b", "eval_x", "eval_y"}
        metrics = {name: step.get_metrics() for name, step in steps.items()}
        # Each step ran on the worker of its cluster's queue.
        assert {n: m["worker"] for n, m in metrics.items()} == {
            "prep": "cpu-worker",
            "train_a": "gpu-worker",
            "train_b": "gpu-worker",
            "eval_x": "cpu-worker",
            "eval_y": "cpu-worker",
        }
        # The cpu cluster has one node: its two independent evaluations never overlapped.
        x, y = metrics["eval_x"], metrics["eval_y"]
        assert x["t1"] <= y["t0"] or y["t1"] <= x["t0"], (x, y)
        # Data crossed workers through S3: the evaluations read both models from the S3 datastore.
        inputs = steps["eval_x"]._row().properties["inputs"]
        assert {record["datastore"] for record in inputs.values()} == {"s3data"}, inputs
        keys = [o["Key"] for o in s3_client(s3_server).list_objects_v2(Bucket=bucket)["Contents"]]
        assert any("/scale_out/" in key and key.endswith("data.txt") for key in keys)
        out = Path(steps["eval_y"].get_output_data("eval_y_out").download(str(tmp_path / "got")))
        assert (out / "data.txt").read_text() == "eval_y+train_a+prep+train_b+prep"

        # A second run reuses every step.
        second = stack.trigger("scale_out")
        assert stack.wait("scale_out", second)["state"] == "success"
        assert all(step.is_reused for step in _steps(ws, second).values())

        # Worker loss: kill the gpu worker (and its task processes) while train_a runs; restart it.
        marks.mkdir()
        stack.workers["gpu-worker"]["env"]["MLW_TEST_HOLD"] = "30"
        stack.kill_worker("gpu-worker")
        stack.start_worker("gpu-worker")
        third = stack.trigger("scale_out", conf=json.dumps({"regenerate_outputs": True}))
        deadline = time.monotonic() + 240
        while not (marks / "train_a.started").exists():
            assert time.monotonic() < deadline, "train_a never started"
            time.sleep(0.5)
        stack.kill_worker("gpu-worker")
        (marks / "train_a.started").unlink()
        stack.workers["gpu-worker"]["env"]["MLW_TEST_HOLD"] = "0"
        stack.start_worker("gpu-worker")
        assert stack.wait("scale_out", third, timeout=400)["state"] == "success"
        steps = _steps(ws, third)
        assert not any(step.is_reused for step in steps.values())
        # The retried step's output is complete; the dataset has one whole version per run that made it.
        model = Path(steps["train_a"].get_output_data("train_a_out").download(str(tmp_path / "got3")))
        assert (model / "data.txt").read_text() == "train_a+prep"
        latest = Dataset.get_by_name(ws, "model-a")
        for version in latest.versions:  # identical content: one version; any version is whole
            files = Dataset.get_by_name(ws, "model-a", version=version).to_path()
            assert [f.rsplit("/", 1)[-1] for f in files] == ["data.txt"]
