"""``Schedule.create`` and friends: registry records on SQLite and PostgreSQL, Azure's API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.pipeline.core import PipelineEndpoint, Schedule, ScheduleRecurrence
from airflow_mlw.pipeline.core.schedule import ScheduleError, ScheduleNotFoundError
from tests.pipelines.published import publish_pipeline


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "store" / "in").mkdir(parents=True)
    (tmp_path / "store" / "in" / "present.csv").write_text("x\n")
    return tmp_path / "store"


def workspace_with_files(registry_url: str, files: Path) -> Any:
    from airflow_mlw import Datastore, Workspace

    workspace = Workspace.create("sched", registry_url=registry_url)
    Datastore.register_local(workspace, "files", files)
    return workspace


def test_create_get_list_update_enable_disable(registry_url: str, files: Path, tmp_path: Path) -> None:
    ws = workspace_with_files(registry_url, files)
    published = publish_pipeline(ws, tmp_path)
    daily = ScheduleRecurrence("Day", 1, hours=[6], minutes=[0])
    schedule = Schedule.create(
        ws, "daily", published.id, "nightly-exp", recurrence=daily, pipeline_parameters={"greeting": "hi"}
    )
    watcher = Schedule.create(
        ws,
        "on-files",
        published.id,
        "nightly-exp",
        datastore="files",
        path_on_datastore="/in/",
        polling_interval=2,
        data_path_parameter_name="incoming",
    )

    got = Schedule.get(ws, schedule.id)
    assert (got.id, got.name, got.pipeline_id, got.status) == (schedule.id, "daily", published.id, "Active")
    assert got.recurrence == daily and got.pipeline_parameters == {"greeting": "hi"}
    assert got.experiment_name == "nightly-exp" and got.datastore_name is None
    on_files = Schedule.get(ws, watcher.id)
    assert on_files.recurrence is None
    assert (on_files.datastore_name, on_files.path_on_datastore, on_files.polling_interval) == (
        "files",
        "in",
        2,
    )
    assert on_files.data_path_parameter_name == "incoming"
    assert [s.id for s in Schedule.list(ws)] == [schedule.id, watcher.id]
    assert [s.id for s in Schedule.get_schedules_for_pipeline_id(ws, published.id)] == [
        schedule.id,
        watcher.id,
    ]
    assert Schedule.list(ws, pipeline_id="elsewhere") == []

    schedule.disable()
    assert schedule.status == "Disabled" and Schedule.get(ws, schedule.id).status == "Disabled"
    assert [s.id for s in Schedule.list(ws)] == [watcher.id]
    assert {s.id for s in Schedule.list(ws, active_only=False)} == {schedule.id, watcher.id}

    schedule.update(
        name="twice-hourly", recurrence=ScheduleRecurrence("Hour", 2), pipeline_parameters={"greeting": "yo"}
    )
    schedule.enable()
    got = Schedule.get(ws, schedule.id)
    assert (got.name, got.status, got.recurrence) == ("twice-hourly", "Active", ScheduleRecurrence("Hour", 2))
    assert got.pipeline_parameters == {"greeting": "yo"}

    watcher.update(polling_interval=0.5, path_on_datastore="in/present.csv")
    got = Schedule.get(ws, watcher.id)
    assert (got.polling_interval, got.path_on_datastore) == (0.5, "in/present.csv")


def test_schedule_of_a_pipeline_endpoint(registry_url: str, files: Path, tmp_path: Path) -> None:
    ws = workspace_with_files(registry_url, files)
    endpoint = PipelineEndpoint.publish(ws, "ep", "an endpoint", publish_pipeline(ws, tmp_path))
    schedule = Schedule.create_for_pipeline_endpoint(
        ws, "hourly", endpoint.id, "exp", recurrence=ScheduleRecurrence("Hour", 1)
    )
    assert schedule.pipeline_endpoint_id == endpoint.id and schedule.pipeline_id is None
    assert [s.id for s in Schedule.get_schedules_for_pipeline_endpoint_id(ws, endpoint.id)] == [schedule.id]
    assert Schedule.get_schedules_for_pipeline_endpoint_id(ws, "other") == []


def test_refusals_name_what_is_wrong(files: Path, tmp_path: Path) -> None:
    ws = workspace_with_files(f"sqlite:///{tmp_path / 'registry.db'}", files)
    published = publish_pipeline(ws, tmp_path)
    hourly = ScheduleRecurrence("Hour", 1)
    with pytest.raises(ScheduleError, match="no published pipeline with id 'nope' in workspace 'sched'"):
        Schedule.create(ws, "s", "nope", "exp", recurrence=hourly)
    with pytest.raises(ScheduleError, match="no pipeline endpoint with id 'nope'"):
        Schedule.create_for_pipeline_endpoint(ws, "s", "nope", "exp", recurrence=hourly)
    with pytest.raises(ScheduleError, match="a recurrence or a datastore to watch, not both"):
        Schedule.create(ws, "s", published.id, "exp", recurrence=hourly, datastore="files")
    with pytest.raises(ScheduleError, match="needs a recurrence or a datastore"):
        Schedule.create(ws, "s", published.id, "exp")
    with pytest.raises(ScheduleError, match="datastore 'files' has no path 'missing/folder'"):
        Schedule.create(ws, "s", published.id, "exp", datastore="files", path_on_datastore="missing/folder")
    with pytest.raises(ScheduleError, match="has no parameter 'input_data'"):
        Schedule.create(
            ws, "s", published.id, "exp", datastore="files", data_path_parameter_name="input_data"
        )
    with pytest.raises(ScheduleError, match="polling_interval 0 must be a positive number of minutes"):
        Schedule.create(ws, "s", published.id, "exp", datastore="files", polling_interval=0)
    with pytest.raises(ScheduleNotFoundError, match="no schedule with id 'nope'"):
        Schedule.get(ws, "nope")
    on_files = Schedule.create(ws, "s", published.id, "exp", datastore="files")
    with pytest.raises(ScheduleError, match="watches a datastore; it cannot take a recurrence"):
        on_files.update(recurrence=hourly)
    with pytest.raises(ScheduleError, match="status 'Paused' must be 'Active' or 'Disabled'"):
        on_files.update(status="Paused")
    with pytest.raises(ScheduleError, match="not a registry record"):
        Schedule(recurrence=hourly).disable()
    # Nothing above left a record behind.
    assert [s.name for s in Schedule.list(ws, active_only=False)] == ["s"]
