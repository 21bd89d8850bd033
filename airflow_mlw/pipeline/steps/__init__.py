"""Azure-style façade (``azureml.pipeline.steps`` -> ``airflow_mlw.pipeline.steps``); re-exports only."""

from airflow_mlw.pipelines.steps import CommandStep, EstimatorStep, PythonScriptStep

__all__ = ["CommandStep", "EstimatorStep", "PythonScriptStep"]
