"""Where a service runs and with what limits: ``LocalWebservice``, ``AciWebservice`` and
``AksWebservice`` and their ``deploy_configuration``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_mlw.exceptions import WebserviceException
from airflow_mlw.models.service import Webservice


@dataclass
class DeploymentConfiguration:
    """What ``deploy_configuration`` returns: the host port (``None``: any free one) and the scoring
    container's CPU and memory limits (``None``: none)."""

    port: int | None = None
    cpu_cores: float | None = None
    memory_gb: float | None = None

    def limits(self) -> dict[str, float]:
        return {k: float(v) for k, v in (("cpu_cores", self.cpu_cores), ("memory_gb", self.memory_gb)) if v}


class LocalWebservice(Webservice):
    """A service on this machine's Docker engine, published on 127.0.0.1."""

    compute_type = "Local"

    @staticmethod
    def deploy_configuration(port: int | None = None) -> DeploymentConfiguration:
        """:param port: host port of ``scoring_uri`` (default: a free one)"""
        if port is not None and not (isinstance(port, int) and 0 < port < 65536):
            raise WebserviceException(f"port must be an integer from 1 to 65535, not {port!r}")
        return DeploymentConfiguration(port)


class AciWebservice(LocalWebservice):
    """Azure Container Instances, ported: a service on this machine's engine with CPU and memory limits."""

    @staticmethod
    def deploy_configuration(  # type: ignore[override]
        cpu_cores: float | None = None, memory_gb: float | None = None, **_azure_only: Any
    ) -> DeploymentConfiguration:
        return DeploymentConfiguration(None, cpu_cores, memory_gb)


class AksWebservice(Webservice):
    """Azure Kubernetes Service, ported: a service on an ``InferenceCompute`` target, with limits."""

    @staticmethod
    def deploy_configuration(
        cpu_cores: float | None = None, memory_gb: float | None = None, **_azure_only: Any
    ) -> DeploymentConfiguration:
        return DeploymentConfiguration(None, cpu_cores, memory_gb)
