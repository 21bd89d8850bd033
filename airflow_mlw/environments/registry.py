"""Shim: environment registration moved to :mod:`airflow_mlw.environments.registration` (kept so
old imports work)."""

from __future__ import annotations

from airflow_mlw.environments.registration import *  # noqa: F403
