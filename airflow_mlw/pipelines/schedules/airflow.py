"""Schedules in DAG code, as Airflow takes them: ``pipeline.to_dag(schedule=ScheduleRecurrence(...))``
becomes a timetable and ``Schedule(datastore=..., path_on_datastore=...)`` an Airflow ``Asset`` whose
``AssetWatcher`` polls the datastore; ``|`` combines them (``AssetOrTimeSchedule``). Building either
does no I/O. At run time, :func:`triggered_data_path` reads what changed from the triggering events.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from typing import TYPE_CHECKING, Any

from airflow_mlw.datastores.watch import ScheduleError
from airflow_mlw.pipelines.schedules.definition import ScheduleDefinition
from airflow_mlw.pipelines.schedules.recurrence import ScheduleRecurrence

if TYPE_CHECKING:
    from airflow_mlw.workspace import Workspace


def datastore_asset(schedule: ScheduleDefinition) -> Any:
    """The Airflow ``Asset`` whose watcher polls the datastore path of ``schedule`` (no I/O)."""
    from airflow.sdk import Asset, AssetWatcher

    from airflow_mlw.triggers.datastore import DatastoreChangeTrigger

    workspace = schedule.workspace
    workspace_ref = _workspace_reference(workspace)
    label = workspace.name if workspace is not None else _configured_workspace_name()
    uri = f"mlw-datastore://{label}/{schedule.datastore_name}/{schedule.path_on_datastore}".rstrip("/")
    trigger_kwargs = {
        **workspace_ref,
        "datastore": schedule.datastore_name,
        "path": schedule.path_on_datastore,
        "recursive": schedule.recursive,
        "poll_interval": float(schedule.polling_interval) * 60,
        "data_path_parameter_name": schedule.data_path_parameter_name,
    }
    digest = hashlib.sha256(json.dumps(trigger_kwargs, sort_keys=True).encode()).hexdigest()[:12]
    watcher = f"mlw-watch-{digest}"
    trigger = DatastoreChangeTrigger(**trigger_kwargs, watcher=watcher)
    return Asset(
        name=uri.replace("mlw-datastore://", "mlw-datastore/"),
        uri=uri,
        watchers=[AssetWatcher(name=watcher, trigger=trigger)],
    )


def _configured_workspace_name() -> str:
    from airflow_mlw.config import load_settings

    return load_settings().workspace_name


def _workspace_reference(workspace: Workspace | None) -> dict[str, Any]:
    """How a trigger finds the workspace again: names only, never a password (trigger kwargs are
    stored in Airflow's database and shown in its UI)."""
    if workspace is None:
        return {"workspace_name": None, "registry_url": None, "config_path": None}
    registry_url = workspace._registry_url
    if registry_url:
        from airflow_mlw.registry.store import has_password

        if has_password(registry_url):
            raise ScheduleError(
                "a datastore watcher cannot carry a registry URL with a password; "
                "set [mlw] registry_url in Airflow's config and use Workspace.from_config()"
            )
    config_path = workspace._config_path
    return {
        "workspace_name": workspace._workspace_name,
        "registry_url": registry_url,
        "config_path": str(config_path) if config_path is not None else None,
    }


def _schedule_part(value: Any) -> tuple[str, Any] | None:
    """``("timetable", t)`` or ``("assets", a)`` for what ``|`` can combine; ``None`` otherwise."""
    if isinstance(value, ScheduleRecurrence):
        return "timetable", value.to_timetable()
    if isinstance(value, ScheduleDefinition):
        return ("timetable" if value.recurrence is not None else "assets"), value.as_airflow_schedule()
    from airflow.sdk import Asset, AssetAlias, AssetAll, AssetAny

    if isinstance(value, Asset | AssetAlias | AssetAll | AssetAny):
        return "assets", value
    return None


def combine_schedules(left: Any, right: Any) -> Any:
    """``left | right``: a recurrence with assets is an ``AssetOrTimeSchedule``; assets are ``AssetAny``."""
    left_part, right_part = _schedule_part(left), _schedule_part(right)
    if left_part is None or right_part is None:
        return NotImplemented
    parts = [left_part, right_part]
    timetables = [value for kind, value in parts if kind == "timetable"]
    assets = [value for kind, value in parts if kind == "assets"]
    if len(timetables) == 2:
        raise ScheduleError("two recurrences cannot be combined: an Airflow DAG has one timetable")
    if not timetables:
        return assets[0] | assets[1]
    from airflow.sdk import AssetOrTimeSchedule

    return AssetOrTimeSchedule(timetable=timetables[0], assets=assets[0])


def airflow_schedule(schedule: Any) -> Any:
    """What ``to_dag(schedule=...)`` hands Airflow: recurrences become timetables, schedules their
    timetable or watched asset (also inside a list); the rest passes."""
    if isinstance(schedule, ScheduleRecurrence):
        return schedule.to_timetable()
    if isinstance(schedule, ScheduleDefinition):
        return schedule.as_airflow_schedule()
    if isinstance(schedule, list | tuple) and any(isinstance(item, ScheduleDefinition) for item in schedule):
        return [
            item.as_airflow_schedule() if isinstance(item, ScheduleDefinition) else item for item in schedule
        ]
    return schedule


def triggered_data_path(context: Any, parameter_name: str) -> dict[str, Any] | None:
    """The ``DataPath`` (Azure JSON shape) that the datastore changes which triggered this DAG run
    give ``parameter_name``; ``None`` when the run was not triggered by such a watcher.

    Several events consumed by one run give the deepest path covering all their changes.
    """
    events = context.get("triggering_asset_events") or {}
    paths, datastore = [], None
    for asset_events in events.values():
        for event in asset_events:
            payload = (getattr(event, "extra", None) or {}).get("payload") or {}
            data_path = payload.get("data_path") if isinstance(payload, dict) else None
            if payload.get("data_path_parameter_name") != parameter_name or not data_path:
                continue
            if datastore not in (None, data_path["DataStoreName"]):
                raise ScheduleError(
                    f"parameter {parameter_name!r}: changes on datastores {datastore!r} and "
                    f"{data_path['DataStoreName']!r} triggered one run; give each its own parameter"
                )
            datastore = data_path["DataStoreName"]
            paths.append(data_path["RelativePath"])
    if datastore is None:
        return None
    return {"DataStoreName": datastore, "RelativePath": posixpath.commonpath(paths) if paths else ""}
