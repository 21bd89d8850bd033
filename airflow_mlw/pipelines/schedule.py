"""Shim: schedules moved to the package :mod:`airflow_mlw.pipelines.schedules`."""

from __future__ import annotations

from airflow_mlw.datastores.watch import ScheduleError
from airflow_mlw.pipelines.schedules.airflow import airflow_schedule, combine_schedules, triggered_data_path
from airflow_mlw.pipelines.schedules.definition import ACTIVE, DISABLED
from airflow_mlw.pipelines.schedules.recurrence import (
    CRON_DAYS,
    FREQUENCIES,
    WEEK_DAYS,
    ScheduleRecurrence,
    ScheduleRecurrenceError,
)
from airflow_mlw.pipelines.schedules.registry import Schedule, ScheduleNotFoundError, as_utc

__all__ = [
    "ACTIVE",
    "CRON_DAYS",
    "DISABLED",
    "FREQUENCIES",
    "WEEK_DAYS",
    "Schedule",
    "ScheduleError",
    "ScheduleNotFoundError",
    "ScheduleRecurrence",
    "ScheduleRecurrenceError",
    "airflow_schedule",
    "as_utc",
    "combine_schedules",
    "triggered_data_path",
]
