"""Schedules: ``ScheduleRecurrence`` (Azure's validation rules, native Airflow timetables) and
``Schedule`` (Azure's API), in the two forms Airflow allows.

| recurrence | timetable |
|---|---|
| every N minutes / hours | ``DeltaTriggerTimetable`` |
| days / weeks / months at set hours and minutes, week days | ``CronTriggerTimetable`` |
| every N weeks (N > 1) | ``DeltaTriggerTimetable`` |

In DAG code a schedule lives with its DAG: ``pipeline.to_dag(schedule=ScheduleRecurrence(...))``
becomes a timetable and ``Schedule(datastore=..., path_on_datastore=...)`` an Airflow ``Asset``
whose ``AssetWatcher`` polls the datastore; ``|`` combines them (``AssetOrTimeSchedule``). Building
either does no I/O. At run time ``Schedule.create(...)`` on a published pipeline writes a registry
record that the schedule-runner DAG (:mod:`airflow_mlw.dags.schedule_runner`) turns into DAG runs.
"""

from __future__ import annotations

import builtins
import posixpath
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from airflow_mlw.exceptions import MlwError

if TYPE_CHECKING:
    from airflow_mlw.datastores import Datastore
    from airflow_mlw.workspace import Workspace

FREQUENCIES = ("Minute", "Hour", "Day", "Week", "Month")
WEEK_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CRON_DAYS = {day: day[:3].lower() for day in WEEK_DAYS}


class ScheduleRecurrenceError(MlwError):
    """A recurrence Azure would refuse (frequency, interval, hours/minutes/week_days combinations)."""


class ScheduleError(MlwError):
    """A schedule that cannot be created, found or changed as asked."""


class ScheduleNotFoundError(ScheduleError):
    """No schedule with that id in the workspace."""


class ScheduleRecurrence:
    """How often a pipeline runs (Azure's ``ScheduleRecurrence``).

    :param frequency: ``Minute``, ``Hour``, ``Day``, ``Week`` or ``Month``
    :param interval: run every ``interval`` units (1 or more)
    :param start_time: first run (datetime or ISO string); the minute/hour/day it names anchors
        ``Day``/``Week``/``Month`` recurrences without ``hours``/``minutes``
    :param time_zone: IANA time zone of ``start_time`` and the hours (default UTC)
    :param hours: hours of the day (``Day``/``Week`` only)
    :param minutes: minutes of the hour (``Day``/``Week`` only)
    :param week_days: days of the week (``Week`` only)
    :param time_of_day: ``"HH:MM"`` (``Day``/``Week`` only; not with ``hours``/``minutes``)
    """

    def __init__(
        self,
        frequency: str,
        interval: int,
        start_time: datetime | str | None = None,
        time_zone: str | None = None,
        hours: list[int] | None = None,
        minutes: list[int] | None = None,
        week_days: list[str] | None = None,
        time_of_day: str | None = None,
    ) -> None:
        self.frequency = frequency
        self.interval = interval
        self.start_time = datetime.fromisoformat(start_time) if isinstance(start_time, str) else start_time
        self.time_zone = time_zone or "UTC"
        self.hours = list(hours or [])
        self.minutes = list(minutes or [])
        self.week_days = list(week_days or [])
        self.time_of_day = time_of_day
        self.validate()

    def validate(self) -> None:
        """Azure's rules, each refused with a message naming the value."""
        if self.frequency not in FREQUENCIES:
            raise ScheduleRecurrenceError(
                f"frequency {self.frequency!r} must be one of {', '.join(FREQUENCIES)}"
            )
        if not isinstance(self.interval, int) or isinstance(self.interval, bool) or self.interval < 1:
            raise ScheduleRecurrenceError(f"interval {self.interval!r} must be an integer of at least 1")
        if (self.hours or self.minutes or self.time_of_day) and self.frequency not in ("Day", "Week"):
            raise ScheduleRecurrenceError(
                f"hours, minutes and time_of_day need frequency 'Day' or 'Week', not {self.frequency!r}"
            )
        if self.week_days and self.frequency != "Week":
            raise ScheduleRecurrenceError(f"week_days need frequency 'Week', not {self.frequency!r}")
        if self.time_of_day and (self.hours or self.minutes):
            raise ScheduleRecurrenceError("time_of_day cannot be combined with hours or minutes")
        if self.frequency in ("Day", "Week") and bool(self.hours) != bool(self.minutes):
            raise ScheduleRecurrenceError("hours and minutes must be given together")
        bad_days = [d for d in self.week_days if d not in WEEK_DAYS]
        if bad_days:
            raise ScheduleRecurrenceError(f"week_days {bad_days} are not among {', '.join(WEEK_DAYS)}")
        if any(not 0 <= h <= 23 for h in self.hours):
            raise ScheduleRecurrenceError(f"hours {self.hours} must be between 0 and 23")
        if any(not 0 <= m <= 59 for m in self.minutes):
            raise ScheduleRecurrenceError(f"minutes {self.minutes} must be between 0 and 59")
        if self.time_of_day is not None:
            try:
                hour, minute = (int(part) for part in self.time_of_day.split(":"))
                assert 0 <= hour <= 23 and 0 <= minute <= 59
            except (ValueError, AssertionError):
                raise ScheduleRecurrenceError(f"time_of_day {self.time_of_day!r} must be 'HH:MM'") from None
        if self.frequency == "Week" and self.interval != 1 and (self.week_days or self.hours):
            raise ScheduleRecurrenceError("a weekly recurrence with week_days or hours needs interval 1")

    def to_json(self) -> dict[str, Any]:
        return {
            "frequency": self.frequency,
            "interval": self.interval,
            "start_time": self.start_time.isoformat() if self.start_time else None,
            "time_zone": self.time_zone,
            "hours": self.hours,
            "minutes": self.minutes,
            "week_days": self.week_days,
            "time_of_day": self.time_of_day,
        }

    def _times(self) -> tuple[str, str]:
        """Cron minute and hour fields of a Day/Week/Month recurrence."""
        if self.time_of_day:
            hour, minute = self.time_of_day.split(":")
            return str(int(minute)), str(int(hour))
        if self.hours:
            return ",".join(str(m) for m in sorted(set(self.minutes))), ",".join(
                str(h) for h in sorted(set(self.hours))
            )
        anchor = self.start_time or datetime(2000, 1, 1)
        return str(anchor.minute), str(anchor.hour)

    def delta(self) -> timedelta | None:
        """The fixed period of ``Minute`` / ``Hour`` and every-N-weeks recurrences; ``None`` for the others."""
        if self.frequency == "Minute":
            return timedelta(minutes=self.interval)
        if self.frequency == "Hour":
            return timedelta(hours=self.interval)
        if self.frequency == "Week" and self.interval != 1:
            return timedelta(weeks=self.interval)
        return None

    def cron_expression(self) -> str | None:
        """The cron expression (in ``time_zone``) of day, week and month recurrences; ``None`` for periods."""
        if self.delta() is not None:
            return None
        minute, hour = self._times()
        if self.frequency == "Day":
            days = "*" if self.interval == 1 else f"*/{self.interval}"
            return f"{minute} {hour} {days} * *"
        if self.frequency == "Week":
            if self.week_days:
                week_days = ",".join(CRON_DAYS[d] for d in self.week_days)
            else:
                week_days = CRON_DAYS[WEEK_DAYS[(self.start_time or datetime(2000, 1, 3)).weekday()]]
            return f"{minute} {hour} * * {week_days}"
        day = (self.start_time or datetime(2000, 1, 1)).day
        months = "*" if self.interval == 1 else f"*/{self.interval}"
        return f"{minute} {hour} {day} {months} *"

    def to_timetable(self) -> Any:
        """The Airflow timetable that fires at this recurrence's times."""
        from airflow.sdk import CronTriggerTimetable, DeltaTriggerTimetable

        delta = self.delta()
        if delta is not None:
            return DeltaTriggerTimetable(delta)
        return CronTriggerTimetable(str(self.cron_expression()), timezone=self.time_zone)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScheduleRecurrence:
        return cls(**data)

    def start_at(self) -> datetime | None:
        """``start_time`` as an aware datetime (a naive one is read in ``time_zone``)."""
        if self.start_time is None or self.start_time.tzinfo is not None:
            return self.start_time
        return self.start_time.replace(tzinfo=ZoneInfo(self.time_zone))

    def latest_due(self, after: datetime, until: datetime, anchor: datetime) -> datetime | None:
        """The latest fire time in ``(after, until]`` (UTC), or ``None``: what a runner ticking at
        ``until`` fires when the last thing it fired was at ``after`` (missed times collapse into one).

        Azure's rules: periods count from ``start_time`` (its first run), or from ``anchor`` (the
        schedule's creation) without one; a pattern recurrence first runs at its next time after
        ``start_time``.
        """
        start = self.start_at()
        delta = self.delta()
        if delta is not None:
            origin = start or anchor
            if until < origin:
                return None
            latest = origin + ((until - origin) // delta) * delta
        else:
            from croniter import croniter

            expression = self.cron_expression()
            assert expression is not None
            times = croniter(expression, (until + timedelta(seconds=1)).astimezone(ZoneInfo(self.time_zone)))
            latest = times.get_prev(datetime)
            while latest > until:
                latest = times.get_prev(datetime)
            if start is not None and latest <= start:
                return None
        return latest.astimezone(UTC) if latest > after else None

    def __or__(self, other: Any) -> Any:
        return combine_schedules(self, other)

    def __ror__(self, other: Any) -> Any:
        return combine_schedules(other, self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScheduleRecurrence) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        return f"ScheduleRecurrence({self.to_json()!r})"


#: Azure's schedule statuses.
ACTIVE, DISABLED = "Active", "Disabled"


def as_utc(value: datetime) -> datetime:
    """Registry datetimes come back naive from SQLite: they are UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _jsonable_parameters(parameters: dict[str, Any] | None) -> dict[str, Any]:
    """Pipeline parameter values as DAG-run ``conf`` holds them (a ``DataPath`` in Azure's JSON shape)."""
    from airflow_mlw.pipelines.data import DataPath

    return {k: v.to_json() if isinstance(v, DataPath) else v for k, v in (parameters or {}).items()}


class Schedule:
    """When a pipeline runs: on a recurrence, or when files change on a datastore (Azure's ``Schedule``).

    Two forms, one semantics:

    - in DAG code, ``Schedule(datastore=ds, path_on_datastore='in/', polling_interval=5)`` (or
      ``Schedule(recurrence=...)``) passed to ``pipeline.to_dag(schedule=...)`` becomes an Airflow
      asset watcher (or timetable); building it does no I/O;
    - at run time, :meth:`create` records a schedule of a published pipeline in the registry and the
      schedule-runner DAG fires it; :meth:`enable`, :meth:`disable` and :meth:`update` take effect at
      the runner's next tick.

    :param workspace: the workspace (DAG code: default ``Workspace.from_config()`` when the watcher runs)
    :param recurrence: a :class:`ScheduleRecurrence` (not with a datastore)
    :param datastore_name: name of the datastore to watch (or pass ``datastore``)
    :param polling_interval: minutes between two looks at the datastore (Azure's unit; fractions allowed)
    :param data_path_parameter_name: the ``DataPath`` pipeline parameter that gets the changed path
    :param path_on_datastore: folder (or file) to watch; ``None`` watches the whole datastore
    :param datastore: the datastore to watch, a :class:`~airflow_mlw.datastores.Datastore` or a name
    :param recursive: also watch files in sub-folders of ``path_on_datastore`` (Azure does not)
    """

    def __init__(
        self,
        workspace: Workspace | None = None,
        id: str | None = None,
        name: str | None = None,
        description: str | None = None,
        pipeline_id: str | None = None,
        status: str = ACTIVE,
        recurrence: ScheduleRecurrence | None = None,
        datastore_name: str | None = None,
        polling_interval: float = 5,
        data_path_parameter_name: str | None = None,
        continue_on_step_failure: bool | None = None,
        path_on_datastore: str | None = None,
        _schedule_provider: Any = None,
        pipeline_endpoint_id: str | None = None,
        *,
        datastore: Datastore | str | None = None,
        recursive: bool = False,
        experiment_name: str | None = None,
        pipeline_parameters: dict[str, Any] | None = None,
    ) -> None:
        from airflow_mlw.datastores.paths import normalize_path

        if datastore is not None and datastore_name is not None:
            raise ScheduleError("pass datastore or datastore_name, not both")
        datastore = datastore if datastore is not None else datastore_name
        if recurrence is not None and not isinstance(recurrence, ScheduleRecurrence):
            raise ScheduleError(f"recurrence must be a ScheduleRecurrence, not {type(recurrence).__name__}")
        if recurrence is not None and datastore is not None:
            raise ScheduleError("a schedule has a recurrence or a datastore to watch, not both")
        if datastore is None and (path_on_datastore or data_path_parameter_name):
            raise ScheduleError("path_on_datastore and data_path_parameter_name need a datastore to watch")
        if (
            isinstance(polling_interval, bool)
            or not isinstance(polling_interval, int | float)
            or polling_interval <= 0
        ):
            raise ScheduleError(f"polling_interval {polling_interval!r} must be a positive number of minutes")
        if status not in (ACTIVE, DISABLED):
            raise ScheduleError(f"status {status!r} must be {ACTIVE!r} or {DISABLED!r}")
        if workspace is None and datastore is not None and not isinstance(datastore, str):
            workspace = datastore.workspace
        self.workspace = workspace
        self.id = id
        self.name = name
        self.description = description
        self.pipeline_id = pipeline_id
        self.pipeline_endpoint_id = pipeline_endpoint_id
        self.status = status
        self.recurrence = recurrence
        self.datastore = datastore
        self.polling_interval = polling_interval
        self.data_path_parameter_name = data_path_parameter_name
        self.continue_on_step_failure = continue_on_step_failure
        self.path_on_datastore = normalize_path(path_on_datastore, what="path_on_datastore")
        self.recursive = bool(recursive)
        self.experiment_name = experiment_name
        self.pipeline_parameters = _jsonable_parameters(pipeline_parameters)
        self.created_at: datetime | None = None

    # -- attributes -------------------------------------------------------------------------------

    @property
    def datastore_name(self) -> str | None:
        """Name of the watched datastore as given (``workspaceblobstore`` means the default)."""
        if self.datastore is None or isinstance(self.datastore, str):
            return self.datastore
        return self.datastore._requested_name or "workspaceblobstore"

    @property
    def provisioning_status(self) -> str:
        """Azure provisions schedules in the cloud; a registry record is ready once written."""
        return "Completed"

    def wait_for_provisioning_completion(self, wait_timeout: int = 3600, show_output: bool = True) -> None:
        """Nothing to wait for (kept for ported code)."""

    # -- DAG code ---------------------------------------------------------------------------------

    def as_airflow_schedule(self) -> Any:
        """The timetable of a recurrence schedule, or the watched ``Asset`` of a datastore schedule."""
        if self.recurrence is not None:
            return self.recurrence.to_timetable()
        if self.datastore is None:
            raise ScheduleError("a schedule needs a recurrence or a datastore to watch")
        return self.asset()

    def asset(self) -> Any:
        """The Airflow ``Asset`` whose watcher polls the datastore path (no I/O)."""
        import hashlib
        import json

        from airflow.sdk import Asset, AssetWatcher

        from airflow_mlw.triggers.datastore import DatastoreChangeTrigger

        workspace = self.workspace
        workspace_ref = _workspace_reference(workspace)
        label = workspace.name if workspace is not None else _configured_workspace_name()
        uri = f"mlw-datastore://{label}/{self.datastore_name}/{self.path_on_datastore}".rstrip("/")
        trigger_kwargs = {
            **workspace_ref,
            "datastore": self.datastore_name,
            "path": self.path_on_datastore,
            "recursive": self.recursive,
            "poll_interval": float(self.polling_interval) * 60,
            "data_path_parameter_name": self.data_path_parameter_name,
        }
        digest = hashlib.sha256(json.dumps(trigger_kwargs, sort_keys=True).encode()).hexdigest()[:12]
        watcher = f"mlw-watch-{digest}"
        trigger = DatastoreChangeTrigger(**trigger_kwargs, watcher=watcher)
        return Asset(
            name=uri.replace("mlw-datastore://", "mlw-datastore/"),
            uri=uri,
            watchers=[AssetWatcher(name=watcher, trigger=trigger)],
        )

    def __or__(self, other: Any) -> Any:
        return combine_schedules(self, other)

    def __ror__(self, other: Any) -> Any:
        return combine_schedules(other, self)

    # -- registry records -------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        workspace: Workspace,
        name: str,
        pipeline_id: str,
        experiment_name: str,
        recurrence: ScheduleRecurrence | None = None,
        description: str | None = None,
        pipeline_parameters: dict[str, Any] | None = None,
        wait_for_provisioning: bool = False,
        wait_timeout: int = 3600,
        datastore: Datastore | str | None = None,
        polling_interval: float = 5,
        data_path_parameter_name: str | None = None,
        continue_on_step_failure: bool | None = None,
        path_on_datastore: str | None = None,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
        *,
        recursive: bool = False,
    ) -> Schedule:
        """Record a schedule of the published pipeline ``pipeline_id``; the schedule-runner DAG fires it.

        Without ``start_time`` a recurrence first fires at the runner's next tick (Azure: "instantly").
        A datastore schedule (no path: the whole datastore) fires once per polling window in which
        files were added or modified, not for files present when it was created.
        """
        from airflow_mlw.registry.models import PublishedPipelineRow

        with workspace.store.session() as session:
            row = session.get(PublishedPipelineRow, pipeline_id)
            if row is None or row.workspace_id != workspace._workspace_id():
                raise ScheduleError(
                    f"no published pipeline with id {pipeline_id!r} in workspace {workspace.name!r}"
                )
            schema = dict(row.parameters or {})
        return cls._create(
            workspace,
            name=name,
            experiment_name=experiment_name,
            pipeline_id=pipeline_id,
            schema=schema,
            recurrence=recurrence,
            description=description,
            pipeline_parameters=pipeline_parameters,
            datastore=datastore,
            polling_interval=polling_interval,
            data_path_parameter_name=data_path_parameter_name,
            continue_on_step_failure=continue_on_step_failure,
            path_on_datastore=path_on_datastore,
            recursive=recursive,
        )

    @classmethod
    def create_for_pipeline_endpoint(
        cls,
        workspace: Workspace,
        name: str,
        pipeline_endpoint_id: str,
        experiment_name: str,
        recurrence: ScheduleRecurrence | None = None,
        description: str | None = None,
        pipeline_parameters: dict[str, Any] | None = None,
        wait_for_provisioning: bool = False,
        wait_timeout: int = 3600,
        datastore: Datastore | str | None = None,
        polling_interval: float = 5,
        data_path_parameter_name: str | None = None,
        continue_on_step_failure: bool | None = None,
        path_on_datastore: str | None = None,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
        *,
        recursive: bool = False,
    ) -> Schedule:
        """Like :meth:`create`, for a pipeline endpoint: each firing runs its default version *then*."""
        from airflow_mlw.registry.models import PipelineEndpointRow

        with workspace.store.session() as session:
            row = session.get(PipelineEndpointRow, pipeline_endpoint_id)
            if row is None or row.workspace_id != workspace._workspace_id():
                raise ScheduleError(
                    f"no pipeline endpoint with id {pipeline_endpoint_id!r} in workspace {workspace.name!r}"
                )
        return cls._create(
            workspace,
            name=name,
            experiment_name=experiment_name,
            pipeline_endpoint_id=pipeline_endpoint_id,
            schema={},
            recurrence=recurrence,
            description=description,
            pipeline_parameters=pipeline_parameters,
            datastore=datastore,
            polling_interval=polling_interval,
            data_path_parameter_name=data_path_parameter_name,
            continue_on_step_failure=continue_on_step_failure,
            path_on_datastore=path_on_datastore,
            recursive=recursive,
        )

    @classmethod
    def _create(
        cls,
        workspace: Workspace,
        *,
        name: str,
        experiment_name: str,
        schema: dict[str, Any],
        pipeline_id: str | None = None,
        pipeline_endpoint_id: str | None = None,
        **options: Any,
    ) -> Schedule:
        from airflow_mlw.registry.models import ScheduleRow

        if not name:
            raise ScheduleError("a schedule needs a name")
        draft = cls(
            workspace,
            name=name,
            recurrence=options["recurrence"],
            polling_interval=options["polling_interval"],
            data_path_parameter_name=options["data_path_parameter_name"],
            path_on_datastore=options["path_on_datastore"],
            datastore=options["datastore"],
            recursive=options["recursive"],
            pipeline_parameters=options["pipeline_parameters"],
        )
        if draft.recurrence is None and draft.datastore is None:
            raise ScheduleError(f"schedule {name!r} needs a recurrence or a datastore to watch")
        if draft.data_path_parameter_name and schema and draft.data_path_parameter_name not in schema:
            raise ScheduleError(
                f"schedule {name!r}: the pipeline has no parameter {draft.data_path_parameter_name!r} "
                f"(it has {', '.join(sorted(schema)) or 'none'})"
            )
        now = datetime.now(UTC)
        config = draft._config(now)
        with workspace.store.session(write=True) as session:
            row = ScheduleRow(
                workspace_id=workspace._workspace_id(),
                name=name,
                description=options["description"],
                pipeline_id=pipeline_id,
                pipeline_endpoint_id=pipeline_endpoint_id,
                experiment_name=experiment_name,
                recurrence=draft.recurrence.to_json() if draft.recurrence else None,
                config={**config, "continue_on_step_failure": options["continue_on_step_failure"]},
                status=ACTIVE,
                created_at=now,
            )
            session.add(row)
            session.flush()
            return cls._from_row(workspace, row)

    def _config(self, now: datetime) -> dict[str, Any]:
        """The registry ``config`` of this schedule; a datastore schedule takes its baseline here."""
        return {
            "pipeline_parameters": self.pipeline_parameters,
            "active_since": now.isoformat(),
            **self._watch_config(now),
        }

    def _watch_config(self, now: datetime) -> dict[str, Any]:
        """What the runner watches, with a baseline snapshot taken now (empty for recurrences)."""
        if self.datastore is None:
            return {}
        from airflow_mlw.pipelines.datastore_watch import check_watched_path, snapshot

        datastore = self._resolved_datastore()
        check_watched_path(datastore, self.path_on_datastore)
        return {
            "datastore": datastore.name,
            "path_on_datastore": self.path_on_datastore,
            "polling_interval": self.polling_interval,
            "data_path_parameter_name": self.data_path_parameter_name,
            "recursive": self.recursive,
            "watch": {
                "files": snapshot(datastore, self.path_on_datastore, self.recursive),
                "polled_at": now.isoformat(),
            },
        }

    def _resolved_datastore(self) -> Datastore:
        from airflow_mlw.datastores import Datastore

        if isinstance(self.datastore, Datastore):
            return Datastore.get(self.datastore.workspace, self.datastore.name)
        assert self.workspace is not None
        return Datastore.get(self.workspace, self.datastore or "workspaceblobstore")

    @classmethod
    def _from_row(cls, workspace: Workspace, row: Any) -> Schedule:
        config = dict(row.config or {})
        schedule = cls(
            workspace,
            id=row.id,
            name=row.name,
            description=row.description,
            pipeline_id=row.pipeline_id,
            status=row.status,
            recurrence=ScheduleRecurrence.from_json(row.recurrence) if row.recurrence else None,
            polling_interval=config.get("polling_interval", 5),
            data_path_parameter_name=config.get("data_path_parameter_name"),
            continue_on_step_failure=config.get("continue_on_step_failure"),
            path_on_datastore=config.get("path_on_datastore"),
            pipeline_endpoint_id=row.pipeline_endpoint_id,
            datastore=config.get("datastore"),
            recursive=config.get("recursive", False),
            experiment_name=row.experiment_name,
            pipeline_parameters=config.get("pipeline_parameters"),
        )
        schedule.created_at = as_utc(row.created_at)
        return schedule

    @classmethod
    def get(
        cls, workspace: Workspace, id: str, _workflow_provider: Any = None, _service_endpoint: Any = None
    ) -> Schedule:
        """The schedule ``id``; raises :class:`ScheduleNotFoundError`."""
        from airflow_mlw.registry.models import ScheduleRow

        with workspace.store.session() as session:
            row = session.get(ScheduleRow, id)
            if row is None or row.workspace_id != workspace._workspace_id():
                raise ScheduleNotFoundError(f"no schedule with id {id!r} in workspace {workspace.name!r}")
            return cls._from_row(workspace, row)

    @classmethod
    def list(
        cls,
        workspace: Workspace,
        pipeline_id: str | None = None,
        active_only: bool = True,
        pipeline_endpoint_id: str | None = None,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
    ) -> builtins.list[Schedule]:
        """The workspace's schedules, oldest first; only active ones unless ``active_only=False``."""
        from sqlalchemy import select

        from airflow_mlw.registry.models import ScheduleRow

        query = select(ScheduleRow).where(ScheduleRow.workspace_id == workspace._workspace_id())
        if pipeline_id is not None:
            query = query.where(ScheduleRow.pipeline_id == pipeline_id)
        if pipeline_endpoint_id is not None:
            query = query.where(ScheduleRow.pipeline_endpoint_id == pipeline_endpoint_id)
        if active_only:
            query = query.where(ScheduleRow.status == ACTIVE)
        with workspace.store.session() as session:
            rows = session.scalars(query.order_by(ScheduleRow.created_at, ScheduleRow.id)).all()
            return [cls._from_row(workspace, row) for row in rows]

    @classmethod
    def get_schedules_for_pipeline_id(
        cls, workspace: Workspace, pipeline_id: str, **_: Any
    ) -> builtins.list[Schedule]:
        """Every schedule (active or not) of the published pipeline ``pipeline_id``."""
        return cls.list(workspace, pipeline_id=pipeline_id, active_only=False)

    @classmethod
    def get_schedules_for_pipeline_endpoint_id(
        cls, workspace: Workspace, pipeline_endpoint_id: str, **_: Any
    ) -> builtins.list[Schedule]:
        """Every schedule (active or not) of the pipeline endpoint ``pipeline_endpoint_id``."""
        return cls.list(workspace, pipeline_endpoint_id=pipeline_endpoint_id, active_only=False)

    def enable(self, wait_for_provisioning: bool = False, wait_timeout: int = 3600) -> None:
        """Fire again from the runner's next tick (times missed and files changed while disabled do
        not fire)."""
        self.update(status=ACTIVE)

    def disable(self, wait_for_provisioning: bool = False, wait_timeout: int = 3600) -> None:
        """Stop firing from the runner's next tick."""
        self.update(status=DISABLED)

    def update(
        self,
        name: str | None = None,
        description: str | None = None,
        recurrence: ScheduleRecurrence | None = None,
        pipeline_parameters: dict[str, Any] | None = None,
        status: str | None = None,
        wait_for_provisioning: bool = False,
        wait_timeout: int = 3600,
        datastore: Datastore | str | None = None,
        polling_interval: float | None = None,
        data_path_parameter_name: str | None = None,
        continue_on_step_failure: bool | None = None,
        path_on_datastore: str | None = None,
    ) -> None:
        """Change the record; ``None`` keeps a value. A new recurrence or a re-enable counts from now
        (nothing missed meanwhile fires); a datastore schedule re-enabled or moved to a new datastore
        or path takes a new baseline."""
        from sqlalchemy import select

        from airflow_mlw.registry.models import ScheduleRow

        workspace = self._recorded_workspace()
        if status is not None and status not in (ACTIVE, DISABLED):
            raise ScheduleError(f"status {status!r} must be {ACTIVE!r} or {DISABLED!r}")
        if recurrence is not None and self.recurrence is None:
            raise ScheduleError(f"schedule {self.name!r} watches a datastore; it cannot take a recurrence")
        watch_changed = datastore is not None or path_on_datastore is not None
        if self.recurrence is not None and (watch_changed or data_path_parameter_name or polling_interval):
            raise ScheduleError(f"schedule {self.name!r} runs on a recurrence; it watches no datastore")
        now = datetime.now(UTC)
        watch_config: dict[str, Any] = {}
        if self.datastore is not None:
            draft = Schedule(
                workspace,
                datastore=datastore if datastore is not None else self.datastore,
                path_on_datastore=path_on_datastore
                if path_on_datastore is not None
                else self.path_on_datastore,
                polling_interval=polling_interval if polling_interval is not None else self.polling_interval,
                data_path_parameter_name=data_path_parameter_name or self.data_path_parameter_name,
                recursive=self.recursive,
            )
            if watch_changed or (status == ACTIVE and self.status != ACTIVE):
                # A new baseline: files changed while disabled, or before the watch moved, do not fire.
                watch_config = draft._watch_config(now)
            else:
                watch_config = {
                    "polling_interval": draft.polling_interval,
                    "data_path_parameter_name": draft.data_path_parameter_name,
                }
        with workspace.store.session(write=True) as session:
            row = session.scalar(select(ScheduleRow).where(ScheduleRow.id == self.id).with_for_update())
            if row is None:
                raise ScheduleNotFoundError(
                    f"no schedule with id {self.id!r} in workspace {workspace.name!r}"
                )
            config = dict(row.config or {})
            if name is not None:
                row.name = name
            if description is not None:
                row.description = description
            if recurrence is not None:
                row.recurrence = recurrence.to_json()
                config["active_since"] = now.isoformat()
            if pipeline_parameters is not None:
                config["pipeline_parameters"] = _jsonable_parameters(pipeline_parameters)
            if continue_on_step_failure is not None:
                config["continue_on_step_failure"] = continue_on_step_failure
            if status is not None:
                if status == ACTIVE and row.status != ACTIVE:
                    config["active_since"] = now.isoformat()
                row.status = status
            config.update(watch_config)
            row.config = config
            session.flush()
            fresh = Schedule._from_row(workspace, row)
        self.__dict__.update(fresh.__dict__)

    def _recorded_workspace(self) -> Workspace:
        if self.id is None or self.workspace is None:
            raise ScheduleError(
                "this Schedule is not a registry record; create one with Schedule.create(...) "
                "(in DAG code a schedule changes with its DAG file)"
            )
        return self.workspace

    def __repr__(self) -> str:
        what = (
            f"recurrence={self.recurrence!r}"
            if self.recurrence is not None
            else f"datastore={self.datastore_name!r}, path_on_datastore={self.path_on_datastore!r}"
        )
        return (
            f"Schedule(id={self.id!r}, name={self.name!r}, pipeline_id={self.pipeline_id!r}, "
            f"pipeline_endpoint_id={self.pipeline_endpoint_id!r}, status={self.status!r}, {what})"
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
        from sqlalchemy.engine import make_url

        if make_url(registry_url).password:
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
    if isinstance(value, Schedule):
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
    if isinstance(schedule, ScheduleRecurrence | Schedule):
        return schedule.as_airflow_schedule() if isinstance(schedule, Schedule) else schedule.to_timetable()
    if isinstance(schedule, list | tuple) and any(isinstance(item, Schedule) for item in schedule):
        return [item.as_airflow_schedule() if isinstance(item, Schedule) else item for item in schedule]
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
