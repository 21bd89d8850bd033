"""``azureml.core.dataset`` -> ``airflow_mlw.core.dataset``."""

from airflow_mlw.datasets import Dataset

__all__ = ["Dataset"]
