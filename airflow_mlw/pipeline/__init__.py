"""``azureml.pipeline`` -> ``airflow_mlw.pipeline`` (façade)."""
