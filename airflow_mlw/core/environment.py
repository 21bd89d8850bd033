"""``azureml.core.environment`` -> ``airflow_mlw.core.environment``."""

from airflow_mlw.environments.spec import CondaDependencies, Environment

__all__ = ["CondaDependencies", "Environment"]
