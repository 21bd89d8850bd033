"""Runs of a drift monitor's DAG: ``run(target_date)`` (one window) and ``backfill`` (Airflow's own
backfill, one DAG run per window), over the api-server's REST API or in this process.

Both return a :class:`DriftRun`, a run row grouping the window runs (its children), which works as
Azure's run does: ``RunDetails(run).show()``, ``wait_for_completion()``, ``get_status()`` and
``get_metrics()`` (each metric of the windows as the list of its values, oldest window first).

In-process (no ``[mlw] api_url``, like ``Experiment.submit``): the DAG is serialized into Airflow's
metadata DB, Airflow's backfill makes the window DAG runs (``airflow.models.backfill``), and each is
run here task by task, as ``dag.test()`` runs one, with the same run log.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import select

from airflow_mlw.datadrift.dag import PARENT_KEY, interval_holding, monitor_dag, period
from airflow_mlw.datadrift.window import RUN_KIND
from airflow_mlw.exceptions import MlwError
from airflow_mlw.execution import records
from airflow_mlw.registry.rows import RunRow
from airflow_mlw.runs.inprocess import BUNDLE, RunLog, ensure_metadata_db
from airflow_mlw.runs.submitted import SubmittedRun

#: Loops of an in-process DAG run with nothing to run before it is given up (0.2 s each).
IDLE_LIMIT = 300


class DriftRun(SubmittedRun):
    """A backfill or ``run()`` of a drift monitor; its children are the window runs."""

    def _windows(self) -> list[Any]:
        with self.workspace.store.session() as session:
            rows = session.scalars(select(RunRow).where(RunRow.parent_id == self.id)).all()
            session.expunge_all()
        return sorted(rows, key=lambda row: row.name or "")

    def get_status(self) -> str:
        """Finished once every window ran (Failed if one failed); windows run by a scheduler are
        counted as they end."""
        row = self._row()
        if row.status in records.TERMINAL:
            return str(row.status)
        expected = int((row.properties or {}).get("windows", 0))
        windows = self._windows()
        ended = [w for w in windows if w.status in records.TERMINAL]
        if expected and len(ended) >= expected:
            status = "Failed" if any(w.status != "Finished" for w in ended) else "Finished"
            records.set_status(self.workspace, self.id, status)
            return status
        return "Running" if windows else str(row.status)

    def get_metrics(self, name: str | None = None) -> dict[str, Any]:
        """Each window's metrics in window order: a metric of several windows is the list of its values."""
        found: list[tuple[str, str, Any]] = []
        for window in self._windows():
            found += records.load_metrics(self.workspace, window.id)
        return records.fold_metrics(found, name)

    def __repr__(self) -> str:
        return f"DriftRun(id={self.id!r}, status={self.get_status()!r})"


def start_run(workspace: Any, monitor: Any, name: str, windows: int) -> DriftRun:
    run_id = records.create_run(
        workspace,
        kind=RUN_KIND,
        experiment_name=monitor.name,
        name=name,
        dag_id=monitor.dag_id,
        status="Running",
        started_at=records.utcnow(),
        compute_target=monitor.compute_target,
        outputs={},
        tags={},
        properties={"monitor_id": monitor.id, "windows": windows},
    )
    return DriftRun(workspace, run_id)


def run_window(workspace: Any, monitor: Any, target_date: datetime) -> DriftRun:
    """One DAG run for the window holding ``target_date``."""
    start, end = interval_holding(as_utc(target_date), monitor.frequency, monitor.latency)
    run = start_run(workspace, monitor, f"run {target_date:%Y-%m-%d %H:%M}", 1)
    conf = {PARENT_KEY: run.id}
    if workspace.settings.api_url:
        body = {
            "logical_date": end.isoformat(),
            "data_interval_start": start.isoformat(),
            "data_interval_end": end.isoformat(),
            "conf": conf,
        }
        _api(workspace).request("POST", f"/api/v2/dags/{quote(monitor.dag_id)}/dagRuns", body)
        return run
    dag = monitor_dag(monitor.spec)
    with RunLog(dag) as log:
        serialize_dag(dag)
        dag_run_id = _manual_dag_run(dag, start, end, conf)
        log.dag_run_id = dag_run_id
        run_dag_run(dag, dag_run_id)
    run.get_status()
    return run


def backfill_windows(workspace: Any, monitor: Any, start_date: datetime, end_date: datetime) -> DriftRun:
    """An Airflow backfill of the monitor's DAG from ``start_date`` to ``end_date``."""
    start_date, end_date = as_utc(start_date), as_utc(end_date)
    if start_date > end_date:
        raise MlwError(f"backfill: start_date {start_date} is after end_date {end_date}")
    run = start_run(workspace, monitor, f"backfill {start_date:%Y-%m-%d} to {end_date:%Y-%m-%d}", 0)
    conf = {PARENT_KEY: run.id}
    # The windows that overlap [start_date, end_date): a DAG run's logical date is its data
    # interval's end, the window's end plus the latency (Airflow's range includes both bounds).
    shift, tick = timedelta(hours=monitor.latency), timedelta(microseconds=1)
    from_date = start_date + shift + tick
    to_date = min(end_date + period(monitor.frequency) + shift - tick, datetime.now(UTC))
    if workspace.settings.api_url:
        body = {
            "dag_id": monitor.dag_id,
            "from_date": from_date.isoformat(),
            "to_date": to_date.isoformat(),
            "dag_run_conf": conf,
            "max_active_runs": 4,
            "reprocess_behavior": "completed",
        }
        answer = _api(workspace).request("POST", "/api/v2/backfills", body) or {}
        _set_windows(workspace, run.id, _count_backfill_runs(workspace, answer))
        return run
    from airflow.models.backfill import ReprocessBehavior, _create_backfill

    dag = monitor_dag(monitor.spec)
    with RunLog(dag) as log:
        serialize_dag(dag)
        try:
            backfill = _locked_retry(
                lambda: _create_backfill(
                    dag_id=dag.dag_id,
                    from_date=from_date,
                    to_date=to_date,
                    max_active_runs=4,
                    reverse=False,
                    dag_run_conf=conf,
                    triggering_user_name="mlw",
                    reprocess_behavior=ReprocessBehavior.COMPLETED,
                )
            )
        except Exception as exc:
            records.set_status(workspace, run.id, "Failed", properties={"error": str(exc)})
            raise MlwError(f"backfill of drift monitor {monitor.name!r}: {exc}") from exc
        dag_run_ids = _backfill_dag_runs(backfill.id)
        _set_windows(workspace, run.id, len(dag_run_ids))
        for dag_run_id in dag_run_ids:
            log.dag_run_id = dag_run_id
            run_dag_run(dag, dag_run_id)
        _complete_backfill(backfill.id)
    run.get_status()
    return run


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are UTC (as Azure takes them)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _api(workspace: Any) -> Any:
    from airflow_mlw.api_client import ApiClient

    return ApiClient.from_settings(workspace.settings)


def _set_windows(workspace: Any, run_id: str, count: int) -> None:
    with workspace.store.session(write=True) as session:
        row = session.get(RunRow, run_id)
        assert row is not None
        row.properties = {**(row.properties or {}), "windows": count}
        if count == 0:
            row.status, row.finished_at = "Finished", records.utcnow()


def _count_backfill_runs(workspace: Any, backfill: dict[str, Any]) -> int:
    """How many DAG runs a backfill made (the REST API's ``GET /backfills/{id}`` lists none)."""
    dag_id, backfill_id = backfill.get("dag_id"), backfill.get("id")
    if not dag_id or backfill_id is None:
        return 0
    answer = _api(workspace).request(
        "GET", f"/api/v2/dags/{quote(dag_id)}/dagRuns?limit=1000&run_type=backfill"
    )
    return sum(1 for run in (answer or {}).get("dag_runs", []) if run.get("backfill_id") == backfill_id)


def serialize_dag(dag: Any) -> None:
    """The DAG in Airflow's metadata DB, as ``run_dag`` puts in-process DAGs there."""
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    ensure_metadata_db()
    bag = DagBag(dag_folder="/nonexistent-mlw-in-process")
    bag.bag_dag(dag)
    sync_bag_to_db(bag, bundle_name=BUNDLE, bundle_version=None)


def _backfill_dag_runs(backfill_id: int) -> list[str]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        return list(
            session.scalars(
                select(DagRun.run_id).where(DagRun.backfill_id == backfill_id).order_by(DagRun.logical_date)
            )
        )


def _complete_backfill(backfill_id: int) -> None:
    """What the scheduler does once a backfill's runs ended (another backfill may then start)."""
    from airflow.models.backfill import Backfill
    from airflow.utils.session import create_session

    with create_session() as session:
        backfill = session.get(Backfill, backfill_id)
        if backfill is not None and backfill.completed_at is None:
            backfill.completed_at = datetime.now(UTC)


def _manual_dag_run(dag: Any, start: datetime, end: datetime, conf: dict[str, Any]) -> str:
    """A manual DAG run for the data interval ``[start, end)`` (one at that logical date replaced)."""
    from airflow.models.dagrun import DagRun, get_or_create_dagrun
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    with create_session() as session:
        dag_run = get_or_create_dagrun(
            dag=scheduler_dag,
            run_id=DagRun.generate_run_id(run_type=DagRunType.MANUAL, logical_date=end, run_after=end),
            logical_date=end,
            data_interval=(start, end),
            run_after=datetime.now(UTC),
            conf=conf,
            triggered_by=DagRunTriggeredByType.TEST,
            triggering_user_name="mlw",
            start_date=datetime.now(UTC),
            session=session,
        )
        return str(dag_run.run_id)


def run_dag_run(dag: Any, dag_run_id: str) -> str:
    """Run an existing DAG run of ``dag`` here to its end, task by task (``dag.test()``'s loop); its
    final state. The tasks' ``AIRFLOW_CTX_*`` variables do not outlive it."""
    from airflow_mlw.runs.inprocess import task_context_restored

    with task_context_restored():
        return _run_dag_run(dag, dag_run_id)


def _run_dag_run(dag: Any, dag_run_id: str) -> str:
    import airflow.sdk.definitions.dag as sdk_dag
    from airflow import settings
    from airflow.models.dagrun import DagRun
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.state import DagRunState, TaskInstanceState

    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    assert settings.Session is not None, "Airflow's ORM is not configured"
    session = settings.Session()
    try:
        dag_run = session.scalar(
            select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == dag_run_id)
        )
        if dag_run is None:
            raise MlwError(f"DAG run {dag.dag_id}/{dag_run_id} is not in Airflow's metadata DB")
        dag_run.dag = scheduler_dag
        if dag_run.state != DagRunState.RUNNING:
            dag_run.set_state(DagRunState.RUNNING)
            session.commit()
        idle = 0
        while dag_run.state == DagRunState.RUNNING:
            if idle > IDLE_LIMIT:
                raise MlwError(f"DAG run {dag.dag_id}/{dag_run_id} has tasks that never become runnable")
            session.expire_all()
            schedulable, _ = dag_run.update_state(session=session)
            for ti in schedulable:
                if ti.state != TaskInstanceState.UP_FOR_RESCHEDULE:
                    ti.try_number += 1
                ti.state = TaskInstanceState.SCHEDULED
            session.commit()
            scheduled = [
                ti
                for ti in dag_run.get_task_instances(session=session)
                if ti.state == TaskInstanceState.SCHEDULED
            ]
            idle = 0 if scheduled else idle + 1
            if not scheduled:
                time.sleep(0.2)
            for ti in scheduled:
                try:
                    sdk_dag._run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)  # type: ignore[attr-defined]
                except Exception:
                    pass  # the task instance is failed; the DAG run's state says so
        return str(dag_run.state)
    finally:
        session.close()


def _locked_retry(create: Any, attempts: int = 6) -> Any:
    """``create()``, again after a pause while a SQLite metadata DB is locked by another writer (a
    scheduler or dag-processor on the same file): the lock is transient, the backfill is one
    transaction, so a retry makes it once."""
    for attempt in range(attempts):
        try:
            return create()
        except Exception as exc:
            if "database is locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")
