"""Azure-style façade (``azureml.pipeline.steps`` -> ``airflow_mlw.pipeline.steps``); re-exports only."""

from airflow_mlw.pipelines.parallel import ParallelRunConfig, ParallelRunStep
from airflow_mlw.pipelines.steps import CommandStep, EstimatorStep, PythonScriptStep

__all__ = ["CommandStep", "EstimatorStep", "ParallelRunConfig", "ParallelRunStep", "PythonScriptStep"]
