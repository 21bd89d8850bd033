"""What the pages read from the configured workspace's registry, through its store's sessions.

Every query is scoped to the workspace's row id; the rows are the registry's SQLAlchemy models,
read inside the session the page renders in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException
from sqlalchemy import func, select

from airflow_mlw.registry.rows import (
    ComputeTargetRow,
    DatasetRow,
    DatasetVersionRow,
    DatastoreRow,
    DriftMonitorRow,
    DriftWindowRow,
    EnvironmentRow,
    EnvironmentVersionRow,
    LineageRow,
    ManifestRow,
    MetricRow,
    ModelRow,
    ModelVersionRow,
    PipelineEndpointRow,
    PipelineEndpointVersionRow,
    PublishedPipelineRow,
    RunRow,
    WebserviceRow,
    WorkspaceRow,
)
from airflow_mlw.registry.store import owned_row

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_mlw.workspace import Workspace


@contextmanager
def registry() -> Iterator[tuple[Workspace, Session, int]]:
    """The configured workspace, a read session and the workspace's row id; registry trouble is a 503."""
    from airflow_mlw.exceptions import MlwError
    from airflow_mlw.workspace import Workspace

    ws = Workspace.from_config()
    try:
        ws_id = ws._workspace_id()
        with ws.store.session() as session:
            yield ws, session, ws_id
    except MlwError as exc:
        raise HTTPException(status_code=503, detail=f"ML Workspace registry: {exc}") from None


# -- workspace ------------------------------------------------------------------------------------------


def workspace_row(session: Session, ws_id: int) -> WorkspaceRow | None:
    return session.get(WorkspaceRow, ws_id)


def contents(session: Session, ws_id: int) -> list[tuple[str, str, int]]:
    """``(page, label, count)`` of what the workspace holds, as the overview lists it."""
    counted = (
        ("datastores", "Datastores", DatastoreRow),
        ("datasets", "Datasets", DatasetRow),
        ("environments", "Environments", EnvironmentRow),
        ("compute", "Compute targets (besides local)", ComputeTargetRow),
        ("pipelines", "Published pipelines", PublishedPipelineRow),
        ("pipelines", "Pipeline endpoints", PipelineEndpointRow),
        ("runs", "Runs", RunRow),
    )
    count = select(func.count()).select_from
    return [
        (page, label, session.scalar(count(model).where(model.workspace_id == ws_id)) or 0)
        for page, label, model in counted
    ]


def datastores(session: Session, ws_id: int) -> tuple[Sequence[DatastoreRow], str | None]:
    """The datastores by name, and the name of the workspace's default one."""
    default = session.scalar(select(WorkspaceRow.default_datastore).where(WorkspaceRow.id == ws_id))
    rows = session.scalars(
        select(DatastoreRow).where(DatastoreRow.workspace_id == ws_id).order_by(DatastoreRow.name)
    ).all()
    return rows, default


def environment_versions(session: Session, ws_id: int) -> Sequence[Any]:
    """``(environment name, version row)``, by name, newest version first."""
    return session.execute(
        select(EnvironmentRow.name, EnvironmentVersionRow)
        .join(EnvironmentVersionRow, EnvironmentVersionRow.environment_id == EnvironmentRow.id)
        .where(EnvironmentRow.workspace_id == ws_id)
        .order_by(EnvironmentRow.name, EnvironmentVersionRow.version.desc())
    ).all()


def compute_targets(session: Session, ws_id: int) -> Sequence[ComputeTargetRow]:
    return session.scalars(
        select(ComputeTargetRow).where(ComputeTargetRow.workspace_id == ws_id).order_by(ComputeTargetRow.name)
    ).all()


# -- datasets -------------------------------------------------------------------------------------------


def dataset(session: Session, ws_id: int, name: str) -> DatasetRow | None:
    return session.scalar(select(DatasetRow).where(DatasetRow.workspace_id == ws_id, DatasetRow.name == name))


def latest_version(session: Session, dataset_id: int) -> DatasetVersionRow | None:
    return session.scalar(
        select(DatasetVersionRow)
        .where(DatasetVersionRow.dataset_id == dataset_id)
        .order_by(DatasetVersionRow.version.desc())
        .limit(1)
    )


def dataset_versions(session: Session, ws_id: int, name: str | None = None) -> Sequence[Any]:
    """``(dataset, version, manifest or None)`` of every dataset (or of ``name``), newest version first."""
    query = (
        select(DatasetRow, DatasetVersionRow, ManifestRow)
        .join(DatasetVersionRow, DatasetVersionRow.dataset_id == DatasetRow.id)
        .outerjoin(ManifestRow, ManifestRow.fingerprint == DatasetVersionRow.manifest_fingerprint)
        .where(DatasetRow.workspace_id == ws_id)
        .order_by(DatasetRow.name, DatasetVersionRow.version.desc())
    )
    if name is not None:
        query = query.where(DatasetRow.name == name)
    return session.execute(query).all()


def lineage_of(session: Session, version_ids: Iterable[str]) -> dict[tuple[str, str], list[LineageRow]]:
    """Lineage rows by (dataset version id, direction), newest first."""
    ids = set(version_ids)
    found: dict[tuple[str, str], list[LineageRow]] = defaultdict(list)
    if ids:
        rows = session.scalars(
            select(LineageRow).where(LineageRow.dataset_version_id.in_(ids)).order_by(LineageRow.id.desc())
        )
        for row in rows:
            found[(row.dataset_version_id or "", row.direction)].append(row)
    return found


def dataset_names(session: Session, version_ids: Iterable[str]) -> dict[str, tuple[str, int]]:
    """``(dataset name, version)`` by dataset version id."""
    return {
        row.id: (name, row.version)
        for name, row in session.execute(
            select(DatasetRow.name, DatasetVersionRow)
            .join(DatasetVersionRow, DatasetVersionRow.dataset_id == DatasetRow.id)
            .where(DatasetVersionRow.id.in_(set(version_ids)))
        )
    }


# -- pipelines and models -------------------------------------------------------------------------------


def published_pipelines(session: Session, ws_id: int) -> Sequence[PublishedPipelineRow]:
    """By name, the newest publication first."""
    return session.scalars(
        select(PublishedPipelineRow)
        .where(PublishedPipelineRow.workspace_id == ws_id)
        .order_by(PublishedPipelineRow.name, PublishedPipelineRow.created_at.desc())
    ).all()


def pipeline_endpoints(
    session: Session, ws_id: int
) -> list[tuple[PipelineEndpointRow, list[PipelineEndpointVersionRow]]]:
    """The endpoints by name, each with its versions in order ("0", "1", ..., "10")."""
    endpoints = session.scalars(
        select(PipelineEndpointRow)
        .where(PipelineEndpointRow.workspace_id == ws_id)
        .order_by(PipelineEndpointRow.name)
    ).all()
    versions: dict[str, list[PipelineEndpointVersionRow]] = defaultdict(list)
    if endpoints:
        for version in session.scalars(
            select(PipelineEndpointVersionRow).where(
                PipelineEndpointVersionRow.endpoint_id.in_([e.id for e in endpoints])
            )
        ):
            versions[version.endpoint_id].append(version)
    return [
        (endpoint, sorted(versions[endpoint.id], key=lambda v: (len(v.version), v.version)))
        for endpoint in endpoints
    ]


def pipeline_runs_by_dag(
    session: Session, ws_id: int, dag_ids: Iterable[str], per_dag: int
) -> dict[str, list[RunRow]]:
    """The latest ``per_dag`` pipeline runs of each DAG, newest first (one query: a window function)."""
    ids = set(dag_ids)
    found: dict[str, list[RunRow]] = defaultdict(list)
    if not ids:
        return found
    rank = (
        func.row_number()
        .over(partition_by=RunRow.dag_id, order_by=(RunRow.created_at.desc(), RunRow.id))
        .label("rank")
    )
    ranked = (
        select(RunRow.id, rank)
        .where(RunRow.workspace_id == ws_id, RunRow.kind == "pipeline", RunRow.dag_id.in_(ids))
        .subquery()
    )
    rows = session.scalars(
        select(RunRow)
        .join(ranked, ranked.c.id == RunRow.id)
        .where(ranked.c.rank <= per_dag)
        .order_by(RunRow.created_at.desc(), RunRow.id)
    )
    for row in rows:
        found[row.dag_id or ""].append(row)
    return found


def model_versions(session: Session, ws_id: int) -> Sequence[Any]:
    """``(model name, version row)``, by name, newest version first."""
    return session.execute(
        select(ModelRow.name, ModelVersionRow)
        .join(ModelVersionRow, ModelVersionRow.model_id == ModelRow.id)
        .where(ModelRow.workspace_id == ws_id)
        .order_by(ModelRow.name, ModelVersionRow.version.desc())
    ).all()


def webservices(session: Session, ws_id: int) -> Sequence[WebserviceRow]:
    return session.scalars(
        select(WebserviceRow).where(WebserviceRow.workspace_id == ws_id).order_by(WebserviceRow.name)
    ).all()


# -- runs -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    """A run as the runs tables list it.

    :param duration: seconds from start to finish, None while it has not finished
    :param saved: for a reused step, the duration of the run it reused
    :param metrics: ``name=value`` of the last value of each scalar metric (a reused step's: its origin's)
    """

    row: RunRow
    duration: float | None
    saved: float | None
    metrics: list[str]


def latest_runs(
    session: Session, ws_id: int, limit: int, kind: str | None = None, experiment: str | None = None
) -> Sequence[RunRow]:
    query = select(RunRow).where(RunRow.workspace_id == ws_id)
    if kind:
        query = query.where(RunRow.kind == kind)
    if experiment:
        query = query.where(RunRow.experiment_name == experiment)
    return session.scalars(query.order_by(RunRow.created_at.desc()).limit(limit)).all()


def run(session: Session, ws_id: int, run_id: str) -> RunRow | None:
    return owned_row(session, RunRow, run_id, ws_id)  # type: ignore[no-any-return]


def task_run(session: Session, ws_id: int, dag_id: str, dag_run_id: str, task_id: str) -> RunRow | None:
    """The latest run an Airflow task instance made."""
    return session.scalar(
        select(RunRow)
        .where(
            RunRow.workspace_id == ws_id,
            RunRow.dag_id == dag_id,
            RunRow.dag_run_id == dag_run_id,
            RunRow.task_id == task_id,
        )
        .order_by(RunRow.created_at.desc())
        .limit(1)
    )


def step_runs(session: Session, pipeline_run_id: str) -> Sequence[RunRow]:
    return session.scalars(
        select(RunRow).where(RunRow.parent_id == pipeline_run_id).order_by(RunRow.created_at)
    ).all()


def duration(row: RunRow | None) -> float | None:
    if row is None or row.started_at is None or row.finished_at is None:
        return None
    return (row.finished_at - row.started_at).total_seconds()


def metrics_source(row: RunRow) -> str:
    """A reused step reports the metrics its origin logged."""
    return row.reused_from_id or row.id


def origins_of(session: Session, rows: Iterable[RunRow]) -> dict[str, RunRow]:
    """The runs reused steps were handed, by id: their duration is the time a reuse saved."""
    ids = {row.reused_from_id for row in rows if row.reused_from_id}
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(RunRow).where(RunRow.id.in_(ids)))}


def metrics_of(session: Session, run_ids: Iterable[str]) -> dict[str, list[MetricRow]]:
    """Metric rows by run id, in logging order."""
    ids = set(run_ids)
    found: dict[str, list[MetricRow]] = defaultdict(list)
    if ids:
        rows = session.scalars(select(MetricRow).where(MetricRow.run_id.in_(ids)).order_by(MetricRow.id))
        for row in rows:
            found[row.run_id].append(row)
    return found


def summarize_runs(session: Session, rows: Sequence[RunRow]) -> list[RunSummary]:
    origins = origins_of(session, rows)
    metrics = metrics_of(session, (metrics_source(row) for row in rows))
    summaries = []
    for row in rows:
        last = {m.name: m.value for m in metrics.get(metrics_source(row), []) if m.kind == "scalar"}
        saved = duration(origins.get(row.reused_from_id)) if row.reused_from_id else None
        summaries.append(RunSummary(row, duration(row), saved, [f"{k}={v}" for k, v in last.items()]))
    return summaries


def input_datasets(row: RunRow) -> list[tuple[str, dict[str, Any]]]:
    """``(input name, {name, version, fingerprint})`` of the registered dataset versions the run read:
    from the inputs an executed run recorded, else (a reused step) from its reuse key's document."""
    found = {}
    for name, spec in ((row.properties or {}).get("inputs") or {}).items():
        if not isinstance(spec, dict):
            continue
        if isinstance(spec.get("dataset"), dict):  # an upstream step's output, registered as a dataset
            found[name] = spec["dataset"]
        elif spec.get("dataset"):
            found[name] = {
                "name": spec["dataset"],
                "version": spec.get("version"),
                "fingerprint": spec.get("fingerprint"),
            }
    if not found:
        document = row.key_document or {}
        fingerprints = (document.get("key") or {}).get("inputs") or {}
        for name, info in ((document.get("info") or {}).get("inputs") or {}).items():
            if isinstance(info, dict) and info.get("dataset"):
                found[name] = {
                    "name": info["dataset"],
                    "version": info.get("version"),
                    "fingerprint": fingerprints.get(name),
                }
    return sorted(found.items())


# -- data drift -----------------------------------------------------------------------------------------


def drift_monitors(session: Session, ws_id: int) -> Sequence[DriftMonitorRow]:
    return session.scalars(
        select(DriftMonitorRow).where(DriftMonitorRow.workspace_id == ws_id).order_by(DriftMonitorRow.name)
    ).all()


def drift_windows(session: Session, monitor_ids: Iterable[str]) -> dict[str, list[DriftWindowRow]]:
    """Each monitor's computed windows, oldest first."""
    found: dict[str, list[DriftWindowRow]] = defaultdict(list)
    rows = session.scalars(
        select(DriftWindowRow)
        .where(DriftWindowRow.monitor_id.in_(list(monitor_ids)))
        .order_by(DriftWindowRow.window_start)
    )
    for row in rows:
        found[row.monitor_id].append(row)
    return found


# -- experiments and sweeps -----------------------------------------------------------------------------


def experiments(session: Session, ws_id: int) -> Sequence[Any]:
    """``(experiment name, top-level runs, latest run's creation)``, the latest active first."""
    latest = func.max(RunRow.created_at)
    return session.execute(
        select(RunRow.experiment_name, func.count(), latest)
        .where(RunRow.workspace_id == ws_id, RunRow.experiment_name.is_not(None), RunRow.parent_id.is_(None))
        .group_by(RunRow.experiment_name)
        .order_by(latest.desc())
    ).all()


def experiment_runs(session: Session, ws_id: int, name: str, limit: int) -> Sequence[RunRow]:
    """An experiment's top-level runs (not steps or trials), newest first."""
    return session.scalars(
        select(RunRow)
        .where(RunRow.workspace_id == ws_id, RunRow.experiment_name == name, RunRow.parent_id.is_(None))
        .order_by(RunRow.created_at.desc(), RunRow.id)
        .limit(limit)
    ).all()


def experiment_run_keys(session: Session, ws_id: int, name: str, limit: int) -> Sequence[Any]:
    """``experiment_runs`` as ``(id, name, created_at, reused_from_id)`` rows: what a chart across
    the runs needs, without loading each run's documents."""
    return session.execute(
        select(RunRow.id, RunRow.name, RunRow.created_at, RunRow.reused_from_id)
        .where(RunRow.workspace_id == ws_id, RunRow.experiment_name == name, RunRow.parent_id.is_(None))
        .order_by(RunRow.created_at.desc(), RunRow.id)
        .limit(limit)
    ).all()


def scalar_series(
    session: Session, run_ids: Iterable[str], name: str | None = None
) -> dict[str, dict[str, list[Any]]]:
    """Run id -> scalar metric name -> its values in logging order (only ``name`` when given)."""
    ids = set(run_ids)
    found: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    if ids:
        query = select(MetricRow.run_id, MetricRow.name, MetricRow.value).where(
            MetricRow.run_id.in_(ids), MetricRow.kind == "scalar"
        )
        if name is not None:
            query = query.where(MetricRow.name == name)
        for run_id, metric, value in session.execute(query.order_by(MetricRow.id)):
            found[run_id][metric].append(value)
    return found


def last_scalars(
    session: Session, run_ids: Iterable[str], name: str | None = None
) -> dict[str, dict[str, Any]]:
    """Run id -> scalar metric name -> its last value (one query, whatever the number of values);
    only ``name``'s when given."""
    ids = set(run_ids)
    found: dict[str, dict[str, Any]] = defaultdict(dict)
    if ids:
        last_ids = select(func.max(MetricRow.id).label("id")).where(
            MetricRow.run_id.in_(ids), MetricRow.kind == "scalar"
        )
        if name is not None:
            last_ids = last_ids.where(MetricRow.name == name)
        last = last_ids.group_by(MetricRow.run_id, MetricRow.name).subquery()
        rows = session.execute(
            select(MetricRow.run_id, MetricRow.name, MetricRow.value).join(last, last.c.id == MetricRow.id)
        )
        for run_id, metric, value in rows:
            found[run_id][metric] = value
    return found
