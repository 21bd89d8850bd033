"""``azureml.core.workspace`` -> ``airflow_mlw.core.workspace``."""

from airflow_mlw.workspace import Workspace

__all__ = ["Workspace"]
