"""``azureml.core.datastore`` -> ``airflow_mlw.core.datastore``."""

from airflow_mlw.datastores import Datastore

__all__ = ["Datastore"]
