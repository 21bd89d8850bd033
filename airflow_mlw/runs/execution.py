"""Shim: script execution moved to :mod:`airflow_mlw.execution.process`, the runtime folder to
:mod:`airflow_mlw.runtime` (kept so old imports work)."""

from __future__ import annotations

from airflow_mlw._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ScriptSpec": "airflow_mlw.execution.process",
        "ScriptExecution": "airflow_mlw.execution.process",
        "STDERR_TAIL": "airflow_mlw.execution.process",
        "failure_message": "airflow_mlw.execution.process",
        "RUNTIME_MOUNT": "airflow_mlw.runtime",
        "runtime_path": "airflow_mlw.runtime",
    },
)
