"""Azure-style façade (``azureml.train`` -> ``airflow_mlw.train``); re-exports only."""
