"""Shim: step outputs moved to :mod:`airflow_mlw.execution.outputs`, input materialisation to
:mod:`airflow_mlw.execution.inputs` (kept so old imports work)."""

from __future__ import annotations

from airflow_mlw._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "MANIFEST_SUFFIX": "airflow_mlw.execution.outputs",
        "output_location": "airflow_mlw.execution.outputs",
        "commit_output": "airflow_mlw.execution.outputs",
        "output_exists": "airflow_mlw.execution.outputs",
        "register_output": "airflow_mlw.execution.outputs",
        "materialize_output": "airflow_mlw.execution.inputs",
    },
)
