"""``azureml.pipeline.core.graph`` -> ``airflow_mlw.pipeline.core.graph``."""

from airflow_mlw.pipelines import PipelineParameter

__all__ = ["PipelineParameter"]
