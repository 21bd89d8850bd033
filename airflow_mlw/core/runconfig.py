"""Azure-style façade (``azureml.core.runconfig`` -> ``airflow_mlw.core.runconfig``); re-exports only."""

from __future__ import annotations

from airflow_mlw.compute import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE
from airflow_mlw.compute.runconfig import (
    DockerConfiguration,
    MpiConfiguration,
    PyTorchConfiguration,
    RunConfiguration,
)
from airflow_mlw.environments.spec import CondaDependencies

__all__ = [
    "DEFAULT_CPU_IMAGE",
    "DEFAULT_GPU_IMAGE",
    "CondaDependencies",
    "DockerConfiguration",
    "MpiConfiguration",
    "PyTorchConfiguration",
    "RunConfiguration",
]
