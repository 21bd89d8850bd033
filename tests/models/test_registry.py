"""Model versions in the registry: content fingerprints, integer versions, lookups, downloads, links to runs."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Dataset, Experiment, Model, ScriptRunConfig
from airflow_mlw.exceptions import ModelNotFoundError, WebserviceException
from airflow_mlw.models.versions import lineage_of
from airflow_mlw.pipeline.core import Pipeline
from airflow_mlw.pipeline.steps import PythonScriptStep

DIABETES = Path(__file__).resolve().parents[2] / "dags_examples" / "experiment_folder" / "diabetes.csv"

TRAIN = """
import pickle
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from airflow_mlw.core import Run

run = Run.get_context()
data = run.input_datasets["diabetes"].to_pandas_dataframe()
X, y = data.drop(columns=["Diabetic"]).values, data["Diabetic"].values
model = LogisticRegression(max_iter=1000).fit(X[:400], y[:400])
run.log("AUC", float(roc_auc_score(y[400:], model.predict_proba(X[400:])[:, 1])))
with open("outputs/model.pkl", "wb") as handle:
    pickle.dump(model, handle)
run.register_model("diabetes-model", "outputs/model.pkl", tags={"by": "script"})
"""


def test_identical_content_returns_the_same_version(workspace: Any, tmp_path: Path) -> None:
    model_file = tmp_path / "model.pkl"
    model_file.write_bytes(b"weights v1")
    first = Model.register(
        workspace, str(model_file), "churn", tags={"team": "ml"}, properties={"auc": 0.8}, description="first"
    )
    again = Model.register(workspace, model_file, "churn", tags={"ignored": "yes"})
    assert (first.id, again.id, again.tags) == ("churn:1", "churn:1", {"team": "ml"})
    model_file.write_bytes(b"weights v2")
    second = Model.register(workspace, model_file, "churn")
    assert second.version == 2 and second.fingerprint != first.fingerprint
    assert Model(workspace, "churn").version == 2
    stored = Model(workspace, id="churn:1")
    assert (stored.properties, stored.description, stored.run_id) == ({"auc": 0.8}, "first", None)
    # The registered copy keeps version 1's bytes although the source file changed since.
    assert Path(stored.download(tmp_path / "v1")).read_bytes() == b"weights v1"


def test_folder_models_keep_their_layout_and_their_name(workspace: Any, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "sub" / "weights.bin").write_bytes(b"\x00" * 100)
    model = Model.register(workspace, folder, "bert")
    downloaded = Path(model.download(tmp_path / "out"))
    assert downloaded == tmp_path / "out" / "export"
    assert sorted(p.relative_to(downloaded).as_posix() for p in downloaded.rglob("*") if p.is_file()) == [
        "config.json",
        "sub/weights.bin",
    ]
    with pytest.raises(WebserviceException, match="out/export already exists: pass exist_ok=True"):
        model.download(tmp_path / "out")
    assert model.download(tmp_path / "out", exist_ok=True) == str(downloaded)
    local = Path(Model.get_model_path("bert", _workspace=workspace))
    assert local.name == "export" and (local / "sub" / "weights.bin").stat().st_size == 100
    # The file or folder name is part of the content: a renamed export is another version.
    assert Model.register(workspace, folder.rename(tmp_path / "export-2"), "bert").version == 2


def test_list_filters_by_name_tags_properties_and_latest(workspace: Any, tmp_path: Path) -> None:
    for name, content, tags, properties in (
        ("a", "1", {"team": "x"}, {"auc": 0.7}),
        ("a", "2", {"team": "y"}, {"auc": 0.9}),
        ("b", "3", {"team": "x", "stage": "prod"}, {}),
    ):
        (tmp_path / "m.txt").write_text(content)
        Model.register(workspace, tmp_path / "m.txt", name, tags=tags, properties=properties)
    assert [m.id for m in Model.list(workspace)] == ["a:2", "a:1", "b:1"]
    assert [m.id for m in Model.list(workspace, name="a")] == ["a:2", "a:1"]
    assert [m.id for m in Model.list(workspace, tags=["stage"])] == ["b:1"]
    assert [m.id for m in Model.list(workspace, tags=[["team", "x"]])] == ["a:1", "b:1"]
    assert [m.id for m in Model.list(workspace, tags={"team": "y"})] == ["a:2"]
    assert [m.id for m in Model.list(workspace, properties=[["auc", "0.9"]])] == ["a:2"]
    assert [m.id for m in Model.list(workspace, latest=True)] == ["a:2", "b:1"]
    assert Model(workspace, tags=[["team", "x"]]).id == "a:1"


def test_concurrent_registrations_get_distinct_versions(workspace: Any, tmp_path: Path) -> None:
    def register(index: int) -> int:
        path = tmp_path / f"run{index}" / "model.bin"
        path.parent.mkdir()
        path.write_bytes(bytes([index]) * 10)
        return Model.register(workspace, path, "shared").version

    with ThreadPoolExecutor(6) as pool:
        assert sorted(pool.map(register, range(6))) == [1, 2, 3, 4, 5, 6]


def test_unknown_names_and_bad_input_are_clear_errors(workspace: Any, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no model named 'nope' in workspace 'test'"):
        Model(workspace, "nope")
    (tmp_path / "m.txt").write_text("x")
    Model.register(workspace, tmp_path / "m.txt", "a")
    with pytest.raises(ModelNotFoundError, match="model 'a' has no version 7"):
        Model(workspace, "a", version=7)
    with pytest.raises(WebserviceException, match="missing.pkl does not exist"):
        Model.register(workspace, tmp_path / "missing.pkl", "a")
    with pytest.raises(WebserviceException, match="model name 'bad name!' is invalid"):
        Model.register(workspace, tmp_path / "m.txt", "bad name!")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WebserviceException, match="empty is a folder without files"):
        Model.register(workspace, tmp_path / "empty", "a")
    with pytest.raises(ModelNotFoundError, match="not inside a scoring service"):
        Model.get_model_path("a")


def test_get_model_path_inside_a_service_finds_the_mounted_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for version in (1, 2):
        (tmp_path / "models" / "m" / str(version)).mkdir(parents=True)
        (tmp_path / "models" / "m" / str(version) / "model.pkl").write_text(str(version))
    (tmp_path / "models" / "multi" / "3").mkdir(parents=True)
    for name in ("a.bin", "b.bin"):
        (tmp_path / "models" / "multi" / "3" / name).write_text(name)
    monkeypatch.setenv("MLW_MODEL_DIR", str(tmp_path / "models"))
    assert Model.get_model_path("m") == str(tmp_path / "models" / "m" / "2" / "model.pkl")
    assert Model.get_model_path("m", version=1) == str(tmp_path / "models" / "m" / "1" / "model.pkl")
    assert Model.get_model_path("multi") == str(tmp_path / "models" / "multi" / "3")
    with pytest.raises(
        ModelNotFoundError, match=r"model 'x' is not deployed with this service \(it has \['m', 'multi'\]\)"
    ):
        Model.get_model_path("x")


def test_a_step_registers_its_model_linked_to_its_run_metrics_and_input_dataset(
    workspace: Any, tmp_path: Path
) -> None:
    datastore = workspace.get_default_datastore()
    datastore.upload_files([str(DIABETES)], target_path="diabetes", show_progress=False)
    diabetes = Dataset.Tabular.from_delimited_files(path=(datastore, "diabetes/*.csv")).register(
        workspace, "diabetes"
    )
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(TRAIN)
    step = PythonScriptStep(
        name="train",
        source_directory=str(tmp_path / "src"),
        script_name="train.py",
        arguments=["--data", diabetes.as_named_input("diabetes")],
        compute_target="local",
    )
    pipeline_run = Experiment(workspace, "training").submit(Pipeline(workspace, [step]))
    pipeline_run.wait_for_completion()
    step_run = pipeline_run.get_steps()[0]
    model = Model(workspace, "diabetes-model")
    assert (model.version, model.run_id, model.tags) == (1, step_run.id, {"by": "script"})
    assert 0.5 < model.get_metrics()["AUC"] == step_run.get_metrics()["AUC"]
    assert [(d.name, d.version) for d in model.datasets["training"]] == [("diabetes", 1)]
    assert [row["run_id"] for row in lineage_of(workspace, model._record.id)] == [step_run.id]
    assert "diabetes-model" not in step_run.get_metrics()
    # The run also kept the file: registering it afterwards (Azure's usual way) gives the same version.
    again = step_run.register_model("diabetes-model", "outputs/model.pkl")
    assert (again.id, again.run_id) == ("diabetes-model:1", step_run.id)


def test_a_finished_script_run_registers_a_kept_file(workspace: Any, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "job.py").write_text(
        "import json\nfrom airflow_mlw.core import Run\nRun.get_context().log('rmse', 0.25)\n"
        "json.dump([1, 2], open('outputs/weights.json', 'w'))\n"
    )
    run = Experiment(workspace, "script").submit(ScriptRunConfig(str(tmp_path / "src"), "job.py"))
    run.wait_for_completion()
    model = run.register_model("linear", "outputs/weights.json", properties={"rmse": 0.25})
    assert (model.id, model.run_id, model.get_metrics()) == ("linear:1", run.id, {"rmse": 0.25})
    assert json.loads(Path(model.download(tmp_path / "out")).read_text()) == [1, 2]
    with pytest.raises(
        Exception,
        match=r"kept no file 'outputs/nothing.pkl'; it has \['outputs/weights.json', 'logs/driver_log.txt'\]",
    ):
        run.register_model("linear", "outputs/nothing.pkl")


def test_scoring_scripts_import_model_without_airflow_or_sqlalchemy() -> None:
    from tests.test_package import HEAVY, run_python

    out = run_python(
        "import sys\nfrom airflow_mlw.core.model import Model, InferenceConfig\n"
        "from airflow_mlw.core import Model as Same\nassert Same is Model\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    assert out.strip() == "[]"


def test_model_register_inside_a_script_registers_after_the_script(workspace: Any, tmp_path: Path) -> None:
    """``Model.register(workspace=run.experiment.workspace, ...)`` in a pipeline step's script (DP-100
    lab 08): the step registers the model, linked to the run, once the script succeeded."""
    from airflow_mlw.core import Model

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(
        "import numpy as np\nfrom airflow_mlw.core import Model, Run\nrun = Run.get_context()\n"
        "open('outputs/model.pkl', 'wb').write(b'weights')\n"
        "print(run.experiment.name, run.experiment.workspace.name)\n"
        "Model.register(workspace=run.experiment.workspace, model_path='outputs/model.pkl', model_name='in_script',"
        " tags={'context': 'Pipeline'}, properties={'AUC': np.float64(0.88)})\nrun.complete()\n"
    )
    run = Experiment(workspace, "in_script").submit(ScriptRunConfig(str(tmp_path / "src"), "train.py"))
    assert run.get_status() == "Finished"
    model = Model(workspace, "in_script")
    assert (model.version, model.run_id, model.tags, model.properties) == (
        1,
        run.id,
        {"context": "Pipeline"},
        {"AUC": 0.88},
    )
    assert "in_script test" in run.driver_output()
