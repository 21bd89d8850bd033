"""``azureml.core.webservice`` -> ``airflow_mlw.core.webservice``."""

from airflow_mlw.models.webservice import AciWebservice, AksWebservice, LocalWebservice, Webservice

__all__ = ["AciWebservice", "AksWebservice", "LocalWebservice", "Webservice"]
