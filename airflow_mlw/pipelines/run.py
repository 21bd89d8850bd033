"""Shim: pipeline and step runs moved to :mod:`airflow_mlw.runs.pipeline_run` (kept so old imports work)."""

from __future__ import annotations

from airflow_mlw._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        name: "airflow_mlw.runs.pipeline_run"
        for name in ("PortDataReference", "StepRun", "PipelineRun", "ScriptOverRestRun")
    },
)
