"""MLflow outside a submitted run (a notebook, a driver program): the workspace's registry at once.

An MLflow run is an interactive run (``Experiment.start_logging()``'s kind), a nested one a child
run; ``end_run`` ends it. Existing runs of any kind (submitted scripts, pipeline steps) read as
MLflow runs too, and take tags and params, but their status stays their task's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mlflow.entities import (
    Metric,
    Param,
    Run,
    RunTag,
)
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_STATE

from airflow_mlw.runs.mlflow_tracking.entities import (
    AZURE_STATUS,
    DEFAULT_EXPERIMENT,
    MLFLOW_STATUS,
    PARAM_PREFIX,
    Experiments,
    experiment_id,
    metric_value,
    millis,
    not_found,
    param_changed,
    run_entity,
)

#: Runs whose status MLflow's ``end_run`` sets (a submitted run's status is its task's).
MLFLOW_OWNED_KINDS = ("interactive", "child")


class RegistrySide:
    """The workspace's runs in its registry, as MLflow reads and writes them."""

    def __init__(self, workspace: Any) -> None:
        self.workspace = workspace

    # -- experiments -------------------------------------------------------------------------------

    def experiments(self) -> Experiments:
        from sqlalchemy import func, select

        from airflow_mlw.registry.rows import ExperimentRow, RunRow

        ws = self.workspace
        ws_id = ws._workspace_id()
        found: dict[str, tuple[bool, datetime | None]] = {DEFAULT_EXPERIMENT: (False, None)}
        with ws.store.session() as session:
            for name, first in session.execute(
                select(RunRow.experiment_name, func.min(RunRow.created_at))
                .where(RunRow.workspace_id == ws_id)
                .group_by(RunRow.experiment_name)
            ):
                if name:
                    found[name] = (False, first)
            for name, archived_at, created_at in session.execute(
                select(ExperimentRow.name, ExperimentRow.archived_at, ExperimentRow.created_at).where(
                    ExperimentRow.workspace_id == ws_id
                )
            ):
                found[name] = (archived_at is not None, created_at)
        return found

    def create_experiment(self, name: str) -> None:
        from airflow_mlw.execution.records import utcnow
        from airflow_mlw.registry.rows import ExperimentRow

        ws = self.workspace
        with ws.store.session(write=True) as session:
            ws.store.insert_ignore(
                session, ExperimentRow, workspace_id=ws._workspace_id(), name=name, created_at=utcnow()
            )

    def archive(self, name: str, archived: bool) -> None:
        from airflow_mlw.runs.experiment import Experiment

        experiment = Experiment(self.workspace, name)
        experiment.archive() if archived else experiment.reactivate()

    # -- runs --------------------------------------------------------------------------------------

    def create_run(
        self, experiment: str, parent: str | None, run_name: str | None, tags: dict[str, str]
    ) -> str:
        from airflow_mlw.execution import records
        from airflow_mlw.runs.experiment import Experiment
        from airflow_mlw.runs.interactive import InteractiveRun
        from airflow_mlw.runs.submitted import SubmittedRun

        if parent:
            self.row(parent)
            run_id = str(SubmittedRun(self.workspace, parent).child_run(name=run_name).id)
        else:
            run_id = str(InteractiveRun.start(Experiment(self.workspace, experiment), name=run_name).id)
        if tags:
            records.apply_script_records(
                self.workspace, run_id, [{"kind": "tag", "name": k, "value": v} for k, v in tags.items()]
            )
        return run_id

    def row(self, run_id: str) -> Any:
        from airflow_mlw.registry.rows import RunRow

        ws = self.workspace
        with ws.store.session() as session:
            row = session.get(RunRow, run_id)
            if row is None or row.workspace_id != ws._workspace_id():
                raise not_found(f"run {run_id!r} not found in workspace {ws.name!r}")
            session.expunge(row)
            return row

    def get_run(self, run_id: str) -> Run:
        return self.entity(self.row(run_id), self.metrics([run_id]).get(run_id, {}))

    def runs_of(self, experiments: set[str]) -> list[Run]:
        from sqlalchemy import select

        from airflow_mlw.registry.rows import RunRow

        ws = self.workspace
        with ws.store.session() as session:
            rows = list(
                session.scalars(
                    select(RunRow).where(
                        RunRow.workspace_id == ws._workspace_id(), RunRow.experiment_name.in_(experiments)
                    )
                )
            )
            for row in rows:
                session.expunge(row)
        metrics = self.metrics([row.id for row in rows])
        return [self.entity(row, metrics.get(row.id, {})) for row in rows]

    def metrics(self, run_ids: list[str]) -> dict[str, dict[str, list[Metric]]]:
        """run id -> metric name -> its scalar values as MLflow metrics (the step logged, else the
        position in the series)."""
        from sqlalchemy import select

        from airflow_mlw.registry.rows import MetricRow

        found: dict[str, dict[str, list[Metric]]] = {}
        if not run_ids:
            return found
        with self.workspace.store.session() as session:
            rows = session.execute(
                select(
                    MetricRow.run_id, MetricRow.name, MetricRow.value, MetricRow.step, MetricRow.created_at
                )
                .where(MetricRow.run_id.in_(run_ids), MetricRow.kind == "scalar")
                .order_by(MetricRow.id)
            ).all()
        for run_id, name, value, step, created in rows:
            number = metric_value(value)
            if number is not None:
                series = found.setdefault(run_id, {}).setdefault(name, [])
                at = len(series) if step is None else step
                series.append(Metric(name, number, millis(created) or 0, at, run_id=run_id))
        return found

    def entity(self, row: Any, metrics: dict[str, list[Metric]]) -> Run:
        user = (row.properties or {}).get("user", {})
        return run_entity(
            workspace=self.workspace.name,
            run_id=row.id,
            experiment=experiment_id(row.experiment_name or DEFAULT_EXPERIMENT),
            status=MLFLOW_STATUS.get(row.status, "RUNNING"),
            start_time=millis(row.started_at or row.created_at) or 0,
            end_time=millis(row.finished_at),
            name=row.name,
            tags={str(k): str(v) for k, v in (row.tags or {}).items()},
            params={k[len(PARAM_PREFIX) :]: str(v) for k, v in user.items() if k.startswith(PARAM_PREFIX)},
            metrics=metrics,
        )

    def update_run(self, run_id: str, status: str, end_time: int | None, run_name: str | None) -> None:
        from airflow_mlw.execution import records

        row = self.row(run_id)
        wanted = AZURE_STATUS.get(status)
        if row.kind in MLFLOW_OWNED_KINDS and wanted is not None and wanted != row.status:
            if wanted == "Running":
                records.update_run(self.workspace, run_id, status="Running", finished_at=None)
            else:
                records.set_status(self.workspace, run_id, wanted)
        if run_name:
            records.update_run(self.workspace, run_id, name=run_name)

    # -- logging -----------------------------------------------------------------------------------

    def log_batch(self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]) -> None:
        from airflow_mlw.execution import records

        row = self.row(run_id)
        if metrics and row.status in records.TERMINAL:
            raise MlflowException(
                f"run {run_id} is {row.status}: a finished run takes no more metrics", INVALID_STATE
            )
        known = dict((row.properties or {}).get("user", {}))
        logged: list[dict[str, Any]] = []
        for param in params:
            key, value = PARAM_PREFIX + param.key, str(param.value)
            if key in known and str(known[key]) != value:
                raise param_changed(run_id, param.key, str(known[key]), value)
            known[key] = value
            logged.append({"kind": "property", "name": key, "value": value})
        logged += [{"kind": "scalar", "name": m.key, "value": m.value, "step": m.step} for m in metrics]
        logged += [{"kind": "tag", "name": t.key, "value": str(t.value)} for t in tags]
        if logged:
            records.apply_script_records(self.workspace, run_id, logged)

    def delete_tag(self, run_id: str, key: str) -> None:
        from airflow_mlw.execution import records

        if key not in (self.row(run_id).tags or {}):
            raise not_found(f"run {run_id} has no tag {key!r}")
        records.apply_script_records(self.workspace, run_id, [{"kind": "untag", "name": key, "value": None}])

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        self.row(run_id)
        return self.metrics([run_id]).get(run_id, {}).get(key, [])

    def log_outputs(self, run_id: str, models: list[Any]) -> None:
        """The run's models are its files (``model/``); MLflow's output links are not kept."""
        self.row(run_id)
