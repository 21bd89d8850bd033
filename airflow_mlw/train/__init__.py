"""Azure-style façade (``azureml.train`` -> ``airflow_mlw.train``); re-exports only.

``estimator`` is an attribute, imported on first access."""

from __future__ import annotations

from airflow_mlw._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {}, submodules=True)
