"""Azure-style façade (``azureml.pipeline`` -> ``airflow_mlw.pipeline``); re-exports only."""
