"""A HyperDriveStep on the Celery stack of the scale-out test (PostgreSQL registry and metadata DB,
Redis, S3 default datastore, two workers on the cluster's queue, one on the default queue for the
sweep's own task): each trial is a DAG run of the step's trial DAG, on the cluster's queue and
pool, the best trial's model goes downstream, a sweep whose worker is lost goes on from the
trials it recorded when its task is retried, and a client's ``experiment.submit(hd_config)``
(``[mlw] api_url``) runs the sweep on the deployment."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.airflow_stack import airflow_stack, celery_env, s3_registry_settings
from tests.stores import new_bucket
from tests.train.scripts import SKLEARN_TRAIN
from tests.train.test_hyperdrive_step import REGISTER

TRAIN = (
    "import os, time\n_t0 = time.time()\n"
    "if os.path.exists(os.environ['MLW_TEST_SLOW']):\n    time.sleep(4)\n"
    + SKLEARN_TRAIN
    + "run.log('worker', os.environ['MLW_TEST_WORKER'])\nrun.log('t0', _t0)\nrun.log('t1', time.time())\n"
)

DAG_FILE = """
from datetime import timedelta

from airflow_mlw.core import ScriptRunConfig, Workspace
from airflow_mlw.core.compute import ClusterCompute, ComputeTarget
from airflow_mlw.pipeline.core import Pipeline, PipelineData, TrainingOutput
from airflow_mlw.pipeline.steps import HyperDriveStep, PythonScriptStep
from airflow_mlw.train.hyperdrive import GridParameterSampling, HyperDriveConfig, PrimaryMetricGoal, choice

SRC = {src!r}
ws = Workspace.from_config()
cluster = ComputeTarget.declare(ws, "cpu-cluster", ClusterCompute.provisioning_configuration(queue="cpu", max_nodes=2))
config = HyperDriveConfig(
    run_config=ScriptRunConfig(SRC, "train.py", compute_target=cluster),
    hyperparameter_sampling=GridParameterSampling({{"--reg": choice(0.01, 0.1, 10.0, 100.0)}}),
    primary_metric_name="AUC",
    primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
    max_concurrent_runs=3,
)
model = PipelineData("best_model", training_output=TrainingOutput("Model", model_file="outputs/model.pkl"))
metrics = PipelineData("metrics_output", training_output=TrainingOutput("Metrics"))
tune = HyperDriveStep("tune", config, outputs=[model], metrics_output=metrics)
register = PythonScriptStep(
    "register.py", arguments=["--model", model, "--metrics", metrics], inputs=[model, metrics],
    source_directory=SRC, compute_target=cluster,
)
dag = Pipeline(ws, [tune, register]).to_dag(
    "hd_scale_out", default_args={{"retries": 2, "retry_delay": timedelta(seconds=1)}}
)
"""


def test_hyperdrive_step_trials_run_as_airflow_tasks_on_both_workers(
    postgres: Any, redis_server: Any, s3_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_mlw import Datastore
    from airflow_mlw.core import Experiment, Model, ScriptRunConfig, Workspace
    from airflow_mlw.core.compute import ClusterCompute, ComputeTarget
    from airflow_mlw.execution.records import pipeline_run_id
    from airflow_mlw.pipeline.steps import HyperDriveStepRun
    from airflow_mlw.runs.pipeline_run import PipelineRun
    from airflow_mlw.train.hyperdrive import (
        GridParameterSampling,
        HyperDriveConfig,
        PrimaryMetricGoal,
        choice,
    )

    meta_db = postgres.create_database("hd_scale_out_airflow")
    registry = postgres.create_database("hd_scale_out_registry")
    settings = s3_registry_settings(registry, s3_server)
    dags = tmp_path / "dags"
    client_settings = {
        "AIRFLOW__MLW__HOME": str(tmp_path / "client-home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
    }
    for key, value in {**settings, **client_settings}.items():
        monkeypatch.setenv(key, value)
    ws = Workspace.from_config()
    Datastore.register_s3_bucket(ws, "s3data", new_bucket(s3_server), aws_conn_id="mlw_s3")
    ComputeTarget.create(
        ws, "cpu-cluster", ClusterCompute.provisioning_configuration(queue="cpu", max_nodes=2)
    )
    src = tmp_path / "code"
    src.mkdir()
    (src / "train.py").write_text(TRAIN)
    (src / "register.py").write_text(REGISTER)
    dags.mkdir()
    (dags / "hd_scale_out.py").write_text(DAG_FILE.format(src=str(src)))

    slow = tmp_path / "slow"

    def worker(name: str, queue: str = "cpu") -> dict[str, Any]:
        folder = tmp_path / "workers" / name
        env = {
            "AIRFLOW__MLW__HOME": str(folder / "mlw-home"),
            "MLW_TEST_WORKER": name,
            "MLW_TEST_SLOW": str(slow),
        }
        return {"queues": queue, "cwd": folder, "concurrency": 2, "env": env}

    env = celery_env(settings, meta_db, redis_server, tmp_path / "server-home")
    workers = {
        "worker-a": worker("worker-a"),
        "worker-b": worker("worker-b"),
        "sweeps": worker("sweeps", "default"),
    }
    with airflow_stack(dags, extra_env=env, workers=workers, parallelism=8) as stack:
        sync = subprocess.run(
            [str(Path(sys.executable).with_name("mlw")), "compute", "sync"],
            env=stack.env,
            capture_output=True,
            text=True,
        )
        assert sync.returncode == 0, sync.stderr
        stack.wait_for_dags(["hd_scale_out", "hd_scale_out.tune.trials"])
        run_id = stack.trigger("hd_scale_out")
        assert stack.wait("hd_scale_out", run_id, timeout=400)["state"] == "success", stack.log_tails(60)

        pipeline_run = PipelineRun(ws, pipeline_run_id(ws, "hd_scale_out", run_id))
        (tune,) = pipeline_run.find_step_run("tune")
        sweep = HyperDriveStepRun(step_run=tune)
        trials = sweep.get_children()
        assert len(trials) == 4 and {t.get_status() for t in trials} == {"Finished"}
        metrics = sweep.get_metrics()
        # Every trial was a DAG run of the trial DAG (visible in the Airflow UI), placed by Airflow.
        for trial in trials:
            row = trial._row()
            assert row.dag_id == "hd_scale_out.tune.trials"
            assert stack.run_state(row.dag_id, row.dag_run_id)["state"] == "success"
        assert {m["worker"] for m in metrics.values()} == {"worker-a", "worker-b"}
        # max_concurrent_runs=3 but the cluster has 2 nodes (pool slots): never more than 2 at once.
        spans = sorted((m["t0"], m["t1"]) for m in metrics.values())
        for start, _ in spans:
            assert sum(1 for s, e in spans if s <= start < e) <= 2, spans
        best = sweep.get_best_run_by_primary_metric()
        assert best is not None and metrics[best.id]["AUC"] == max(m["AUC"] for m in metrics.values())
        (register,) = pipeline_run.find_step_run("register.py")
        assert register.get_metrics()["trials"] == 4
        model = Model(ws, "swept")
        best_file = Path(best.download_file("outputs/model.pkl", str(tmp_path / "best.pkl")))
        assert Path(model.download(str(tmp_path / "registered"))).read_bytes() == best_file.read_bytes()

        # The sweep's worker is lost mid-sweep: the retried task goes on from the recorded trials.
        slow.touch()
        again = stack.trigger("hd_scale_out", conf=json.dumps({"regenerate_outputs": True}))
        deadline = time.monotonic() + 240
        while not any(r["status"] == "Finished" for r in recorded(ws, again).values()):
            assert time.monotonic() < deadline, "no trial of the second sweep finished"
            time.sleep(0.3)
        before = recorded(ws, again)
        stack.kill_worker("sweeps")
        stack.start_worker("sweeps")
        assert stack.wait("hd_scale_out", again, timeout=400)["state"] == "success", stack.log_tails(60)
        attempts = tune_rows(ws, again)
        assert [row.status for row in attempts] == ["Failed", "Finished"]
        assert attempts[0].properties["error"] == f"the sweep went on in {attempts[1].id}"
        resumed = HyperDriveStepRun(workspace=ws, run_id=attempts[1].id).get_children()
        # Four trials in all, numbered once each; those recorded before the loss were not run again.
        assert sorted(t.id.rsplit("_", 1)[1] for t in resumed) == ["0", "1", "2", "3"]
        assert set(before) <= {t.id for t in resumed}
        finished_before = [i for i, r in before.items() if r["status"] == "Finished"]
        assert all(ws_run(ws, i).get_status() == "Finished" for i in finished_before)
        sampled = [
            json.loads(h)["--reg"]
            for h in HyperDriveStepRun(workspace=ws, run_id=attempts[1].id).get_hyperparameters().values()
        ]
        assert sorted(sampled) == [0.01, 0.1, 10.0, 100.0]  # the grid, each point once

        # experiment.submit(hd_config) from a client ([mlw] api_url): the same sweep, on the deployment.
        slow.unlink()
        with urllib.request.urlopen(f"http://127.0.0.1:{stack.port}/auth/token", timeout=30) as response:
            monkeypatch.setenv("MLW_API_TOKEN", json.loads(response.read())["access_token"])
        monkeypatch.setenv("AIRFLOW__MLW__API_URL", f"http://127.0.0.1:{stack.port}")
        client = Workspace.from_config()
        config = HyperDriveConfig(
            run_config=ScriptRunConfig(
                str(src), "train.py", compute_target=ComputeTarget(client, "cpu-cluster")
            ),
            hyperparameter_sampling=GridParameterSampling({"--reg": choice(0.01, 100.0)}),
            primary_metric_name="AUC",
            primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        )
        submitted = Experiment(client, "rest-sweep").submit(config)
        submitted.wait_for_completion()
        assert submitted.get_status() == "Finished", stack.log_tails(40)
        over_rest = submitted.get_children()
        assert len(over_rest) == 2 and {t.get_status() for t in over_rest} == {"Finished"}
        for trial in over_rest:
            row = trial._row()
            assert row.dag_id.endswith(".hyperdrive.trials")
            assert stack.run_state(row.dag_id, row.dag_run_id)["state"] == "success"
        metrics = submitted.get_metrics()
        best = submitted.get_best_run_by_primary_metric()
        assert best is not None and metrics[best.id]["AUC"] == max(m["AUC"] for m in metrics.values())


def tune_rows(ws: Any, dag_run_id: str) -> list[Any]:
    """The rows of the sweep task's attempts in a DAG run, oldest first."""
    from sqlalchemy import select

    from airflow_mlw.registry.rows import RunRow

    with ws.store.session() as session:
        rows = session.scalars(
            select(RunRow)
            .where(RunRow.dag_id == "hd_scale_out", RunRow.dag_run_id == dag_run_id, RunRow.task_id == "tune")
            .order_by(RunRow.created_at)
        ).all()
        for row in rows:
            session.expunge(row)
        return list(rows)


def recorded(ws: Any, dag_run_id: str) -> dict[str, Any]:
    rows = tune_rows(ws, dag_run_id)
    return dict((rows[-1].properties or {}).get("hyperdrive", {}).get("trials", {})) if rows else {}


def ws_run(ws: Any, run_id: str) -> Any:
    from airflow_mlw.runs.submitted import SubmittedRun

    return SubmittedRun(ws, run_id)
