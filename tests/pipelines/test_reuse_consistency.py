"""A reuse hit and a real run never disagree about the inputs (real pipeline runs, dag.test, real
registry): a drifted pinned version fails both ways alike, ``get_by_name`` without a version follows
the latest version per run, ``validate=False`` inputs are keyed by their current content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_mlw import Datastore
from airflow_mlw.core import Dataset, Experiment
from airflow_mlw.pipelines import Pipeline, PythonScriptStep

READ = (
    "import os\nfrom airflow_mlw.core import Run\nrun = Run.get_context()\n"
    "path = run.input_datasets['raw'].path\n"
    "run.log('value', int(open(path if os.path.isfile(path) else os.path.join(path, 'a.csv')).read().split()[-1]))\n"
)


@pytest.fixture
def landing(workspace: Any, tmp_path: Path) -> dict[str, Any]:
    """Dataset ``raw_dataset`` version 1 (``a.csv`` ending in 1) and the reading script."""
    store = Datastore.register_local(workspace, "landing", tmp_path / "landing")
    (tmp_path / "landing" / "raw").mkdir(parents=True)
    (tmp_path / "landing" / "raw" / "a.csv").write_text("a\n1\n")
    v1 = Dataset.File.from_files((store, "raw")).register(workspace, "raw_dataset")
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "read.py").write_text(READ)
    return {"store": store, "v1": v1, "file": tmp_path / "landing" / "raw" / "a.csv", "scripts": scripts}


def reading_pipeline(workspace: Any, landing: dict[str, Any], consumption: Any) -> Pipeline:
    step = PythonScriptStep(
        "read.py", name="read", source_directory=str(landing["scripts"]), inputs=[consumption]
    )
    return Pipeline(workspace, [step])


def overwrite_and_register_v2(workspace: Any, landing: dict[str, Any]) -> Any:
    landing["file"].write_text("a\n2\n")
    return Dataset.File.from_files((landing["store"], "raw")).register(
        workspace, "raw_dataset", create_new_version=True
    )


def step_of(run: Any) -> Any:
    run.wait_for_completion(show_output=False, raise_on_error=False)
    (step,) = run.find_step_run("read")
    return step


def test_drifted_pinned_version_fails_the_same_way_reused_or_regenerated(
    workspace: Any, landing: dict[str, Any]
) -> None:
    pinned = Dataset.get_by_name(workspace, "raw_dataset", version=1).as_named_input("raw")
    pipeline = reading_pipeline(workspace, landing, pinned)
    experiment = Experiment(workspace, "pinned")
    first = step_of(experiment.submit(pipeline))
    assert (first.get_status(), first.get_metrics()) == ("Finished", {"value": 1})
    overwrite_and_register_v2(workspace, landing)
    reused = experiment.submit(pipeline)
    regenerated = experiment.submit(pipeline, regenerate_outputs=True)
    errors = []
    for run in (reused, regenerated):
        step = step_of(run)
        assert (run.get_status(), step.get_status(), step.is_reused) == ("Failed", "Failed", False)
        errors.append(step.get_details()["error"]["message"])
    assert errors[0] == errors[1], "a reuse hit and a run raise the same error"
    assert (
        "dataset 'raw_dataset' version 1: files changed since registration (changed: raw/a.csv)" in errors[0]
    )


def test_latest_follows_new_versions_per_run_and_records_the_one_used(
    workspace: Any, landing: dict[str, Any]
) -> None:
    from sqlalchemy import select

    from airflow_mlw.registry.rows import LineageRow

    # Built once, as in a notebook: get_by_name without a version is "latest" at each run.
    latest = Dataset.get_by_name(workspace, "raw_dataset").as_named_input("raw")
    pipeline = reading_pipeline(workspace, landing, latest)
    assert pipeline.to_dag("mlw_latest_input").get_task("read").inputs[0].version is None
    experiment = Experiment(workspace, "latest")
    assert step_of(experiment.submit(pipeline)).get_metrics() == {"value": 1}
    v2 = overwrite_and_register_v2(workspace, landing)
    second = step_of(experiment.submit(pipeline))
    assert (second.is_reused, second.get_metrics()) == (False, {"value": 2})
    (used,) = second.get_details()["inputDatasets"]
    assert used["dataset"] == {"id": v2.id, "name": "raw_dataset", "version": 2}
    with workspace.store.session() as session:
        consumed = session.scalars(
            select(LineageRow.dataset_version_id).where(
                LineageRow.direction == "consumed", LineageRow.dag_run_id == second._row().dag_run_id
            )
        ).all()
    assert consumed == [v2.id], "the lineage names the version this run read"
    third = step_of(experiment.submit(pipeline))
    assert (third.is_reused, third.get_metrics()) == (True, {"value": 2})


def test_validate_false_input_is_keyed_by_current_content(workspace: Any, landing: dict[str, Any]) -> None:
    unchecked = (
        Dataset.get_by_name(workspace, "raw_dataset", version=1)
        .as_named_input("raw")
        .as_mount(validate=False)
    )
    pipeline = reading_pipeline(workspace, landing, unchecked)
    experiment = Experiment(workspace, "unchecked")
    assert step_of(experiment.submit(pipeline)).get_metrics() == {"value": 1}
    landing["file"].write_text("a\n3\n")
    changed = step_of(experiment.submit(pipeline))
    assert (changed.is_reused, changed.get_metrics()) == (False, {"value": 3})
    assert step_of(experiment.submit(pipeline)).is_reused


def test_dataset_parameter_default_from_get_by_name_follows_latest(
    workspace: Any, landing: dict[str, Any]
) -> None:
    from airflow_mlw.pipelines import PipelineParameter

    latest = PipelineParameter("raw_param", default_value=Dataset.get_by_name(workspace, "raw_dataset"))
    pinned = PipelineParameter("pinned", default_value=Dataset.get_by_name(workspace, "raw_dataset", 1))
    pipeline = reading_pipeline(workspace, landing, latest.as_named_input("raw"))
    assert pipeline.to_dag("mlw_latest_param").params["raw_param"] == {
        "name": "raw_dataset",
        "version": "latest",
    }
    # Named, not read (no I/O at parse): name and version are what the run resolves.
    assert pinned.param_default == {"name": "raw_dataset", "version": 1}
    overwrite_and_register_v2(workspace, landing)
    step = step_of(Experiment(workspace, "latest-param").submit(pipeline))
    assert step.get_metrics() == {"value": 2}


DAG_FILE = """
from airflow_mlw.core import Dataset, Workspace
from airflow_mlw.pipelines import Pipeline, PythonScriptStep

ws = Workspace.from_config()
raw = Dataset.get_by_name(ws, "raw_dataset")
pinned = Dataset.get_by_name(ws, "raw_dataset", version=3)
step = PythonScriptStep(
    "read.py", name="read", source_directory="/tmp",
    inputs=[raw.as_named_input("raw"), pinned.as_named_input("old").as_mount()],
)
dag = Pipeline(ws, [step]).to_dag("named_inputs")
"""


def test_a_dag_file_naming_datasets_reads_no_registry_when_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from airflow_mlw.execution.inputs import DatasetInput

    registry = tmp_path / "never-made" / "registry.db"
    monkeypatch.setenv("AIRFLOW__MLW__REGISTRY_URL", f"sqlite:///{registry}")
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "named.py").write_text(DAG_FILE)
    bag = DagBag(dag_folder=str(tmp_path / "dags"))
    assert not bag.import_errors
    assert not registry.parent.exists(), "parsing the DAG file opened the registry"
    inputs = {item.name: item for item in bag.dags["named_inputs"].get_task("read").inputs}
    # The latest version is taken when each run starts; version 3 stays pinned; kinds are checked then.
    assert inputs["raw"] == DatasetInput("raw", "direct", "", "raw_dataset", None)
    assert inputs["old"] == DatasetInput("old", "mount", "", "raw_dataset", 3)
