"""``DataDriftDetector`` (Azure's ``azureml.datadrift.DataDriftDetector``): a drift monitor.

A monitor is a registry row naming two registered dataset versions (the baseline and a time-series
target; ids, never data), its features, frequency, latency, threshold and alert, and an Airflow DAG
(``dag``) whose timetable is the frequency. ``enable_schedule`` / ``disable_schedule`` unpause and
pause that DAG; ``run`` and ``backfill`` make DAG runs of it (``runs``); each computed window is a
``mlw_drift_windows`` row and a run with metrics (``window``).
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import delete as sql_delete
from sqlalchemy import select

from airflow_mlw.datadrift import dag as monitor_dag
from airflow_mlw.datadrift import output
from airflow_mlw.datadrift.alerts import AlertConfiguration
from airflow_mlw.datadrift.runs import DriftRun, backfill_windows, run_window
from airflow_mlw.exceptions import UserErrorException
from airflow_mlw.naming import registered_name_problem
from airflow_mlw.registry.rows import DriftMonitorRow, DriftWindowRow, utcnow

#: Azure's states of a monitor's schedule.
ENABLED, DISABLED = "Enabled", "Disabled"


class DataDriftError(UserErrorException):
    """A drift monitor that cannot be made or run as asked: the message names what is wrong."""


def columns_of(dataset: Any) -> list[str]:
    """The dataset's columns (one row is read)."""
    return [str(c) for c in dataset.take(1).to_pandas_dataframe().columns]


def choose_features(baseline: Any, target: Any, feature_list: list[str] | None) -> list[str]:
    """The features to compare: ``feature_list`` (each in both datasets), else every shared column
    that is not a timestamp column.

    :raises DataDriftError: the datasets share no feature, or a listed feature is missing in one
    """
    base_columns, target_columns = columns_of(baseline), columns_of(target)
    stamps = {c for ds in (baseline, target) for c in getattr(ds, "timestamp_columns", ()) if c}
    if feature_list is not None:
        features = [feature_list] if isinstance(feature_list, str) else list(feature_list)
        for feature in features:
            for what, found in (("baseline", base_columns), ("target", target_columns)):
                if feature not in found:
                    raise DataDriftError(
                        f"feature {feature!r} of feature_list is not a column of the {what} dataset "
                        f"(its columns: {found})"
                    )
        if not features:
            raise DataDriftError("feature_list is empty: name at least one feature, or pass None")
        return features
    shared = [c for c in base_columns if c in target_columns and c not in stamps]
    if not shared:
        raise DataDriftError(
            f"the baseline and target datasets share no feature: baseline columns {base_columns}, "
            f"target columns {target_columns}"
        )
    return shared


def _registered(dataset: Any, what: str) -> str:
    dataset_id = getattr(dataset, "id", None)
    if not dataset_id:
        raise DataDriftError(f"the {what} dataset is not registered: register() it first")
    return str(dataset_id)


def _target_name(compute_target: Any) -> str | None:
    return (
        compute_target if compute_target is None or isinstance(compute_target, str) else compute_target.name
    )


def _threshold(value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
        raise DataDriftError(f"drift_threshold must be a number from 0 to 1, not {value!r}")
    return float(value)


def _latency(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise DataDriftError(f"latency must be a whole number of hours (0 or more), not {value!r}")
    return value


class DataDriftDetector:
    """A data drift monitor comparing a target dataset's time windows with a baseline dataset.

    Attributes as Azure's: ``name``, ``frequency``, ``drift_threshold``, ``feature_list``, ``latency``,
    ``state`` (``Enabled`` / ``Disabled``), ``alert_config``, ``compute_target``, ``baseline_dataset``,
    ``target_dataset``; and ``dag_id``, the Airflow DAG computing its windows.
    """

    def __init__(self, workspace: Any, row: DriftMonitorRow) -> None:
        self.workspace = workspace
        self.id = row.id
        self.name = row.name
        self.frequency = row.frequency
        self.latency = row.latency
        self.drift_threshold = row.drift_threshold
        self.feature_list = list(row.feature_list or [])
        self.compute_target = row.compute_target
        self.state = row.state
        self.dag_id = row.dag_id
        self.alert_config = AlertConfiguration.from_json(row.alert)
        self._baseline_id = row.baseline_dataset_id
        self._target_id = row.target_dataset_id

    # -- making and finding monitors ---------------------------------------------------------------

    @staticmethod
    def create_from_datasets(
        workspace: Any,
        name: str,
        baseline_data_set: Any,
        target_data_set: Any,
        compute_target: Any = None,
        frequency: str | None = None,
        feature_list: list[str] | None = None,
        alert_config: AlertConfiguration | None = None,
        drift_threshold: float | None = None,
        latency: int | None = None,
    ) -> DataDriftDetector:
        """A new monitor of ``target_data_set`` (a registered TabularDataset with a timestamp column)
        against ``baseline_data_set``; its DAG file is written into Airflow's DAGs folder, paused.

        :param frequency: ``Day``, ``Week`` (default) or ``Month``: the length of a window
        :param feature_list: the columns to compare (default: every shared non-timestamp column)
        :param drift_threshold: the magnitude (0 to 1) above which the alert fires (default 0.3)
        :param latency: hours the target's data arrives late; windows are shifted back by it
        """
        problem = registered_name_problem(name, "drift monitor")
        if problem:
            raise DataDriftError(problem)
        frequency = frequency or "Week"
        if frequency not in monitor_dag.CRON:
            raise DataDriftError(f"frequency must be one of {', '.join(monitor_dag.CRON)}, not {frequency!r}")
        threshold = _threshold(0.3 if drift_threshold is None else drift_threshold)
        hours = _latency(0 if latency is None else latency)
        if getattr(target_data_set, "timestamp_columns", (None, None))[0] is None:
            raise DataDriftError(
                "the target dataset has no timestamp column: make it with "
                "with_timestamp_columns(timestamp=...) and register it"
            )
        baseline_id = _registered(baseline_data_set, "baseline")
        target_id = _registered(target_data_set, "target")
        features = choose_features(baseline_data_set, target_data_set, feature_list)
        ws_id = workspace._workspace_id()
        with workspace.store.session() as session:
            taken = session.scalar(
                select(DriftMonitorRow.id).where(
                    DriftMonitorRow.workspace_id == ws_id, DriftMonitorRow.name == name
                )
            )
        if taken is not None:
            raise DataDriftError(f"drift monitor {name!r} already exists in workspace {workspace.name!r}")
        from airflow_mlw.registry.rows import new_id

        monitor_id = new_id()
        spec = monitor_dag.dag_spec(workspace, name, monitor_id, frequency)
        row = DriftMonitorRow(
            id=monitor_id,
            workspace_id=ws_id,
            name=name,
            baseline_dataset_id=baseline_id,
            target_dataset_id=target_id,
            frequency=frequency,
            latency=hours,
            drift_threshold=threshold,
            feature_list=features,
            compute_target=_target_name(compute_target),
            alert=alert_config.to_json() if alert_config is not None else {},
            state=DISABLED,
            dag_id=spec["dag_id"],
        )
        with workspace.store.session(write=True) as session:
            session.add(row)
            session.flush()
            session.expunge(row)
        monitor_dag.write_dag_file(spec)
        detector = DataDriftDetector(workspace, row)
        detector._register_dag()
        return detector

    @staticmethod
    def get_by_name(workspace: Any, name: str) -> DataDriftDetector:
        with workspace.store.session() as session:
            row = session.scalar(
                select(DriftMonitorRow).where(
                    DriftMonitorRow.workspace_id == workspace._workspace_id(), DriftMonitorRow.name == name
                )
            )
            if row is None:
                raise DataDriftError(f"no drift monitor named {name!r} in workspace {workspace.name!r}")
            session.expunge(row)
        return DataDriftDetector(workspace, row)

    @staticmethod
    def list(
        workspace: Any, baseline_data_set: Any = None, target_data_set: Any = None
    ) -> builtins.list[DataDriftDetector]:
        """The workspace's monitors by name (only those of the given datasets, when given)."""
        query = select(DriftMonitorRow).where(DriftMonitorRow.workspace_id == workspace._workspace_id())
        if baseline_data_set is not None:
            query = query.where(DriftMonitorRow.baseline_dataset_id == getattr(baseline_data_set, "id", None))
        if target_data_set is not None:
            query = query.where(DriftMonitorRow.target_dataset_id == getattr(target_data_set, "id", None))
        with workspace.store.session() as session:
            rows = session.scalars(query.order_by(DriftMonitorRow.name)).all()
            session.expunge_all()
        return [DataDriftDetector(workspace, row) for row in rows]

    @property
    def baseline_dataset(self) -> Any:
        from airflow_mlw.datasets import Dataset

        return Dataset.get_by_id(self.workspace, self._baseline_id)

    @property
    def target_dataset(self) -> Any:
        from airflow_mlw.datasets import Dataset

        return Dataset.get_by_id(self.workspace, self._target_id)

    @property
    def spec(self) -> dict[str, Any]:
        """The literals of the monitor's DAG file."""
        return monitor_dag.dag_spec(self.workspace, self.name, self.id, self.frequency)

    @property
    def dag_file(self) -> Any:
        return monitor_dag.dag_file(self.dag_id)

    # -- the schedule: the DAG paused or not --------------------------------------------------------

    def enable_schedule(self, create_compute_target: bool = False, wait_for_completion: bool = True) -> None:
        """Unpause the monitor's DAG: a window is computed at the end of every period."""
        self._set_state(ENABLED)

    def disable_schedule(self, wait_for_completion: bool = True) -> None:
        """Pause the monitor's DAG."""
        self._set_state(DISABLED)

    def _set_state(self, state: str) -> None:
        self._set_paused(state == DISABLED)
        self._update_row(state=state)

    def _register_dag(self) -> None:
        """Make Airflow know the DAG now when nothing else will parse it soon (no api-server, no
        dag-processor on this metadata DB): serialized, paused."""
        from airflow_mlw.pipelines.published_dag import dag_processor_running

        if self.workspace.settings.api_url or dag_processor_running():
            return
        from airflow_mlw.datadrift.runs import serialize_dag

        serialize_dag(monitor_dag.monitor_dag(self.spec))
        self._set_paused(True)

    def _set_paused(self, paused: bool) -> None:
        if self.workspace.settings.api_url:
            from airflow_mlw.api_client import ApiClient

            ApiClient.from_settings(self.workspace.settings).request(
                "PATCH", f"/api/v2/dags/{quote(self.dag_id)}", {"is_paused": paused}
            )
            return
        from airflow.models.dag import DagModel
        from airflow.utils.session import create_session

        from airflow_mlw.runs.inprocess import ensure_metadata_db

        ensure_metadata_db()
        with create_session() as session:
            model = session.get(DagModel, self.dag_id)
            if model is None:
                raise DataDriftError(
                    f"Airflow does not know DAG {self.dag_id!r} of drift monitor {self.name!r} yet: "
                    f"is {self.dag_file} in a DAG bundle the dag-processor parses?"
                )
            model.is_paused = paused

    def is_paused(self) -> bool | None:
        """Whether Airflow has the monitor's DAG paused (``None``: Airflow does not know it)."""
        from airflow.models.dag import DagModel
        from airflow.utils.session import create_session

        with create_session() as session:
            model = session.get(DagModel, self.dag_id)
            return None if model is None else bool(model.is_paused)

    # -- runs ---------------------------------------------------------------------------------------

    def run(
        self,
        target_date: datetime,
        services: Any = None,
        compute_target: Any = None,
        create_compute_target: bool = False,
        feature_list: builtins.list[str] | None = None,
        drift_threshold: float | None = None,
    ) -> DriftRun:
        """Compute the window holding ``target_date`` now (a DAG run of the monitor's DAG).

        ``feature_list`` and ``drift_threshold`` change the monitor for this and later windows.
        """
        self._apply_overrides(feature_list, drift_threshold)
        return run_window(self.workspace, self, target_date)

    def backfill(
        self,
        start_date: datetime,
        end_date: datetime,
        compute_target: Any = None,
        create_compute_target: bool = False,
    ) -> DriftRun:
        """Compute every window from ``start_date`` to ``end_date``: an Airflow backfill of the
        monitor's DAG, one DAG run per window; the run groups their runs."""
        return backfill_windows(self.workspace, self, start_date, end_date)

    def _apply_overrides(self, feature_list: Any, drift_threshold: Any) -> None:
        changes: dict[str, Any] = {}
        if feature_list is not None:
            changes["feature_list"] = choose_features(
                self.baseline_dataset, self.target_dataset, feature_list
            )
        if drift_threshold is not None:
            changes["drift_threshold"] = _threshold(drift_threshold)
        if changes:
            self._update_row(**changes)

    # -- results ------------------------------------------------------------------------------------

    def get_output(
        self, start_time: datetime | None = None, end_time: datetime | None = None, run_id: str | None = None
    ) -> tuple[builtins.list[dict[str, Any]], builtins.list[dict[str, Any]]]:
        """``(results, metrics)`` of the windows inside ``[start_time, end_time]`` (of run ``run_id``),
        oldest first: ``results`` the magnitude and per-feature drift of each, ``metrics`` Azure's
        shape (``dataset_metrics`` and ``column_metrics`` lists of ``{name, value}``)."""
        return output.get_output(self, start_time, end_time, run_id)

    def show(
        self, start_time: datetime | None = None, end_time: datetime | None = None, figsize: Any = None
    ) -> Any:
        """A matplotlib figure: the magnitude of each window with the threshold, and each feature's
        contribution per window."""
        return output.figure(self, start_time, end_time, figsize)

    # -- changes -------------------------------------------------------------------------------------

    def update(
        self,
        services: Any = None,
        compute_target: Any = None,
        feature_list: builtins.list[str] | None = None,
        schedule_start: Any = None,
        alert_config: AlertConfiguration | None = None,
        drift_threshold: float | None = None,
        wait_for_completion: bool = True,
        latency: int | None = None,
    ) -> DataDriftDetector:
        """Change the monitor's settings (those given); later windows use them."""
        self._apply_overrides(feature_list, drift_threshold)
        changes: dict[str, Any] = {}
        if compute_target is not None:
            changes["compute_target"] = _target_name(compute_target)
        if alert_config is not None:
            changes["alert"] = alert_config.to_json()
        if latency is not None:
            changes["latency"] = _latency(latency)
        if changes:
            self._update_row(**changes)
        return self

    def _update_row(self, **fields: Any) -> None:
        with self.workspace.store.session(write=True) as session:
            row = session.get(DriftMonitorRow, self.id)
            if row is None:
                raise DataDriftError(f"drift monitor {self.name!r} was deleted")
            for key, value in fields.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            session.flush()
            session.expunge(row)
        self.__init__(self.workspace, row)  # type: ignore[misc]

    def delete(self, wait_for_completion: bool = True) -> None:
        """Remove the monitor: its DAG file, its DAG in Airflow, its registry rows (window runs stay
        in the experiment named after it)."""
        self.dag_file.unlink(missing_ok=True)
        self._delete_dag()
        with self.workspace.store.session(write=True) as session:
            session.execute(sql_delete(DriftWindowRow).where(DriftWindowRow.monitor_id == self.id))
            session.execute(sql_delete(DriftMonitorRow).where(DriftMonitorRow.id == self.id))

    def _delete_dag(self) -> None:
        if self.workspace.settings.api_url:
            from airflow_mlw.api_client import ApiClient, ApiError

            try:
                ApiClient.from_settings(self.workspace.settings).request(
                    "DELETE", f"/api/v2/dags/{quote(self.dag_id)}"
                )
            except ApiError as exc:
                if exc.status != 404:
                    raise
            return
        from airflow.api.common.delete_dag import delete_dag
        from airflow.exceptions import DagNotFound

        try:
            delete_dag(self.dag_id)
        except DagNotFound:
            pass

    def __repr__(self) -> str:
        return (
            f"DataDriftDetector(name={self.name!r}, frequency={self.frequency!r}, "
            f"drift_threshold={self.drift_threshold}, feature_list={self.feature_list!r}, "
            f"latency={self.latency}, state={self.state!r}, dag_id={self.dag_id!r})"
        )
