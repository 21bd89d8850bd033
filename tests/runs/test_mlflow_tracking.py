"""MLflow tracking into the workspace's runs, with the real ``mlflow`` client: a notebook's
``mlflow.start_run()`` against ``ws.get_mlflow_tracking_uri()``, and ``mlflow.log_*`` inside
submitted scripts that never call ``set_tracking_uri``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

mlflow = pytest.importorskip("mlflow")

from mlflow.exceptions import MlflowException  # noqa: E402

from airflow_mlw.core import Experiment, ScriptRunConfig  # noqa: E402
from airflow_mlw.core.conda_dependencies import CondaDependencies  # noqa: E402
from airflow_mlw.runtime import ENTRY_POINTS, mlflow_experiment_id, runtime_path  # noqa: E402

SCRIPT = """
import mlflow
from pathlib import Path

Path("report.txt").write_text("rows: 3")
with mlflow.start_run():
    mlflow.log_metric("loss", 0.5)
    mlflow.log_metric("loss", 0.25)
    mlflow.log_param("alpha", 0.1)
    mlflow.set_tag("stage", "train")
    mlflow.log_artifact("report.txt")
    mlflow.log_dict({"k": 1}, "extra/config.json")
    with mlflow.start_run(nested=True, run_name="fold-1"):
        mlflow.log_metric("fold_score", 0.75)
# a top-level run after end_run: the script's run again (autolog starts and ends runs of its own)
mlflow.log_metric("after_end", 1)
print("tracking", mlflow.get_tracking_uri(), mlflow.active_run().info.run_id)
"""

AUTOLOG = """
import mlflow
import mlflow.sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

mlflow.sklearn.autolog()
X, y = load_iris(return_X_y=True)
model = LogisticRegression(C=0.5, max_iter=300).fit(X, y)
mlflow.log_metric("holdout", float(model.score(X[:30], y[:30])))
"""


@pytest.fixture(autouse=True)
def clean_mlflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No tracking URI, active experiment or run left over from another test."""
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID"):
        monkeypatch.delenv(key, raising=False)
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"):
        os.environ.pop(key, None)
    import mlflow.tracking.fluent as fluent

    fluent._active_experiment_id = None


def source(tmp_path: Path, name: str, text: str) -> str:
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return str(folder)


def test_tracking_uri_is_accepted_by_mlflow_and_names_the_workspace(workspace: Any) -> None:
    uri = workspace.get_mlflow_tracking_uri()
    assert uri == "mlw://test"
    mlflow.set_tracking_uri(uri)
    assert mlflow.get_tracking_uri() == uri
    assert mlflow.MlflowClient().get_experiment("0").name == "Default"


def test_notebook_run_is_a_run_of_the_experiment(
    workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(workspace.get_mlflow_tracking_uri())
    experiment = Experiment(workspace, "notebook-mlflow")
    mlflow.set_experiment(experiment.name)
    Path("notes.txt").write_text("hello")
    with mlflow.start_run(run_name="first") as active:
        mlflow.log_metric("observations", 10000)
        mlflow.log_metric("loss", 0.5, step=0)
        mlflow.log_metric("loss", 0.25, step=5)
        mlflow.log_param("alpha", 0.1)
        mlflow.set_tag("team", "data")
        mlflow.log_artifact("notes.txt", "docs")
        assert experiment.get_runs()[0].get_status() == "Running"

    run = list(experiment.get_runs())[0]
    assert run.id == active.info.run_id
    assert run.get_status() == "Finished"
    assert run.name == "first"
    assert run.get_metrics() == {"observations": 10000, "loss": [0.5, 0.25]}
    assert run.get_properties() == {"azureml.param.alpha": "0.1"}  # Azure ML v1 keeps MLflow params so
    assert run.get_tags()["team"] == "data"
    assert run.get_file_names() == ["docs/notes.txt"]
    assert Path(run.download_file("docs/notes.txt", str(tmp_path / "back.txt"))).read_text() == "hello"
    # ... and MLflow reads the run back from the registry
    back = mlflow.get_run(run.id)
    assert back.info.status == "FINISHED"
    assert back.info.experiment_id == mlflow_experiment_id("notebook-mlflow")
    assert back.data.params == {"alpha": "0.1"}
    assert back.data.metrics == {"observations": 10000.0, "loss": 0.25}
    history = mlflow.MlflowClient().get_metric_history(run.id, "loss")
    assert [(m.value, m.step) for m in history] == [(0.5, 0), (0.25, 5)], "the steps logged"
    found = mlflow.search_runs(experiment_names=["notebook-mlflow"], filter_string="params.alpha = '0.1'")
    assert list(found["run_id"]) == [run.id]
    assert mlflow.search_runs(experiment_names=["notebook-mlflow"], filter_string="metrics.loss > 1").empty
    assert [a.path for a in mlflow.MlflowClient().list_artifacts(run.id, "docs")] == ["docs/notes.txt"]


def test_a_param_is_logged_once_and_a_finished_run_takes_no_metric(workspace: Any) -> None:
    mlflow.set_tracking_uri(workspace.get_mlflow_tracking_uri())
    mlflow.set_experiment("params-once")
    with mlflow.start_run() as active:
        mlflow.log_param("C", 1)
        mlflow.log_param("C", 1)  # the same value again is fine, as in MLflow
        with pytest.raises(MlflowException, match="param 'C' is '1' and cannot be changed to '2'"):
            mlflow.log_param("C", 2)
    with pytest.raises(MlflowException, match="is Finished: a finished run takes no more metrics"):
        mlflow.MlflowClient().log_metric(active.info.run_id, "late", 1.0)
    nested_parent = mlflow.start_run()
    with mlflow.start_run(nested=True) as child:
        mlflow.log_metric("inner", 2)
    mlflow.end_run()
    parent = Experiment(workspace, "params-once").get_runs()[0]
    assert parent.id == nested_parent.info.run_id
    (only,) = parent.get_children()
    assert (only.id, only.get_status(), only.get_metrics()) == (child.info.run_id, "Finished", {"inner": 2})


def test_submitted_script_logs_into_its_own_run(workspace: Any, tmp_path: Path) -> None:
    experiment = Experiment(workspace, "script-mlflow")
    run = experiment.submit(ScriptRunConfig(source(tmp_path, "train.py", SCRIPT), "train.py"))
    run.wait_for_completion(show_output=True)
    assert run.get_status() == "Finished"
    assert f"tracking mlw://test {run.id}" in run.driver_output()
    assert run.get_metrics() == {"loss": [0.5, 0.25], "after_end": 1}
    assert run.get_properties() == {"azureml.param.alpha": "0.1"}
    assert run.get_tags()["stage"] == "train"
    assert run.get_file_names() == ["extra/config.json", "report.txt", "logs/driver_log.txt"]
    local = run.download_file("extra/config.json", str(tmp_path / "config.json"))
    assert json.loads(Path(local).read_text()) == {"k": 1}
    # the nested MLflow run is a child run; no other run appeared in the experiment
    (child,) = run.get_children()
    assert (child.name, child.get_status(), child.get_metrics()) == (
        "fold-1",
        "Finished",
        {"fold_score": 0.75},
    )
    assert [r.id for r in experiment.get_runs()] == [run.id]
    # the notebook reads the script's artifacts through MLflow
    mlflow.set_tracking_uri(workspace.get_mlflow_tracking_uri())
    got = mlflow.artifacts.download_artifacts(
        run_id=run.id, artifact_path="report.txt", dst_path=str(tmp_path)
    )
    assert Path(got).read_text() == "rows: 3"


def test_sklearn_autolog_records_params_and_metrics(workspace: Any, tmp_path: Path) -> None:
    run = Experiment(workspace, "autolog").submit(
        ScriptRunConfig(source(tmp_path, "fit.py", AUTOLOG), "fit.py")
    )
    run.wait_for_completion(show_output=True)
    assert run.get_status() == "Finished"
    params = run.get_properties()
    assert params["azureml.param.C"] == "0.5" and params["azureml.param.max_iter"] == "300"
    metrics = run.get_metrics()
    assert 0.9 < metrics["training_accuracy_score"] <= 1.0
    assert {"training_f1_score", "training_log_loss", "holdout"} <= set(metrics)
    assert run.get_tags()["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    # the model autolog logged is in the run's files, where Azure showed it
    assert {"model/MLmodel", "model/model.pkl"} <= set(run.get_file_names())
    mlflow.set_tracking_uri(workspace.get_mlflow_tracking_uri())
    model = mlflow.sklearn.load_model(f"runs:/{run.id}/model")
    assert model.get_params()["C"] == 0.5


def test_an_environment_naming_its_own_tracking_server_keeps_it(workspace: Any, tmp_path: Path) -> None:
    from airflow_mlw.core import Environment

    env = Environment("own-server")
    env.python.user_managed_dependencies = True
    env.environment_variables = {"MLFLOW_TRACKING_URI": "file:///nowhere"}
    script = "import os\nprint('uri', os.environ['MLFLOW_TRACKING_URI'], os.environ.get('MLFLOW_RUN_ID'))\n"
    config = ScriptRunConfig(source(tmp_path, "show.py", script), "show.py", environment=env)
    run = Experiment(workspace, "own-server").submit(config)
    run.wait_for_completion()
    assert "uri file:///nowhere None" in run.driver_output()


def test_the_runtime_folder_declares_the_plugins_to_any_interpreter(tmp_path: Path) -> None:
    """Scripts see the package through the runtime folder, with no installed distribution: its
    dist-info is what lets ``import mlflow`` find the mlw:// store there."""
    shim = runtime_path()
    (dist_info,) = shim.glob("airflow_mlw_runtime-*.dist-info")
    assert (dist_info / "entry_points.txt").read_text() == ENTRY_POINTS
    probe = (
        "import importlib.metadata as m, json;"
        "print(json.dumps(sorted((e.group, e.name, e.value) for g in ('mlflow.tracking_store',"
        " 'mlflow.artifact_repository') for e in m.entry_points(group=g) if e.name == 'mlw')))"
    )
    found = subprocess.run(
        [sys.executable, "-S", "-c", probe],  # -S: no site-packages, only the runtime folder
        env={"PYTHONPATH": str(shim), "PATH": os.environ["PATH"]},
        cwd=tmp_path,  # not the checkout, whose egg-info declares them too
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(found.stdout) == [
        [
            "mlflow.artifact_repository",
            "mlw",
            "airflow_mlw.runs.mlflow_tracking.artifacts:MlwArtifactRepository",
        ],
        ["mlflow.tracking_store", "mlw", "airflow_mlw.runs.mlflow_tracking.store:MlwTrackingStore"],
    ]


def test_azureml_mlflow_brings_the_mlflow_client_unless_mlflow_is_named() -> None:
    lab = CondaDependencies.create(conda_packages=["scikit-learn"], pip_packages=["azureml-mlflow"])
    assert lab.installable_pip_packages() == ["mlflow-skinny"]
    named = CondaDependencies.create(pip_packages=["mlflow==3.1.0", "azureml-mlflow"])
    assert named.installable_pip_packages() == ["mlflow==3.1.0"]
    assert CondaDependencies.create(
        pip_packages=["mlflow-skinny", "azureml-mlflow"]
    ).installable_pip_packages() == ["mlflow-skinny"]


def test_a_pipeline_step_logs_into_its_step_run(workspace: Any, tmp_path: Path) -> None:
    from airflow_mlw.pipeline.core import Pipeline
    from airflow_mlw.pipeline.steps import PythonScriptStep

    script = "import mlflow\nmlflow.log_metric('rows', 3)\nmlflow.log_param('split', 0.2)\n"
    step = PythonScriptStep(
        "prep.py", source_directory=source(tmp_path, "prep.py", script), allow_reuse=False
    )
    run = Experiment(workspace, "mlflow-pipeline").submit(Pipeline(workspace, [step]))
    run.wait_for_completion()
    (step_run,) = run.find_step_run("prep.py")
    assert step_run.get_metrics() == {"rows": 3}
    assert step_run.get_properties() == {"azureml.param.split": "0.2"}


def test_deleting_an_mlflow_experiment_archives_it(workspace: Any) -> None:
    mlflow.set_tracking_uri(workspace.get_mlflow_tracking_uri())
    client = mlflow.MlflowClient()
    exp_id = client.create_experiment("to-archive")
    assert exp_id == mlflow_experiment_id("to-archive")
    with pytest.raises(MlflowException, match="already exists"):
        client.create_experiment("to-archive")
    client.delete_experiment(exp_id)
    assert [e.name for e in Experiment.list(workspace, view_type="ArchivedOnly")] == ["to-archive"]
    assert client.get_experiment_by_name("to-archive").lifecycle_stage == "deleted"
    assert "to-archive" not in [e.name for e in client.search_experiments()]
    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    with pytest.raises(MlflowException, match="keep their name"):
        client.rename_experiment(exp_id, "renamed")


def test_setup_cfg_and_the_runtime_folder_declare_the_same_plugins() -> None:
    import configparser

    setup = configparser.ConfigParser()
    setup.read(Path(__file__).resolve().parents[2] / "setup.cfg")
    runtime = configparser.ConfigParser()
    runtime.read_string(ENTRY_POINTS)
    for group in ("mlflow.tracking_store", "mlflow.artifact_repository"):
        declared = setup["options.entry_points"][group].strip()
        assert declared == f"mlw = {runtime[group]['mlw']}"
