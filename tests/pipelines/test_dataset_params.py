"""Datasets as pipeline parameters: a default in the DAG's Param, another dataset per run, reuse
keyed by the version's fingerprint, and the errors of values that name no usable dataset."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Dataset, Datastore, Experiment, Workspace
from airflow_mlw.datasets.consumption import DatasetConsumptionConfig
from airflow_mlw.exceptions import MlwError
from airflow_mlw.pipelines import Pipeline, PipelineParameter, PythonScriptStep
from tests.pipelines.test_publish import dags_folder  # noqa: F401  (fixture)

COUNT = """
import os
from airflow_mlw.core import Run
run = Run.get_context()
data = run.input_datasets["data"]
frame = data.to_pandas_dataframe()
run.log("rows", len(frame))
run.log("total", int(frame["v"].sum()))
"""

LIST = """
import os, sys
from airflow_mlw.core import Run
run = Run.get_context()
run.log("files", len([f for _, _, fs in os.walk(sys.argv[1]) for f in fs]))
"""


@pytest.fixture
def data(workspace: Workspace, tmp_path: Path) -> dict[str, Any]:
    return dataset_params_data(workspace, tmp_path)


def dataset_params_data(workspace: Workspace, tmp_path: Path) -> dict[str, Any]:
    """Versions 1 (3 rows) and 2 (5 rows) of tabular dataset ``rows``, and the scripts."""
    store = Datastore.register_local(workspace, "rows_store", tmp_path / "rows")
    folder = tmp_path / "rows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.csv").write_text(
        "v,at\n1,2024-01-01 00:00:00\n2,2024-01-02 00:00:00\n3,2024-01-03 00:00:00\n"
    )
    v1 = Dataset.Tabular.from_delimited_files((store, "a.csv")).register(workspace, "rows")
    (folder / "b.csv").write_text("v,at\n10,2024-01-04 00:00:00\n20,2024-01-05 00:00:00\n")
    v2 = Dataset.Tabular.from_delimited_files([(store, "a.csv"), (store, "b.csv")]).register(
        workspace, "rows", create_new_version=True
    )
    scripts = tmp_path / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "count.py").write_text(COUNT)
    (scripts / "list.py").write_text(LIST)
    return {"store": store, "v1": v1, "v2": v2, "scripts": scripts}


def counting_pipeline(workspace: Workspace, data: dict[str, Any], default: Any) -> Pipeline:
    param = PipelineParameter("ds_param", default_value=default)
    step = PythonScriptStep(
        "count.py", name="count", source_directory=str(data["scripts"]), inputs=[param.as_named_input("data")]
    )
    return Pipeline(workspace, [step])


def metrics(run: Any) -> dict[str, Any]:
    (step,) = run.find_step_run("count")
    return {**step.get_metrics(), "reused": step.is_reused}


def test_dataset_parameter_default_and_per_run_values(workspace: Workspace, data: dict[str, Any]) -> None:
    v1, v2 = data["v1"], data["v2"]
    pipeline = counting_pipeline(workspace, data, v1)
    dag = pipeline.to_dag("mlw_ds_param")
    assert dag.params["ds_param"] == {"name": "rows", "version": 1, "id": v1.id}
    experiment = Experiment(workspace, "ds-param")
    assert metrics(experiment.submit(pipeline)) == {"rows": 3, "total": 6, "reused": False}
    second = experiment.submit(pipeline, pipeline_parameters={"ds_param": v2})
    assert metrics(second) == {"rows": 5, "total": 36, "reused": False}, "another version is another input"
    # What the trigger form or conf sends: the same version by name, or by Azure's saved-dataset id.
    by_name = experiment.submit(pipeline, pipeline_parameters={"ds_param": {"name": "rows", "version": 2}})
    assert metrics(by_name) == {"rows": 5, "total": 36, "reused": True}
    by_id = experiment.submit(
        pipeline, pipeline_parameters={"ds_param": {"SavedDataSetReference": {"Id": v1.id}}}
    )
    assert metrics(by_id) == {"rows": 3, "total": 6, "reused": True}
    # "latest" resolves when the step runs.
    latest = experiment.submit(pipeline, pipeline_parameters={"ds_param": {"name": "rows"}})
    assert metrics(latest)["rows"] == 5

    from sqlalchemy import select

    from airflow_mlw.registry.rows import LineageRow

    with workspace.store.session() as session:
        consumed = set(
            session.scalars(select(LineageRow.dataset_version_id).where(LineageRow.direction == "consumed"))
        )
    assert {v1.id, v2.id} <= consumed, "the version each run used is in the lineage"


def test_filtered_dataset_parameter_gives_the_script_the_filtered_rows(
    workspace: Workspace, data: dict[str, Any]
) -> None:
    window = data["v2"].with_timestamp_columns("at").time_between(datetime(2024, 1, 2), datetime(2024, 1, 4))
    pipeline = counting_pipeline(workspace, data, data["v1"])
    run = Experiment(workspace, "ds-window").submit(pipeline, pipeline_parameters={"ds_param": window})
    assert metrics(run) == {"rows": 3, "total": 15, "reused": False}
    other = data["v2"].with_timestamp_columns("at").time_between(datetime(2024, 1, 1), datetime(2024, 1, 4))
    run = Experiment(workspace, "ds-window").submit(pipeline, pipeline_parameters={"ds_param": other})
    assert metrics(run) == {"rows": 4, "total": 16, "reused": False}, "another window is another input"


def test_file_dataset_parameter_as_mount(workspace: Workspace, data: dict[str, Any]) -> None:
    files = Dataset.File.from_files((data["store"], "a.csv")).register(workspace, "one_file")
    both = Dataset.File.from_files((data["store"], "")).register(workspace, "two_files")
    param = PipelineParameter("files_param", default_value=files)
    consumption = DatasetConsumptionConfig("files", param).as_mount()
    step = PythonScriptStep(
        "list.py",
        name="list",
        source_directory=str(data["scripts"]),
        arguments=[consumption],
        inputs=[consumption],
    )
    pipeline = Pipeline(workspace, [step])
    experiment = Experiment(workspace, "files-param")
    run = experiment.submit(pipeline, pipeline_parameters={"files_param": both})
    step_run = run.find_step_run("list")[0]
    assert step_run.get_metrics() == {"files": 2}, step_run.get_details_with_logs()


def test_dataset_parameter_values_that_name_no_usable_dataset(
    workspace: Workspace, data: dict[str, Any], tmp_path: Path
) -> None:
    pipeline = counting_pipeline(workspace, data, data["v1"])
    experiment = Experiment(workspace, "ds-bad")
    other_ws = Workspace.create("other", registry_url=f"sqlite:///{tmp_path / 'other.db'}")
    other_store = Datastore.register_local(other_ws, "s", tmp_path / "rows")
    foreign = Dataset.Tabular.from_delimited_files((other_store, "a.csv")).register(other_ws, "rows")
    with pytest.raises(
        MlwError, match="belongs to workspace 'other', not to the pipeline's workspace 'test'"
    ):
        experiment.submit(pipeline, pipeline_parameters={"ds_param": foreign})
    files = Dataset.File.from_files((data["store"], "a.csv")).register(workspace, "a_file")
    failed = experiment.submit(pipeline, pipeline_parameters={"ds_param": files})
    assert failed.get_status() == "Failed"
    (step,) = failed.find_step_run("count")
    assert "takes a tabular dataset; 'a_file' is a file one" in str(step.get_details())
    with pytest.raises(MlwError, match="PipelineParameter has no dataset default|no dataset default"):
        PipelineParameter("n", default_value=3).as_named_input("x")


@pytest.mark.usefixtures("dags_folder")
def test_published_pipeline_takes_a_dataset_per_run(workspace: Workspace, data: dict[str, Any]) -> None:
    """Published: the parameter is an object Param; Azure's saved-dataset id resolves to a version."""
    from airflow_mlw.exceptions import DatasetNotFoundError
    from airflow_mlw.pipelines.publish import PipelineParameterError
    from airflow_mlw.runs.triggering import conf_for

    v1, v2 = data["v1"], data["v2"]
    published = counting_pipeline(workspace, data, v1).publish("counter")
    assert published.parameters["ds_param"] == {
        "type": "object",
        "default": {"name": "rows", "version": 1, "id": v1.id},
    }
    assert conf_for(published, {}, None, {"ds_param": {"SavedDataSetReference": {"Id": v2.id}}}) == {
        "ds_param": {"name": "rows", "version": 2, "id": v2.id}
    }
    assert (
        conf_for(published, {}, None, {"ds_param": {"Name": "rows", "Version": 1}})["ds_param"]["id"] == v1.id
    )
    with pytest.raises(DatasetNotFoundError, match="no dataset version with id 'no-such-id'"):
        conf_for(published, {}, None, {"ds_param": {"SavedDataSetReference": {"Id": "no-such-id"}}})
    with pytest.raises(
        PipelineParameterError, match=r"DataSetDefinitionValueAssignments\['ds_param'\] must be"
    ):
        conf_for(published, {}, None, {"ds_param": "rows"})
    run = published.submit(workspace, "published-ds", pipeline_parameters={"ds_param": v2})
    assert metrics(run) == {"rows": 5, "total": 36, "reused": False}
