"""``azureml.data.data_reference`` -> ``airflow_mlw.data.data_reference``."""

from airflow_mlw.datastores.reference import DataReference

__all__ = ["DataReference"]
