"""Shim: scoring services moved to ``service`` (the ``Webservice`` handle), ``deployment_configs``
(``LocalWebservice``, ``AciWebservice``, ``AksWebservice``), ``deployment`` (``Model.deploy``),
``revisions`` and ``service_rows`` next to this module; their names stay importable here."""

from __future__ import annotations

from airflow_mlw.models.deployment import (
    HEALTH_TIMEOUT,
    LOCAL_BIND,
    NAME_RE,
    check_service_name,
    deploy,
)
from airflow_mlw.models.deployment_configs import (
    AciWebservice,
    AksWebservice,
    DeploymentConfiguration,
    LocalWebservice,
)
from airflow_mlw.models.service import DEPLOY_TIMEOUT, Webservice, find_service

__all__ = [
    "DEPLOY_TIMEOUT",
    "HEALTH_TIMEOUT",
    "LOCAL_BIND",
    "NAME_RE",
    "AciWebservice",
    "AksWebservice",
    "DeploymentConfiguration",
    "LocalWebservice",
    "Webservice",
    "check_service_name",
    "deploy",
    "find_service",
]
