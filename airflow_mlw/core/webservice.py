"""``azureml.core.webservice`` -> ``airflow_mlw.core.webservice``."""

from airflow_mlw.models.webservice import LocalWebservice, Webservice

__all__ = ["LocalWebservice", "Webservice"]
