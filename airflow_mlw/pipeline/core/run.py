"""``azureml.pipeline.core.run`` -> ``airflow_mlw.pipeline.core.run``; re-exports only."""

from airflow_mlw.runs.pipeline_run import PipelineRun, StepRun

__all__ = ["PipelineRun", "StepRun"]
