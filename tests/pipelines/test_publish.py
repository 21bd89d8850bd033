"""Published pipelines and endpoints: registry records, generated DAG files, in-process submission."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Experiment
from airflow_mlw.exceptions import MlwError
from airflow_mlw.pipeline.core import PipelineEndpoint, PublishedPipeline
from airflow_mlw.pipelines import Pipeline, PipelineData, PipelineParameter, PythonScriptStep
from airflow_mlw.pipelines.publish import PipelineParameterError, PublishedPipelineNotFound

WRITE = """
import os, sys
from airflow_mlw.core import Run
os.makedirs(sys.argv[2], exist_ok=True)
open(os.path.join(sys.argv[2], "value.txt"), "w").write(sys.argv[1] * 2)
Run.get_context().log("chars", len(sys.argv[1]) * 2)
"""


@pytest.fixture
def dags_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(folder))
    return folder


def make_pipeline(ws: Any, tmp_path: Path, compute_target: Any = None) -> Pipeline:
    scripts = tmp_path / "scripts"
    scripts.mkdir(exist_ok=True)
    # A script that would break Airflow's parse if it were read as a DAG file.
    (scripts / "write.py").write_text("# airflow dag\n" + WRITE)
    out = PipelineData("out")
    text = PipelineParameter("text", default_value="ab")
    step = PythonScriptStep(
        "write.py",
        name="write",
        source_directory=str(scripts),
        arguments=[text, out],
        outputs=[out],
        compute_target=compute_target,
    )
    return Pipeline(ws, [step])


def test_publish_writes_a_dag_file_and_runs_in_process(
    workspace: Any, tmp_path: Path, dags_folder: Path
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    published = make_pipeline(workspace, tmp_path).publish(
        "writer", description="doubles text", version="1.0"
    )
    assert published.status == "Active" and published.version == "1.0"
    assert published.parameters["text"] == {"type": "string", "default": "ab"}
    assert published.endpoint.endswith(f"/PipelineRuns/PipelineSubmit/{published.id}")
    assert "Id" not in published.endpoint.split("/PipelineRuns/")[0].split("/")
    generated = dags_folder / "mlw_published" / f"{published.dag_id}.py"
    assert generated.is_file()
    assert (dags_folder / "mlw_published" / published.dag_id / "src0" / "write.py").is_file()

    bag = DagBag(dag_folder=str(dags_folder))
    assert bag.import_errors == {}
    assert list(bag.dag_ids) == [published.dag_id]
    assert bag.dags[published.dag_id].params["text"] == "ab"

    assert PublishedPipeline.get(workspace, published.id).dag_id == published.dag_id
    assert [p.id for p in PublishedPipeline.list(workspace)] == [published.id]

    run = published.submit(workspace, "writer-exp", pipeline_parameters={"text": "xyz", "undeclared": 1})
    run.wait_for_completion(show_output=False)
    assert run.get_status() == "Finished"
    [step] = run.get_steps()
    assert step.get_metrics() == {"chars": 6}
    out = Path(step.get_output_data("out").download(str(tmp_path / "got")))
    assert (out / "value.txt").read_text() == "xyzxyz"
    assert run.experiment.name == "writer-exp"

    with pytest.raises(PipelineParameterError, match="'text' must be of type string"):
        published.submit(workspace, "writer-exp", pipeline_parameters={"text": 5})
    published.disable()
    assert PublishedPipeline.list(workspace) == []
    assert [p.status for p in PublishedPipeline.list(workspace, active_only=False)] == ["Disabled"]
    with pytest.raises(PublishedPipelineNotFound, match="'nope'"):
        PublishedPipeline.get(workspace, "nope")


def test_generated_dag_file_holds_no_secret(workspace: Any, tmp_path: Path, dags_folder: Path) -> None:
    import base64
    import pickle
    import zlib

    from airflow_mlw.core import Workspace

    pipeline = make_pipeline(workspace, tmp_path)
    datastore = workspace.get_default_datastore()
    datastore.describe()
    assert datastore.backend is not None  # cached record and backend are not pickled
    pipeline.steps[0].outputs[0].datastore = datastore
    pipeline.workspace = Workspace(workspace_name="test", registry_url="postgresql://mlw:s3cret@db/mlw")
    published = PublishedPipeline.create(workspace, pipeline, "secretless")
    text = (dags_folder / "mlw_published" / f"{published.dag_id}.py").read_text()
    payload = text.split("load_published_dag(")[1].split(", ")[1].strip("')\n")
    raw = zlib.decompress(base64.b64decode(payload))
    assert b"s3cret" not in raw
    loaded = pickle.loads(raw)
    assert loaded.workspace._registry_url is None and loaded.workspace.name == "test"
    assert set(vars(loaded.steps[0].outputs[0].datastore)) == {"workspace", "_requested_name"}


def test_publish_of_a_dag_file_pipeline_records_its_dag(
    workspace: Any, tmp_path: Path, dags_folder: Path
) -> None:
    pipeline = make_pipeline(workspace, tmp_path)
    pipeline.to_dag("writer_dag")
    published = pipeline.publish("writer")
    assert published.dag_id == "writer_dag"
    assert not (dags_folder / "mlw_published").exists()


def test_endpoint_versions(workspace: Any, tmp_path: Path, dags_folder: Path) -> None:
    first = make_pipeline(workspace, tmp_path).publish("writer")
    second = make_pipeline(workspace, tmp_path).publish("writer")
    endpoint = PipelineEndpoint.publish(workspace, "writer-endpoint", "stable name", first)
    assert endpoint.get_default_version() == "0"
    assert endpoint.endpoint.endswith(f"/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint.id}")
    assert endpoint.add(second) == "1"
    assert endpoint.get_default_version() == "0"
    assert endpoint.get_pipeline().id == first.id
    assert [(v.version, v.pipeline.id) for v in endpoint.list_versions()] == [
        ("0", first.id),
        ("1", second.id),
    ]
    endpoint.set_default_version("1")
    assert PipelineEndpoint.get(workspace, name="writer-endpoint").get_pipeline().id == second.id
    third = endpoint.add_default(make_pipeline(workspace, tmp_path))
    assert third == "2" and endpoint.get_default_version() == "2"
    endpoint.set_default(first)
    assert endpoint.get_default_version() == "0"
    with pytest.raises(PublishedPipelineNotFound, match="no version '7'"):
        endpoint.set_default_version("7")
    with pytest.raises(MlwError, match="already exists"):
        PipelineEndpoint.publish(workspace, "writer-endpoint", None, first)

    run = Experiment(workspace, "via-endpoint").submit(endpoint, pipeline_version="1")
    assert run.get_status() == "Finished"
    assert run._row().dag_id == second.dag_id

    endpoint.archive()
    assert PipelineEndpoint.list(workspace) == []
    with pytest.raises(MlwError, match="reactivate"):
        endpoint.submit("via-endpoint")
    endpoint.reactivate("renamed")
    assert PipelineEndpoint.get(workspace, id=endpoint.id).name == "renamed"
    with pytest.raises(PublishedPipelineNotFound):
        PipelineEndpoint.get(workspace, name="writer-endpoint")
