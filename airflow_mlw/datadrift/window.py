"""One target window of a drift monitor, computed by the task of the monitor's DAG.

The task reads the monitor from the registry, the baseline and the target's window (``time_between``
selects the window's files before any is read), computes the drift (``statistics``), and records
it: a run row per window (``kind="datadrift"``, a child of the backfill or ``run()`` that asked for
it), its metrics, and a ``mlw_drift_windows`` row. A magnitude over the threshold fires the alert.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_mlw.exceptions import MlwError
from airflow_mlw.execution import records
from airflow_mlw.registry.rows import DriftMonitorRow, DriftWindowRow, RunRow, utcnow

if TYPE_CHECKING:
    from airflow_mlw.datadrift.statistics import WindowDrift
    from airflow_mlw.workspace import Workspace

log = logging.getLogger(__name__)

#: Kind of the run rows of drift windows and of the backfills and runs that group them.
RUN_KIND = "datadrift"


class DriftWindowOperator(BaseOperator):
    """Compute the drift of the DAG run's target window.

    :param monitor_id: the monitor's registry id
    :param workspace: the workspace (default: ``Workspace.from_config()`` at run time)
    """

    ui_color = "#fde2e4"

    def __init__(self, *, monitor_id: str, workspace: Workspace | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.monitor_id = monitor_id
        self.workspace = workspace

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_mlw.operators.datastore import workspace_or_configured

        dag_run = context["dag_run"]
        return compute_window(
            workspace_or_configured(self.workspace),
            self.monitor_id,
            dag_run.data_interval_start,
            dag_run.data_interval_end,
            dag_id=dag_run.dag_id,
            dag_run_id=dag_run.run_id,
            parent_run_id=(dag_run.conf or {}).get("mlw_parent_run_id"),
            context=context,
        )


def window_run_id(workspace: Any, dag_id: str, dag_run_id: str) -> str:
    """The run row of a DAG run's window: the same for every try of the task."""
    return hashlib.sha256(f"{workspace.name}/{dag_id}/{dag_run_id}/drift".encode()).hexdigest()[:32]


def load_monitor(workspace: Any, monitor_id: str) -> DriftMonitorRow:
    with workspace.store.session() as session:
        row = session.get(DriftMonitorRow, monitor_id)
        if row is None or row.workspace_id != workspace._workspace_id():
            raise MlwError(f"drift monitor {monitor_id!r} is not in workspace {workspace.name!r} (deleted?)")
        session.expunge(row)
    return row


def compute_window(
    workspace: Any,
    monitor_id: str,
    interval_start: datetime,
    interval_end: datetime,
    dag_id: str,
    dag_run_id: str,
    parent_run_id: str | None = None,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Compute and record one window (the DAG run's data interval shifted by the latency)."""
    from airflow_mlw.datadrift.dag import window_of

    monitor = load_monitor(workspace, monitor_id)
    start, end = window_of(interval_start, interval_end, monitor.latency)
    run_id = window_run_id(workspace, dag_id, dag_run_id)
    _start_run(workspace, run_id, monitor, start, dag_id, dag_run_id, parent_run_id)
    try:
        drift = measure(workspace, monitor, start, end)
    except Exception as exc:
        records.set_status(workspace, run_id, "Failed", properties={"error": f"{type(exc).__name__}: {exc}"})
        raise
    summary = {
        "monitor": monitor.name,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "magnitude": drift.magnitude,
        "threshold": monitor.drift_threshold,
        "contributions": {name: f.contribution for name, f in drift.features.items()},
        "target_rows": drift.target_rows,
    }
    alerted = False
    if drift.exceeds(monitor.drift_threshold) and monitor.alert:
        from airflow_mlw.datadrift.alerts import AlertConfiguration, fire

        alert = AlertConfiguration.from_json(monitor.alert)
        assert alert is not None
        try:
            fire(alert, dict(context or {}), summary)
            alerted = True
        except Exception as exc:  # the window is computed all the same; the log says why no alert
            log.warning("drift alert of %s not sent: %s", monitor.name, exc)
    _record(workspace, monitor, run_id, dag_id, dag_run_id, start, end, drift, alerted)
    records.add_metrics(workspace, run_id, metric_records(start, end, monitor.drift_threshold, drift))
    records.set_status(workspace, run_id, "Finished")
    return {**summary, "alerted": alerted, "run_id": run_id}


def measure(workspace: Any, monitor: DriftMonitorRow, start: datetime, end: datetime) -> WindowDrift:
    """The drift of the monitor's features in the target window ``[start, end)``."""
    from airflow_mlw.datadrift.statistics import window_drift
    from airflow_mlw.datasets import Dataset

    features = list(monitor.feature_list)
    baseline = Dataset.get_by_id(workspace, monitor.baseline_dataset_id)
    target = Dataset.get_by_id(workspace, monitor.target_dataset_id)
    window = target.time_between(start, end - timedelta(microseconds=1), include_boundary=True)
    base_frame = baseline.keep_columns(with_timestamps(baseline, features)).to_pandas_dataframe()
    if target.partition_format and not window._selected_entries():  # no file of the window: no rows
        return window_drift(base_frame, base_frame.iloc[0:0], features)
    target_frame = window.keep_columns(with_timestamps(target, features)).to_pandas_dataframe()
    return window_drift(base_frame, target_frame, features)


def with_timestamps(dataset: Any, features: list[str]) -> list[str]:
    """``features`` and the dataset's timestamp columns, which ``keep_columns`` must keep."""
    stamps = getattr(dataset, "timestamp_columns", (None, None))
    return [*features, *(c for c in stamps if c and c not in features)]


def metric_records(
    start: datetime, end: datetime, threshold: float, drift: WindowDrift
) -> list[tuple[str, str, Any]]:
    """A window's run metrics: its bounds, the magnitude, and ``<feature>.<statistic>``."""
    found: list[tuple[str, str, Any]] = [
        ("start_date", "scalar", start.isoformat()),
        ("end_date", "scalar", end.isoformat()),
        ("drift_magnitude", "scalar", drift.magnitude),
        ("drift_threshold", "scalar", threshold),
        ("target_rows", "scalar", drift.target_rows),
    ]
    for name, feature in drift.features.items():
        found.append((f"{name}.drift_contribution", "scalar", feature.contribution))
        found += [(f"{name}.{stat}", "scalar", value) for stat, value in feature.statistics.items()]
    return found


def _start_run(
    workspace: Any,
    run_id: str,
    monitor: DriftMonitorRow,
    start: datetime,
    dag_id: str,
    dag_run_id: str,
    parent_run_id: str | None,
) -> None:
    with workspace.store.session(write=True) as session:
        workspace.store.insert_ignore(
            session,
            RunRow,
            id=run_id,
            workspace_id=workspace._workspace_id(),
            kind=RUN_KIND,
            experiment_name=monitor.name,
            parent_id=parent_run_id,
            name=f"{monitor.name} {start:%Y-%m-%d %H:%M}",
            dag_id=dag_id,
            dag_run_id=dag_run_id,
            task_id="compute_drift",
            compute_target=monitor.compute_target,
            status="Queued",
            outputs={},
            tags={},
            properties={"monitor_id": monitor.id},
            created_at=utcnow(),
        )
    # A retried window starts afresh: its earlier metrics go.
    from sqlalchemy import delete

    from airflow_mlw.registry.rows import MetricRow

    with workspace.store.session(write=True) as session:
        session.execute(delete(MetricRow).where(MetricRow.run_id == run_id))
    records.set_status(workspace, run_id, "Running")


def _record(
    workspace: Any,
    monitor: DriftMonitorRow,
    run_id: str,
    dag_id: str,
    dag_run_id: str,
    start: datetime,
    end: datetime,
    drift: WindowDrift,
    alerted: bool,
) -> None:
    """The window's ``mlw_drift_windows`` row; a window computed again replaces its earlier row."""
    from sqlalchemy import delete

    with workspace.store.session(write=True) as session:
        session.execute(
            delete(DriftWindowRow).where(
                DriftWindowRow.monitor_id == monitor.id, DriftWindowRow.window_start == start
            )
        )
        session.add(
            DriftWindowRow(
                monitor_id=monitor.id,
                run_id=run_id,
                dag_id=dag_id,
                dag_run_id=dag_run_id,
                window_start=start,
                window_end=end,
                magnitude=drift.magnitude,
                drift_threshold=monitor.drift_threshold,
                features={name: feature.to_json() for name, feature in drift.features.items()},
                baseline_rows=drift.baseline_rows,
                target_rows=drift.target_rows,
                alerted=alerted,
            )
        )
