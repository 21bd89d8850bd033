"""Environments: specs, registry, Docker images built once per spec, cached virtualenvs."""

from __future__ import annotations

from airflow_mlw.environments.spec import CondaDependencies, Environment

__all__ = ["CondaDependencies", "Environment"]
