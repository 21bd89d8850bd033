"""Azure-style façade (``azureml.pipeline`` -> ``airflow_mlw.pipeline``); re-exports only.

``core`` and ``steps`` are attributes, imported on first access."""

from __future__ import annotations

from airflow_mlw._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {}, submodules=True)
