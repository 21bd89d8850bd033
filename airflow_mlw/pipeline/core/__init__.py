"""``azureml.pipeline.core`` -> ``airflow_mlw.pipeline.core``."""

from airflow_mlw.pipelines import (
    OutputFileDatasetConfig,
    Pipeline,
    PipelineData,
    PipelineParameter,
    StepSequence,
)
from airflow_mlw.pipelines.run import PipelineRun, StepRun

__all__ = [
    "OutputFileDatasetConfig",
    "Pipeline",
    "PipelineData",
    "PipelineParameter",
    "PipelineRun",
    "StepRun",
    "StepSequence",
]
