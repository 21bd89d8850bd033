"""``HyperDriveStep`` in a pipeline: the sweep's trials are child runs of the step run, its best
model and every trial's metrics are outputs a registration step reads; an unchanged sweep is
reused whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Experiment, Model, ScriptRunConfig
from airflow_mlw.exceptions import MlwError
from airflow_mlw.pipeline.core import Pipeline, PipelineData, TrainingOutput
from airflow_mlw.pipeline.steps import HyperDriveStep, HyperDriveStepRun, PythonScriptStep
from airflow_mlw.registry.rows import RunRow
from airflow_mlw.train.hyperdrive import GridParameterSampling, HyperDriveConfig, PrimaryMetricGoal, choice
from tests.train.scripts import SKLEARN_TRAIN, write_source

REGISTER = """\
import argparse, json, os
from airflow_mlw.core import Model, Run
parser = argparse.ArgumentParser()
parser.add_argument("--model", type=str)
parser.add_argument("--metrics", type=str)
args = parser.parse_args()
run = Run.get_context()
metrics = json.load(open(os.path.join(args.metrics, "metrics_data")))
run.log("trials", len(metrics))
run.log("best_auc", max(max(m["AUC"]) for m in metrics.values() if "AUC" in m))
Model.register(workspace=run.experiment.workspace, model_path=os.path.join(args.model, "model.pkl"), model_name="swept")
"""


def sweep_pipeline(workspace: Any, source: str) -> tuple[Pipeline, PipelineData]:
    config = HyperDriveConfig(
        run_config=ScriptRunConfig(source, "train.py"),
        hyperparameter_sampling=GridParameterSampling({"--reg": choice(0.01, 100.0)}),
        primary_metric_name="AUC",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_concurrent_runs=2,
    )
    model = PipelineData(
        "best_model", training_output=TrainingOutput("Model", model_file="outputs/model.pkl")
    )
    metrics = PipelineData("metrics_output", training_output=TrainingOutput("Metrics"))
    tune = HyperDriveStep("tune", config, outputs=[model], metrics_output=metrics)
    register = PythonScriptStep(
        "register.py",
        arguments=["--model", model, "--metrics", metrics],
        inputs=[model, metrics],
        source_directory=source,
    )
    return Pipeline(workspace, steps=[tune, register]), metrics


def test_hyperdrive_step_feeds_its_best_model_to_a_registration_step(workspace: Any, tmp_path: Path) -> None:
    source = write_source(tmp_path / "src", "train.py", SKLEARN_TRAIN)
    (tmp_path / "src" / "register.py").write_text(REGISTER)
    pipeline, _ = sweep_pipeline(workspace, source)
    run = Experiment(workspace, "hd-pipeline").submit(pipeline)
    run.wait_for_completion(show_output=False)
    assert run.get_status() == "Finished"

    (tune,) = run.find_step_run("tune")
    sweep = HyperDriveStepRun(step_run=tune)
    trials = sweep.get_children()
    assert len(trials) == 2 and {t.get_status() for t in trials} == {"Finished"}
    metrics = sweep.get_metrics()
    best = sweep.get_best_run_by_primary_metric()
    assert best is not None and metrics[best.id]["AUC"] == max(m["AUC"] for m in metrics.values())

    # metrics_output: every trial's metrics, Azure's {run_id: {metric: [values]}}
    downloaded = Path(tune.get_output_data("metrics_output").download(str(tmp_path / "dl")))
    data = json.loads((downloaded / "metrics_data").read_text())
    assert set(data) == {t.id for t in trials}
    assert data[best.id]["AUC"] == [metrics[best.id]["AUC"]]

    # the registration step got the best trial's model file
    (register,) = run.find_step_run("register.py")
    assert register.get_metrics() == {"trials": 2, "best_auc": metrics[best.id]["AUC"]}
    model = Model(workspace, "swept")
    best_file = Path(best.download_file("outputs/model.pkl", str(tmp_path / "best.pkl")))
    assert Path(model.download(str(tmp_path / "registered"))).read_bytes() == best_file.read_bytes()

    # the same sweep again (space, seed, script, data unchanged): reused whole, no new trial
    again = Experiment(workspace, "hd-pipeline").submit(pipeline)
    again.wait_for_completion(show_output=False)
    (tune_again,) = again.find_step_run("tune")
    assert tune_again.is_reused and tune_again.reused_from == tune.id
    with workspace.store.session() as session:
        trial_rows = session.query(RunRow).filter(RunRow.name == "train.py").count()
    assert trial_rows == 2
    assert [t.id for t in HyperDriveStepRun(step_run=tune_again).get_children()] == [t.id for t in trials]


def test_hyperdrive_step_outputs_need_a_training_output(workspace: Any, tmp_path: Path) -> None:
    config = HyperDriveConfig(
        run_config=ScriptRunConfig(str(tmp_path), "train.py"),
        hyperparameter_sampling=GridParameterSampling({"--reg": choice(1.0)}),
        primary_metric_name="AUC",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
    )
    with pytest.raises(MlwError, match="output 'plain' needs training_output=TrainingOutput"):
        HyperDriveStep("tune", config, outputs=[PipelineData("plain")])
    with pytest.raises(MlwError, match=r"TrainingOutput\('Model'\) needs model_file="):
        TrainingOutput("Model")
