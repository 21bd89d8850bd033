"""``experiment.submit(hd_config)`` with ``[mlw] api_url``: the sweep runs on the deployment (a
one-step pipeline whose step drives it), each trial a DAG run of its trial DAG placed by Airflow."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.airflow_stack import airflow_stack
from tests.train.scripts import SKLEARN_TRAIN


def test_sweep_submitted_over_rest_runs_its_trials_on_the_deployment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_mlw.core import Experiment, ScriptRunConfig, Workspace
    from airflow_mlw.train.hyperdrive import (
        GridParameterSampling,
        HyperDriveConfig,
        PrimaryMetricGoal,
        choice,
    )

    dags = tmp_path / "dags"
    dags.mkdir()
    settings = {"AIRFLOW__MLW__HOME": str(tmp_path / "mlw"), "AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(SKLEARN_TRAIN)
    # New DAGs paused, as Airflow's default: the sweep's trial DAG must run anyway.
    env = {**settings, "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"}
    with airflow_stack(
        dags, extra_env=env, parallelism=4, services=("api-server", "scheduler", "dag-processor", "triggerer")
    ) as stack:
        base = f"http://127.0.0.1:{stack.port}"
        with urllib.request.urlopen(f"{base}/auth/token", timeout=30) as response:
            monkeypatch.setenv("MLW_API_TOKEN", json.loads(response.read())["access_token"])
        monkeypatch.setenv("AIRFLOW__MLW__API_URL", base)
        ws = Workspace.from_config()
        config = HyperDriveConfig(
            run_config=ScriptRunConfig(str(tmp_path / "src"), "train.py"),
            hyperparameter_sampling=GridParameterSampling({"--reg": choice(0.01, 100.0)}),
            primary_metric_name="AUC",
            primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        )
        run = Experiment(ws, "rest-sweep").submit(config)
        run.wait_for_completion()
        assert run.get_status() == "Finished", stack.log_tails(40)
        trials = run.get_children()
        assert len(trials) == 2 and {t.get_status() for t in trials} == {"Finished"}
        for trial in trials:
            row = trial._row()
            assert row.dag_id.endswith(".hyperdrive.trials")
            assert stack.run_state(row.dag_id, row.dag_run_id)["state"] == "success"
        metrics = run.get_metrics()
        best = run.get_best_run_by_primary_metric()
        assert best is not None and metrics[best.id]["AUC"] == max(m["AUC"] for m in metrics.values())
        assert sorted(json.loads(h)["--reg"] for h in run.get_hyperparameters().values()) == [0.01, 100.0]
