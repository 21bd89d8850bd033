"""Azure-style façade (``azureml.pipeline.steps`` -> ``airflow_mlw.pipeline.steps``); re-exports only."""

from airflow_mlw._lazy import lazy_exports
from airflow_mlw.pipelines.hyperdrive_step import HyperDriveStep
from airflow_mlw.pipelines.parallel import ParallelRunConfig, ParallelRunStep
from airflow_mlw.pipelines.steps import CommandStep, EstimatorStep, PythonScriptStep

__all__ = [
    "CommandStep",
    "EstimatorStep",
    "HyperDriveStep",
    "HyperDriveStepRun",
    "ParallelRunConfig",
    "ParallelRunStep",
    "PythonScriptStep",
]


# A run handle imports the registry: only when asked for, not by DAG files.
__getattr__, __dir__ = lazy_exports(__name__, {"HyperDriveStepRun": "airflow_mlw.hyperdrive.run"})
