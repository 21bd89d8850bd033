"""``azureml.core.compute_target`` -> ``airflow_mlw.core.compute_target``."""

from airflow_mlw.exceptions import ComputeTargetException

__all__ = ["ComputeTargetException"]
