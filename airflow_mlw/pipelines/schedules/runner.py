"""What the schedule-runner DAG decides at each tick: which registry schedules are due, recorded in
``mlw_schedule_firings`` before anything is triggered so that no due time fires twice.

A firing's primary key is (schedule, due time), and its DAG run id is derived from both, so two
runner runs at once (or a retried trigger task) make one DAG run: the second insert of a firing
does nothing, and Airflow refuses a second run with the same id. Times missed while the runner was
down or the schedule disabled collapse into one firing (Airflow's ``catchup=False``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from airflow_mlw.datastores.watch import changed_data_path, changed_files, snapshot
from airflow_mlw.exceptions import MlwError
from airflow_mlw.pipelines.schedules.definition import ACTIVE
from airflow_mlw.pipelines.schedules.recurrence import ScheduleRecurrence
from airflow_mlw.pipelines.schedules.registry import as_utc
from airflow_mlw.registry.rows import (
    PipelineEndpointRow,
    PipelineEndpointVersionRow,
    PublishedPipelineRow,
    ScheduleFiringRow,
    ScheduleRow,
    WorkspaceRow,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_mlw.workspace import Workspace

log = logging.getLogger(__name__)
RUN_ID_PREFIX = "mlw_schedule"


@dataclass(frozen=True)
class Firing:
    """One due time of one schedule, as a DAG run of the published pipeline's DAG."""

    schedule_id: str
    due_at: datetime
    dag_id: str
    conf: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return f"{RUN_ID_PREFIX}__{self.schedule_id}__{self.due_at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}"

    def trigger_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of one mapped ``TriggerDagRunOperator``."""
        return {
            "trigger_dag_id": self.dag_id,
            "trigger_run_id": self.run_id,
            "conf": self.conf,
            "run_after": self.due_at.isoformat(),
        }


def due_time(
    recurrence: ScheduleRecurrence,
    created_at: datetime,
    active_since: datetime,
    last_due: datetime | None,
    now: datetime,
) -> datetime | None:
    """The due time a recurrence schedule fires at ``now``, or ``None``.

    :param created_at: the schedule's creation (periods without ``start_time`` count from it)
    :param active_since: when it was created, last enabled or given a new recurrence
    :param last_due: the due time of its last firing
    """
    since = max(created_at, active_since)
    if last_due is None and recurrence.start_time is None:
        # Azure: without a start time the first run is instant, the next ones follow the recurrence.
        return recurrence.latest_due(since, now, anchor=created_at) or (since if since <= now else None)
    after = max(last_due, since) if last_due is not None else since
    return recurrence.latest_due(after, now, anchor=created_at)


def due_firings(workspace: Workspace, now: datetime | None = None) -> list[dict[str, Any]]:
    """Record the firings due at ``now`` of every active schedule in ``workspace``'s registry and
    return the ``TriggerDagRunOperator`` keyword arguments of each (runner task; reads the registry)."""
    now = now or datetime.now(UTC)
    firings = recurrence_firings(workspace, now) + datastore_firings(workspace, now)
    for firing in firings:
        log.info(
            "schedule %s due at %s: DAG %s run %s",
            firing.schedule_id,
            firing.due_at,
            firing.dag_id,
            firing.run_id,
        )
    return [firing.trigger_kwargs() for firing in firings]


def recurrence_firings(workspace: Workspace, now: datetime) -> list[Firing]:
    """Due firings of active recurrence schedules, recorded in one transaction."""
    store = workspace.store
    fired = []
    with store.session(write=True) as session:
        rows = [
            row
            for row in session.scalars(select(ScheduleRow).where(ScheduleRow.status == ACTIVE))
            if row.recurrence
        ]
        last = dict(
            session.execute(
                select(ScheduleFiringRow.schedule_id, func.max(ScheduleFiringRow.due_at)).group_by(
                    ScheduleFiringRow.schedule_id
                )
            ).all()
        )
        for row in rows:
            config = dict(row.config or {})
            created_at = as_utc(row.created_at)
            active_since = _parse_time(config.get("active_since")) or created_at
            last_due = as_utc(last[row.id]) if row.id in last else None
            due = due_time(
                ScheduleRecurrence.from_json(dict(row.recurrence or {})),
                created_at,
                active_since,
                last_due,
                now,
            )
            if due is None:
                continue
            dag_id = target_dag_id(session, row)
            if dag_id is None:
                continue
            firing = Firing(row.id, due, dag_id, dict(config.get("pipeline_parameters") or {}))
            if record_firing(session, firing):
                fired.append(firing)
    return fired


def datastore_firings(workspace: Workspace, now: datetime) -> list[Firing]:
    """Poll the paths of active datastore schedules whose polling interval has passed; one firing per
    schedule whose files were added or modified since its last poll."""
    store = workspace.store
    with store.session() as session:
        rows = [
            row
            for row in session.scalars(select(ScheduleRow).where(ScheduleRow.status == ACTIVE))
            if not row.recurrence
        ]
        names = dict(session.execute(select(WorkspaceRow.id, WorkspaceRow.name)).all())
    fired = []
    for row in rows:
        config = dict(row.config or {})
        watch = dict(config.get("watch") or {})
        polled_at = _parse_time(watch.get("polled_at")) or as_utc(row.created_at)
        if now - polled_at < timedelta(minutes=float(config.get("polling_interval") or 5)):
            continue
        path = config.get("path_on_datastore") or ""
        try:
            datastore = _datastore(workspace, names[row.workspace_id], config["datastore"])
            current = snapshot(datastore, path, bool(config.get("recursive")))
        except MlwError as exc:
            log.error(
                "schedule %s (%s): cannot poll datastore %r path %r: %s",
                row.name,
                row.id,
                config.get("datastore"),
                path,
                exc,
            )
            continue
        changed = changed_files(dict(watch.get("files") or {}), current)
        with store.session(write=True) as session:
            fresh = session.scalar(select(ScheduleRow).where(ScheduleRow.id == row.id).with_for_update())
            fresh_watch = dict((fresh.config or {}).get("watch") or {}) if fresh is not None else {}
            if (
                fresh is None
                or fresh.status != ACTIVE
                or fresh_watch.get("polled_at") != watch.get("polled_at")
            ):
                continue  # disabled meanwhile, or another runner polled it first
            fresh.config = {**fresh.config, "watch": {"files": current, "polled_at": now.isoformat()}}
            if not changed:
                continue
            dag_id = target_dag_id(session, fresh)
            if dag_id is None:
                continue
            conf = dict(config.get("pipeline_parameters") or {})
            parameter = config.get("data_path_parameter_name")
            if parameter:
                conf[parameter] = changed_data_path(datastore.name, changed)
            firing = Firing(row.id, now, dag_id, conf)
            if record_firing(session, firing):
                fired.append(firing)
    return fired


def _datastore(workspace: Workspace, workspace_name: str, datastore_name: str) -> Any:
    from airflow_mlw.datastores import Datastore
    from airflow_mlw.workspace import Workspace

    if workspace_name != workspace.name:
        workspace = Workspace(workspace_name=workspace_name, registry_url=workspace.settings.registry_url)
    return Datastore.get(workspace, datastore_name)


def target_dag_id(session: Session, row: ScheduleRow) -> str | None:
    """The DAG of the schedule's published pipeline (an endpoint's default version *now*); ``None``
    with a warning when it is gone or disabled."""
    published_id = row.pipeline_id
    if row.pipeline_endpoint_id:
        endpoint = session.get(PipelineEndpointRow, row.pipeline_endpoint_id)
        version = (
            session.get(PipelineEndpointVersionRow, (endpoint.id, endpoint.default_version))
            if endpoint is not None and endpoint.status == ACTIVE
            else None
        )
        if version is None:
            log.warning(
                "schedule %s (%s): pipeline endpoint %s is gone or not active",
                row.name,
                row.id,
                row.pipeline_endpoint_id,
            )
            return None
        published_id = version.published_pipeline_id
    published = session.get(PublishedPipelineRow, published_id) if published_id else None
    if published is None or published.status != ACTIVE:
        log.warning(
            "schedule %s (%s): published pipeline %s is gone or not active", row.name, row.id, published_id
        )
        return None
    return published.dag_id


def record_firing(session: Session, firing: Firing) -> bool:
    """Insert the firing unless it exists (a concurrent runner waits for the first one's commit);
    True when this call recorded it."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    result = session.execute(
        insert(ScheduleFiringRow)
        .values(schedule_id=firing.schedule_id, due_at=firing.due_at, dag_run_id=firing.run_id)
        .on_conflict_do_nothing()
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _parse_time(value: str | None) -> datetime | None:
    return as_utc(datetime.fromisoformat(value)) if value else None
