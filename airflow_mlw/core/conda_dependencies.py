"""``azureml.core.conda_dependencies`` -> ``airflow_mlw.core.conda_dependencies``."""

from airflow_mlw.environments.spec import CondaDependencies

__all__ = ["CondaDependencies"]
