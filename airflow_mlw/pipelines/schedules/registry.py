"""``Schedule`` (Azure's API): a :class:`ScheduleDefinition` that is also a registry record.

``Schedule.create(...)`` on a published pipeline (or ``create_for_pipeline_endpoint``) writes a
record that the schedule-runner DAG (:mod:`airflow_mlw.dags.schedule_runner`) turns into DAG runs;
``enable``, ``disable`` and ``update`` change the record and take effect at the runner's next tick.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_mlw.datastores.watch import ScheduleError
from airflow_mlw.pipelines.schedules.definition import (
    ACTIVE,
    DISABLED,
    ScheduleDefinition,
    jsonable_parameters,
)
from airflow_mlw.pipelines.schedules.recurrence import ScheduleRecurrence

if TYPE_CHECKING:
    from airflow_mlw.datastores import Datastore
    from airflow_mlw.workspace import Workspace


class ScheduleNotFoundError(ScheduleError):
    """No schedule with that id in the workspace."""


def as_utc(value: datetime) -> datetime:
    """Registry datetimes come back naive from SQLite: they are UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Schedule(ScheduleDefinition):
    """When a pipeline runs: on a recurrence, or when files change on a datastore (Azure's ``Schedule``).

    Two forms, one semantics:

    - in DAG code, ``Schedule(datastore=ds, path_on_datastore='in/', polling_interval=5)`` (or
      ``Schedule(recurrence=...)``) passed to ``pipeline.to_dag(schedule=...)`` becomes an Airflow
      asset watcher (or timetable); building it does no I/O;
    - at run time, :meth:`create` records a schedule of a published pipeline in the registry and the
      schedule-runner DAG fires it; :meth:`enable`, :meth:`disable` and :meth:`update` take effect at
      the runner's next tick.

    The constructor's parameters are those of :class:`ScheduleDefinition`.
    """

    @property
    def provisioning_status(self) -> str:
        """Azure provisions schedules in the cloud; a registry record is ready once written."""
        return "Completed"

    def wait_for_provisioning_completion(self, wait_timeout: int = 3600, show_output: bool = True) -> None:
        """Nothing to wait for (kept for ported code)."""

    # -- creating records -------------------------------------------------------------------------

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
        return cls._record(
            workspace,
            name,
            experiment_name,
            pipeline_id=pipeline_id,
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
        return cls._record(
            workspace,
            name,
            experiment_name,
            pipeline_endpoint_id=pipeline_endpoint_id,
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
    def _record(
        cls,
        workspace: Workspace,
        name: str,
        experiment_name: str,
        *,
        pipeline_id: str | None = None,
        pipeline_endpoint_id: str | None = None,
        recurrence: ScheduleRecurrence | None,
        description: str | None,
        pipeline_parameters: dict[str, Any] | None,
        datastore: Datastore | str | None,
        polling_interval: float,
        data_path_parameter_name: str | None,
        continue_on_step_failure: bool | None,
        path_on_datastore: str | None,
        recursive: bool,
    ) -> Schedule:
        """What :meth:`create` and :meth:`create_for_pipeline_endpoint` share: check the target
        (exactly one of ``pipeline_id`` and ``pipeline_endpoint_id``), validate, take the baseline
        of a watched datastore and write the record."""
        from airflow_mlw.registry.rows import ScheduleRow

        schema = _target_parameters(workspace, pipeline_id, pipeline_endpoint_id)
        if not name:
            raise ScheduleError("a schedule needs a name")
        draft = cls(
            workspace,
            name=name,
            recurrence=recurrence,
            polling_interval=polling_interval,
            data_path_parameter_name=data_path_parameter_name,
            path_on_datastore=path_on_datastore,
            datastore=datastore,
            recursive=recursive,
            pipeline_parameters=pipeline_parameters,
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
                description=description,
                pipeline_id=pipeline_id,
                pipeline_endpoint_id=pipeline_endpoint_id,
                experiment_name=experiment_name,
                recurrence=draft.recurrence.to_json() if draft.recurrence else None,
                config={**config, "continue_on_step_failure": continue_on_step_failure},
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
        from airflow_mlw.datastores.watch import check_watched_path, snapshot

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

    # -- reading records --------------------------------------------------------------------------

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
        from airflow_mlw.registry.rows import ScheduleRow
        from airflow_mlw.registry.store import owned_row

        with workspace.store.session() as session:
            row = owned_row(session, ScheduleRow, id, workspace._workspace_id())
            if row is None:
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

        from airflow_mlw.registry.rows import ScheduleRow

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

    # -- changing records -------------------------------------------------------------------------

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

        from airflow_mlw.registry.rows import ScheduleRow

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
                config["pipeline_parameters"] = jsonable_parameters(pipeline_parameters)
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


def _target_parameters(
    workspace: Workspace, pipeline_id: str | None, pipeline_endpoint_id: str | None
) -> dict[str, Any]:
    """The parameter schema of the published pipeline a new schedule runs (``{}`` for an endpoint,
    whose default version may change); raises :class:`ScheduleError` when the target is not in
    ``workspace``."""
    from airflow_mlw.registry.rows import PipelineEndpointRow, PublishedPipelineRow
    from airflow_mlw.registry.store import owned_row

    with workspace.store.session() as session:
        if pipeline_endpoint_id is not None:
            endpoint = owned_row(
                session, PipelineEndpointRow, pipeline_endpoint_id, workspace._workspace_id()
            )
            if endpoint is None:
                raise ScheduleError(
                    f"no pipeline endpoint with id {pipeline_endpoint_id!r} in workspace {workspace.name!r}"
                )
            return {}
        published = owned_row(session, PublishedPipelineRow, pipeline_id, workspace._workspace_id())
        if published is None:
            raise ScheduleError(
                f"no published pipeline with id {pipeline_id!r} in workspace {workspace.name!r}"
            )
        return dict(published.parameters or {})
