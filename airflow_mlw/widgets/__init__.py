"""Azure-style façade (``azureml.widgets`` -> ``airflow_mlw.widgets``); re-exports only, lazily.

``RunDetails(run).show()``: a live text view on a terminal, an HTML table in Jupyter (no ipywidgets).
"""

from __future__ import annotations

from airflow_mlw._lazy import lazy_exports

__all__ = ["RunDetails"]

__getattr__, __dir__ = lazy_exports(__name__, {"RunDetails": "airflow_mlw.runs.details"})
