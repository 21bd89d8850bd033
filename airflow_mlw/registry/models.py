"""Shim: the registry's ORM rows moved to :mod:`airflow_mlw.registry.rows` (``models/`` is the ML
models package; kept so old imports work)."""

from __future__ import annotations

from airflow_mlw.registry.rows import (  # noqa: F401
    HASH,
    ID,
    NAME,
    Base,
    ComputeTargetRow,
    DatasetRow,
    DatasetVersionRow,
    DatastoreRow,
    EnvironmentRow,
    EnvironmentVersionRow,
    ExperimentRow,
    LineageRow,
    ManifestRow,
    MetricRow,
    ModelRow,
    ModelVersionRow,
    PipelineEndpointRow,
    PipelineEndpointVersionRow,
    PublishedPipelineRow,
    ReuseLeaseRow,
    RunRow,
    ScheduleFiringRow,
    ScheduleRow,
    VersionCounterRow,
    WebserviceRow,
    WorkspaceRow,
    new_id,
    utcnow,
)
