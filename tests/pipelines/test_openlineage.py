"""OpenLineage: a two-step pipeline's tasks report their inputs and outputs as OpenLineage datasets.

The real ``apache-airflow-providers-openlineage`` listener runs in the task process and writes its
events with the client's file transport; the test reads the events it wrote. The listener is added
to the task SDK's listener manager for the test (Airflow adds it when its plugins load, which the
test session has already done without an OpenLineage transport configured).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Dataset, Experiment
from airflow_mlw.execution.lineage import name_of_uri
from airflow_mlw.pipelines import OutputFileDatasetConfig, Pipeline, PipelineData, PythonScriptStep

COPY = """
import os, sys
source, target = sys.argv[1], sys.argv[2]
os.makedirs(target, exist_ok=True)
text = "".join(open(os.path.join(source, n)).read() for n in sorted(os.listdir(source)) if n.endswith(".txt"))
open(os.path.join(target, "joined.txt"), "w").write(text + "!")
"""


@pytest.fixture
def lineage_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The provider's listener, writing every event to a file folder (one JSON file per event)."""
    from airflow.providers.openlineage.plugins.adapter import OpenLineageAdapter
    from airflow.providers.openlineage.plugins.listener import get_openlineage_listener
    from airflow.sdk.listener import get_listener_manager

    folder = tmp_path / "lineage"
    folder.mkdir()
    transport = {"type": "file", "log_file_path": str(folder / "event"), "append": False}
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT", json.dumps(transport))
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__NAMESPACE", "mlw-test")
    listener = get_openlineage_listener()
    listener.adapter = OpenLineageAdapter()  # a client made from this test's transport
    manager = get_listener_manager()
    manager.add_listener(listener)
    try:
        yield folder
    finally:
        manager.pm.unregister(listener)


def completed_events(folder: Path) -> dict[str, dict[str, Any]]:
    """task id -> the COMPLETE event the listener emitted for it."""
    events = {}
    for path in sorted(folder.glob("event*")):
        event = json.loads(path.read_text())
        if event.get("eventType") == "COMPLETE" and "." in event["job"]["name"]:
            events[event["job"]["name"].split(".", 1)[1]] = event
    return events


def test_a_pipelines_steps_report_dataset_versions_paths_and_outputs(
    workspace: Any, file_datastore: Any, tmp_path: Path, lineage_events: Path
) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "copy.py").write_text(COPY)
    source = tmp_path / "raw"
    source.mkdir()
    (source / "a.txt").write_text("alpha")
    file_datastore.upload(str(source), target_path="raw", show_progress=False)
    raw = Dataset.File.from_files((file_datastore, "raw/")).register(workspace, "raw_text")

    first_out = PipelineData("first_out", datastore=file_datastore)
    registered = OutputFileDatasetConfig(name="joined", destination=(file_datastore, "joined/{run-id}"))
    registered.register_on_complete("joined_text")
    first = PythonScriptStep(
        "copy.py",
        name="first",
        source_directory=str(scripts),
        arguments=[raw.as_named_input("raw").as_mount(), first_out],
        outputs=[first_out],
    )
    second = PythonScriptStep(
        "copy.py",
        name="second",
        source_directory=str(scripts),
        arguments=[first_out, registered],
        inputs=[first_out],
    )
    run = Experiment(workspace, "lineage").submit(Pipeline(workspace, [first, second]))
    run.wait_for_completion()
    assert run.get_status() == "Finished"

    events = completed_events(lineage_events)
    assert {"first", "second"} <= set(events)
    ws_namespace = f"mlw://{workspace.name}"

    # The registered input version: its name, version, fingerprint, and the storage it names.
    [raw_in] = events["first"]["inputs"]
    assert (raw_in["namespace"], raw_in["name"]) == (ws_namespace, "raw_text")
    assert raw_in["facets"]["version"]["datasetVersion"] == "1"
    assert raw_in["facets"]["mlwDataset"]["fingerprint"] == raw.fingerprint
    [link] = raw_in["facets"]["symlinks"]["identifiers"]
    raw_location = name_of_uri(file_datastore.backend.uri("raw"))
    assert (link["namespace"], link["name"]) == raw_location

    # The first step's output is the second's input: the same OpenLineage dataset, fingerprinted.
    [first_written] = events["first"]["outputs"]
    [second_read] = events["second"]["inputs"]
    assert (first_written["namespace"], first_written["name"]) == (
        second_read["namespace"],
        second_read["name"],
    )
    expected_scheme = {"local": "file", "s3": "s3://", "azure_blob": "wasbs://"}[file_datastore.backend.kind]
    assert first_written["namespace"].startswith(expected_scheme)
    fingerprint = first_written["facets"]["version"]["datasetVersion"]
    assert fingerprint == second_read["facets"]["version"]["datasetVersion"]
    assert first_written["outputFacets"]["outputStatistics"]["fileCount"] == 1
    assert first_written["outputFacets"]["outputStatistics"]["size"] == len("alpha!")

    # The registered output: its path and its new dataset version.
    by_namespace = {o["namespace"]: o for o in events["second"]["outputs"]}
    joined = Dataset.get_by_name(workspace, "joined_text")
    assert by_namespace[ws_namespace]["name"] == "joined_text"
    assert by_namespace[ws_namespace]["facets"]["mlwDataset"]["fingerprint"] == joined.fingerprint
    [path_out] = [o for ns, o in by_namespace.items() if ns != ws_namespace]
    assert path_out["outputFacets"]["outputStatistics"]["size"] == len("alpha!!")


def test_storage_urls_split_as_openlineage_names_them() -> None:
    assert name_of_uri(Path("/srv/mlw/data/manual__10:31+00:00").as_uri()) == (
        "file",
        "/srv/mlw/data/manual__10:31+00:00",
    )
    assert name_of_uri("s3://bucket/root/p/x/y") == ("s3://bucket", "root/p/x/y")
    assert name_of_uri("wasbs://data@acct.blob.core.windows.net/a/b") == (
        "wasbs://data@acct.blob.core.windows.net",
        "a/b",
    )


def test_registering_a_dataset_reports_the_files_in_and_the_version_out(
    workspace: Any, tmp_path: Path, lineage_events: Path
) -> None:
    from airflow.sdk import DAG

    from airflow_mlw import Datastore
    from airflow_mlw.operators.dataset import RegisterDatasetOperator
    from tests.airflow_harness import run_dag

    store = Datastore.register_local(workspace, "landing", tmp_path / "landing")
    (tmp_path / "landing" / "in").mkdir(parents=True)
    (tmp_path / "landing" / "in" / "a.csv").write_text("a\n1\n")
    with DAG("mlw_lineage_register", schedule=None) as dag:
        RegisterDatasetOperator(
            task_id="register",
            name="landing",
            path="in/*.csv",
            datastore_name=store.name,
            workspace=workspace,
        )
    run_dag(dag)
    event = completed_events(lineage_events)["register"]
    assert [(i["namespace"], i["name"]) for i in event["inputs"]] == [
        ("file", str((tmp_path / "landing" / "in").absolute()))
    ]
    [version] = event["outputs"]
    assert (version["namespace"], version["name"]) == (f"mlw://{workspace.name}", "landing")
    assert version["facets"]["mlwDataset"] == {
        **version["facets"]["mlwDataset"],
        "version": 1,
        "kind": "file",
        "fingerprint": Dataset.get_by_name(workspace, "landing").fingerprint,
    }


def test_uploads_and_downloads_report_the_folder_and_the_datastore_path(
    workspace: Any, file_datastore: Any, tmp_path: Path, lineage_events: Path
) -> None:
    from airflow.sdk import DAG

    from airflow_mlw.operators.datastore import DatastoreDownloadOperator, DatastoreUploadOperator
    from tests.airflow_harness import run_dag

    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "a.txt").write_text("12345")
    with DAG("mlw_lineage_transfer", schedule=None) as dag:
        upload = DatastoreUploadOperator(
            task_id="upload",
            datastore_name=file_datastore.name,
            src_dir=str(tmp_path / "local"),
            target_path="up",
            workspace=workspace,
        )
        download = DatastoreDownloadOperator(
            task_id="download",
            datastore_name=file_datastore.name,
            target_path=str(tmp_path / "back"),
            prefix="up",
            workspace=workspace,
        )
        upload >> download
    run_dag(dag)
    events = completed_events(lineage_events)
    remote = name_of_uri(file_datastore.backend.uri("up"))
    local = ("file", str(tmp_path / "local"))
    [sent_from] = events["upload"]["inputs"]
    [sent_to] = events["upload"]["outputs"]
    assert (sent_from["namespace"], sent_from["name"]) == local
    assert (sent_to["namespace"], sent_to["name"]) == remote
    assert sent_to["outputFacets"]["outputStatistics"]["size"] == 5
    [fetched] = events["download"]["inputs"]
    [written] = events["download"]["outputs"]
    assert (fetched["namespace"], fetched["name"]) == remote
    assert (written["namespace"], written["name"]) == ("file", str(tmp_path / "back"))
