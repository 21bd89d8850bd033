"""``azureml.train.estimator`` -> ``airflow_mlw.train.estimator``."""

from airflow_mlw.runs import Estimator

__all__ = ["Estimator"]
