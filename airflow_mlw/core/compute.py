"""``azureml.core.compute`` -> ``airflow_mlw.core.compute``."""

from airflow_mlw.compute import (
    DEFAULT_CPU_IMAGE,
    AmlCompute,
    AttachedCompute,
    ClusterCompute,
    ComputeTarget,
    DockerCompute,
    InferenceCompute,
    KubernetesCompute,
    LocalCompute,
)
from airflow_mlw.exceptions import ComputeTargetException

__all__ = [
    "DEFAULT_CPU_IMAGE",
    "AmlCompute",
    "AttachedCompute",
    "ClusterCompute",
    "ComputeTarget",
    "ComputeTargetException",
    "DockerCompute",
    "InferenceCompute",
    "KubernetesCompute",
    "LocalCompute",
]
