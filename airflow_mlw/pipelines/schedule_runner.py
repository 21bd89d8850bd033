"""Shim: the schedule runner's due firings moved to :mod:`airflow_mlw.pipelines.schedules.runner`."""

from __future__ import annotations

from airflow_mlw.pipelines.schedules.runner import (
    RUN_ID_PREFIX,
    Firing,
    datastore_firings,
    due_firings,
    due_time,
    record_firing,
    recurrence_firings,
    target_dag_id,
)

__all__ = [
    "RUN_ID_PREFIX",
    "Firing",
    "datastore_firings",
    "due_firings",
    "due_time",
    "record_firing",
    "recurrence_firings",
    "target_dag_id",
]
