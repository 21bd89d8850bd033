"""``azureml.data.dataset_consumption_config`` -> ``airflow_mlw.data.dataset_consumption_config``; re-exports only."""

from airflow_mlw.datasets.consumption import DatasetConsumptionConfig

__all__ = ["DatasetConsumptionConfig"]
