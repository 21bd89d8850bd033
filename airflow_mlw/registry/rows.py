"""SQLAlchemy models of the workspace registry.

Every table carries the ``mlw_`` prefix so the registry can share a database with other
applications. Schema changes go through the Alembic migrations in ``migrations/versions``; a test
checks that the migrations and these models agree.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAME = 255
HASH = 64
ID = 32

naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=naming_convention)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class WorkspaceRow(Base):
    __tablename__ = "mlw_workspaces"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    default_datastore: Mapped[str] = mapped_column(String(NAME))
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VersionCounterRow(Base):
    """Last version handed out per (kind, workspace, name); rows are locked while allocating."""

    __tablename__ = "mlw_version_counters"
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    last_version: Mapped[int] = mapped_column(Integer, default=0)


class DatastoreRow(Base):
    __tablename__ = "mlw_datastores"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("mlw_workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME))
    kind: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    conn_id: Mapped[str | None] = mapped_column(String(NAME))
    #: A Fernet token (Airflow's key) of an account key or SAS token, never clear text.
    secret: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ManifestRow(Base):
    """A file manifest, content-addressed by its fingerprint, shared by every version that has it."""

    __tablename__ = "mlw_manifests"
    fingerprint: Mapped[str] = mapped_column(String(HASH), primary_key=True)
    file_count: Mapped[int] = mapped_column(Integer)
    total_bytes: Mapped[int] = mapped_column(BigInteger)
    #: ``[[relative_path, size, content_hash], ...]`` sorted by path.
    entries: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DatasetRow(Base):
    __tablename__ = "mlw_datasets"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("mlw_workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DatasetVersionRow(Base):
    __tablename__ = "mlw_dataset_versions"
    __table_args__ = (
        UniqueConstraint("dataset_id", "version"),
        Index("ix_mlw_dataset_versions_dataset_id_fingerprint", "dataset_id", "fingerprint"),
    )
    id: Mapped[str] = mapped_column(String(ID), primary_key=True, default=new_id)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("mlw_datasets.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(HASH))
    manifest_fingerprint: Mapped[str | None] = mapped_column(ForeignKey("mlw_manifests.fingerprint"))
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    snapshot: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LineageRow(Base):
    """Which DAG run and task produced or consumed a dataset or model version."""

    __tablename__ = "mlw_lineage"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("mlw_workspaces.id", ondelete="CASCADE"))
    dataset_version_id: Mapped[str | None] = mapped_column(String(ID), index=True)
    model_version_id: Mapped[str | None] = mapped_column(String(ID), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[str | None] = mapped_column(String(ID), index=True)
    dag_id: Mapped[str | None] = mapped_column(String(NAME))
    dag_run_id: Mapped[str | None] = mapped_column(String(NAME))
    task_id: Mapped[str | None] = mapped_column(String(NAME))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EnvironmentRow(Base):
    __tablename__ = "mlw_environments"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("mlw_workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EnvironmentVersionRow(Base):
    __tablename__ = "mlw_environment_versions"
    __table_args__ = (
        UniqueConstraint("environment_id", "version"),
        Index("ix_mlw_environment_versions_environment_id_spec_hash", "environment_id", "spec_hash"),
    )
    id: Mapped[str] = mapped_column(String(ID), primary_key=True, default=new_id)
    environment_id: Mapped[int] = mapped_column(ForeignKey("mlw_environments.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    spec_hash: Mapped[str] = mapped_column(String(HASH))
    image_tag: Mapped[str | None] = mapped_column(String(NAME))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ComputeTargetRow(Base):
    __tablename__ = "mlw_compute_targets"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("mlw_workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME))
    kind: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RunRow(Base):
    """A script run, a pipeline run or one step run of a pipeline run (``kind``).

    Step runs carry the reuse key and the canonical document it was hashed from, so two keys can be
    compared field by field; ``reused_from_id`` names the run whose outputs were handed over.
    """

    __tablename__ = "mlw_runs"
    __table_args__ = (
        Index("ix_mlw_runs_workspace_id_reuse_key_status", "workspace_id", "reuse_key", "status"),
        Index("ix_mlw_runs_workspace_id_name_finished_at", "workspace_id", "name", "finished_at"),
        Index("ix_mlw_runs_dag_id_dag_run_id", "dag_id", "dag_run_id"),
    )
    id: Mapped[str] = mapped_column(String(ID), primary_key=True, default=new_id)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("mlw_workspaces.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    experiment_name: Mapped[str | None] = mapped_column(String(NAME))
    parent_id: Mapped[str | None] = mapped_column(String(ID), index=True)
    name: Mapped[str | None] = mapped_column(String(NAME))
    dag_id: Mapped[str | None] = mapped_column(String(NAME))
    dag_run_id: Mapped[str | None] = mapped_column(String(NAME))
    task_id: Mapped[str | None] = mapped_column(String(NAME))
    status: Mapped[str] = mapped_column(String(16), default="NotStarted")
    compute_target: Mapped[str | None] = mapped_column(String(NAME))
    reuse_key: Mapped[str | None] = mapped_column(String(HASH))
    key_document: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reused_from_id: Mapped[str | None] = mapped_column(String(ID))
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ExperimentRow(Base):
    """An experiment's own state (its runs carry its name): archived or active."""

    __tablename__ = "mlw_experiments"
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("mlw_workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReuseLeaseRow(Base):
    """Single flight: the run computing a reuse key holds its lease until it commits or expires."""

    __tablename__ = "mlw_reuse_leases"
    workspace_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reuse_key: Mapped[str] = mapped_column(String(HASH), primary_key=True)
    holder: Mapped[str] = mapped_column(String(NAME))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MetricRow(Base):
    __tablename__ = "mlw_metrics"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("mlw_runs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME))
    kind: Mapped[str] = mapped_column(String(16), default="scalar")
    value: Mapped[Any] = mapped_column(JSON)
    #: The step a scalar was logged at (``run.log(..., step=)``), ``None``: its position in the series.
    step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PublishedPipelineRow(Base):
    __tablename__ = "mlw_published_pipelines"
    __table_args__ = (Index("ix_mlw_published_pipelines_workspace_id_name", "workspace_id", "name"),)
    id: Mapped[str] = mapped_column(String(ID), primary_key=True, default=new_id)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("mlw_workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME))
    version: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    dag_id: Mapped[str] = mapped_column(String(NAME))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    continue_on_step_failure: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="Active")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PipelineEndpointRow(Base):
    __tablename__ = "mlw_pipeline_endpoints"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[str] = mapped_column(String(ID), primary_key=True, default=new_id)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("mlw_workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME))
    description: Mapped[str | None] = mapped_column(Text)
    default_version: Mapped[str] = mapped_column(String(16), default="0")
    status: Mapped[str] = mapped_column(String(16), default="Active")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PipelineEndpointVersionRow(Base):
    __tablename__ = "mlw_pipeline_endpoint_versions"
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("mlw_pipeline_endpoints.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[str] = mapped_column(String(16), primary_key=True)
    published_pipeline_id: Mapped[str] = mapped_column(ForeignKey("mlw_published_pipelines.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ScheduleRow(Base):
    __tablename__ = "mlw_schedules"
    id: Mapped[str] = mapped_column(String(ID), primary_key=True, default=new_id)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("mlw_workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME))
    description: Mapped[str | None] = mapped_column(Text)
    pipeline_id: Mapped[str | None] = mapped_column(String(ID), index=True)
    pipeline_endpoint_id: Mapped[str | None] = mapped_column(String(ID), index=True)
    experiment_name: Mapped[str] = mapped_column(String(NAME))
    #: ScheduleRecurrence fields, or ``None`` for a datastore-change schedule.
    recurrence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: Datastore name, path, polling interval, data-path parameter name, pipeline parameters.
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="Active")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ScheduleFiringRow(Base):
    """What a schedule fired, so the schedule runner never fires one due time twice."""

    __tablename__ = "mlw_schedule_firings"
    schedule_id: Mapped[str] = mapped_column(
        ForeignKey("mlw_schedules.id", ondelete="CASCADE"), primary_key=True
    )
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    dag_run_id: Mapped[str | None] = mapped_column(String(NAME))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelRow(Base):
    __tablename__ = "mlw_models"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("mlw_workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelVersionRow(Base):
    __tablename__ = "mlw_model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version"),
        Index("ix_mlw_model_versions_model_id_fingerprint", "model_id", "fingerprint"),
    )
    id: Mapped[str] = mapped_column(String(ID), primary_key=True, default=new_id)
    model_id: Mapped[int] = mapped_column(ForeignKey("mlw_models.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(HASH))
    manifest_fingerprint: Mapped[str | None] = mapped_column(ForeignKey("mlw_manifests.fingerprint"))
    #: Datastore name and path of the copied files.
    location: Mapped[dict[str, Any]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    run_id: Mapped[str | None] = mapped_column(String(ID))
    dataset_version_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebserviceRow(Base):
    __tablename__ = "mlw_webservices"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[str] = mapped_column(String(ID), primary_key=True, default=new_id)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("mlw_workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME))
    compute_target: Mapped[str | None] = mapped_column(String(NAME))
    state: Mapped[str] = mapped_column(String(32), default="Transitioning")
    scoring_uri: Mapped[str | None] = mapped_column(String(1024))
    container_id: Mapped[str | None] = mapped_column(String(128))
    model_version_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DriftMonitorRow(Base):
    """A data drift monitor: the dataset versions it compares (ids, never data), its frequency and
    threshold, and the Airflow DAG that computes its windows."""

    __tablename__ = "mlw_drift_monitors"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[str] = mapped_column(String(ID), primary_key=True, default=new_id)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("mlw_workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME))
    baseline_dataset_id: Mapped[str] = mapped_column(String(ID))
    target_dataset_id: Mapped[str] = mapped_column(String(ID))
    frequency: Mapped[str] = mapped_column(String(16))
    #: Hours the target's data arrives late: every window is shifted back by this much.
    latency: Mapped[int] = mapped_column(Integer, default=0)
    drift_threshold: Mapped[float] = mapped_column(Float)
    feature_list: Mapped[list[Any]] = mapped_column(JSON, default=list)
    compute_target: Mapped[str | None] = mapped_column(String(NAME))
    #: ``{"email_addresses": [...], "notifier": <pickled notifier, base64> | None}`` or ``{}``.
    alert: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="Disabled")
    dag_id: Mapped[str] = mapped_column(String(NAME))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DriftWindowRow(Base):
    """The drift of one target window against the baseline: magnitude, per-feature statistics."""

    __tablename__ = "mlw_drift_windows"
    __table_args__ = (Index("ix_mlw_drift_windows_monitor_id_window_start", "monitor_id", "window_start"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    monitor_id: Mapped[str] = mapped_column(ForeignKey("mlw_drift_monitors.id", ondelete="CASCADE"))
    run_id: Mapped[str | None] = mapped_column(String(ID), index=True)
    dag_id: Mapped[str | None] = mapped_column(String(NAME))
    dag_run_id: Mapped[str | None] = mapped_column(String(NAME))
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: ``None`` when the window had no target rows.
    magnitude: Mapped[float | None] = mapped_column(Float)
    drift_threshold: Mapped[float] = mapped_column(Float)
    #: feature -> {"kind", "score", "contribution", statistic name -> value}.
    features: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    baseline_rows: Mapped[int] = mapped_column(Integer, default=0)
    target_rows: Mapped[int] = mapped_column(Integer, default=0)
    alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
