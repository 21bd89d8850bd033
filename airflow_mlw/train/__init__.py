"""``azureml.train`` -> ``airflow_mlw.train``."""
