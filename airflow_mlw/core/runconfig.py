"""Azure-style façade (``azureml.core.runconfig`` -> ``airflow_mlw.core.runconfig``); re-exports only."""

from __future__ import annotations

from airflow_mlw.compute import DEFAULT_CPU_IMAGE
from airflow_mlw.compute.runconfig import RunConfiguration

__all__ = ["DEFAULT_CPU_IMAGE", "RunConfiguration"]
