"""``azureml.core.run`` -> ``airflow_mlw.core.run``; re-exports only."""

from airflow_mlw.run import Run

__all__ = ["Run"]
