"""Schedules: when a published pipeline runs, in the two forms Airflow allows.

- :mod:`.recurrence`: ``ScheduleRecurrence`` (Azure's validation rules) and its timetable;
- :mod:`.definition`: what a schedule is (a recurrence or a watched datastore path), no I/O;
- :mod:`.airflow`: schedules in DAG code as Airflow timetables and asset watchers;
- :mod:`.registry`: ``Schedule``, Azure's API over registry records (``create``, ``get``, ``list``,
  ``enable``, ``disable``, ``update``);
- :mod:`.runner`: which records are due at a tick of the schedule-runner DAG
  (:mod:`airflow_mlw.dags.schedule_runner`), recorded so that nothing fires twice.
"""

from __future__ import annotations

from airflow_mlw.datastores.watch import ScheduleError, WatchedPathNotFoundError
from airflow_mlw.pipelines.schedules.airflow import airflow_schedule, combine_schedules, triggered_data_path
from airflow_mlw.pipelines.schedules.definition import ACTIVE, DISABLED, ScheduleDefinition
from airflow_mlw.pipelines.schedules.recurrence import ScheduleRecurrence, ScheduleRecurrenceError
from airflow_mlw.pipelines.schedules.registry import Schedule, ScheduleNotFoundError

__all__ = [
    "ACTIVE",
    "DISABLED",
    "Schedule",
    "ScheduleDefinition",
    "ScheduleError",
    "ScheduleNotFoundError",
    "ScheduleRecurrence",
    "ScheduleRecurrenceError",
    "WatchedPathNotFoundError",
    "airflow_schedule",
    "combine_schedules",
    "triggered_data_path",
]
