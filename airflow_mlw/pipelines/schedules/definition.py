"""What a schedule is, in DAG code and in the registry alike: a recurrence or a datastore path to
watch, plus the published pipeline it runs and that pipeline's parameters. Building one does no I/O;
:class:`~airflow_mlw.pipelines.schedules.registry.Schedule` adds Azure's registry-record API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlw.datastores.paths import normalize_path
from airflow_mlw.datastores.watch import ScheduleError
from airflow_mlw.pipelines.schedules.recurrence import ScheduleRecurrence

if TYPE_CHECKING:
    from datetime import datetime

    from airflow_mlw.datastores import Datastore
    from airflow_mlw.workspace import Workspace

#: Azure's schedule statuses.
ACTIVE, DISABLED = "Active", "Disabled"


def jsonable_parameters(parameters: dict[str, Any] | None) -> dict[str, Any]:
    """Pipeline parameter values as DAG-run ``conf`` holds them (a ``DataPath`` in Azure's JSON shape)."""
    from airflow_mlw.pipelines.data import parameter_value

    return {k: parameter_value(v) for k, v in (parameters or {}).items()}


class ScheduleDefinition:
    """When a pipeline runs: on a recurrence, or when files change on a datastore.

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
        self.pipeline_parameters = jsonable_parameters(pipeline_parameters)
        self.created_at: datetime | None = None

    @property
    def datastore_name(self) -> str | None:
        """Name of the watched datastore as given (``workspaceblobstore`` means the default)."""
        if self.datastore is None or isinstance(self.datastore, str):
            return self.datastore
        return self.datastore._requested_name or "workspaceblobstore"

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
        from airflow_mlw.pipelines.schedules.airflow import datastore_asset

        return datastore_asset(self)

    def __or__(self, other: Any) -> Any:
        from airflow_mlw.pipelines.schedules.airflow import combine_schedules

        return combine_schedules(self, other)

    def __ror__(self, other: Any) -> Any:
        from airflow_mlw.pipelines.schedules.airflow import combine_schedules

        return combine_schedules(other, self)

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
