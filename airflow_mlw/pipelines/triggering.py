"""Shim: triggering pipeline runs moved to :mod:`airflow_mlw.runs.triggering` (kept so old imports work)."""

from __future__ import annotations

from airflow_mlw._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "TERMINAL": "airflow_mlw.execution.records",
        "record_pipeline_run": "airflow_mlw.execution.records",
        **{
            name: "airflow_mlw.runs.triggering"
            for name in (
                "new_dag_run_id",
                "conf_for",
                "trigger_on_server",
                "submit_published",
                "submit_over_rest",
                "rest_trigger",
                "run_in_process",
                "load_dag",
                "pipeline_run_status",
            )
        },
    },
)
