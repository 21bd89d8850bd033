"""``azureml.core.model`` -> ``airflow_mlw.core.model`` (standard library only, as in scoring scripts)."""

from airflow_mlw.models.model import InferenceConfig, Model

__all__ = ["InferenceConfig", "Model"]
