"""Pipelines: steps, the graph, data passed between steps, parameters, runs."""

from __future__ import annotations

from airflow_mlw.pipelines.data import (
    DataPath,
    DataPathComputeBinding,
    OutputFileDatasetConfig,
    PipelineData,
    PipelineParameter,
)
from airflow_mlw.pipelines.graph import Pipeline, PipelineValidationError
from airflow_mlw.pipelines.steps import CommandStep, EstimatorStep, PythonScriptStep, StepSequence

__all__ = [
    "CommandStep",
    "DataPath",
    "DataPathComputeBinding",
    "EstimatorStep",
    "OutputFileDatasetConfig",
    "Pipeline",
    "PipelineData",
    "PipelineParameter",
    "PipelineValidationError",
    "PythonScriptStep",
    "StepSequence",
]
