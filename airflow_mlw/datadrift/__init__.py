"""Data drift monitors (Azure's ``azureml.datadrift``): ``DataDriftDetector``, ``AlertConfiguration``.

Re-exports, resolved lazily: the monitors' generated DAG files import ``airflow_mlw.datadrift.dag``
only, and nothing here loads pandas or scipy before a window is computed.
"""

from __future__ import annotations

from airflow_mlw._lazy import lazy_exports

__all__ = ["AlertConfiguration", "DataDriftDetector", "DataDriftError", "DriftRun"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AlertConfiguration": "airflow_mlw.datadrift.alerts",
        "DataDriftDetector": "airflow_mlw.datadrift.detector",
        "DataDriftError": "airflow_mlw.datadrift.detector",
        "DriftRun": "airflow_mlw.datadrift.runs",
    },
)
