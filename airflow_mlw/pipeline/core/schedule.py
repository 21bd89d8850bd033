"""``azureml.pipeline.core.schedule`` -> ``airflow_mlw.pipeline.core.schedule``.

``Schedule`` and ``ScheduleRecurrence`` go to ``pipeline.to_dag(schedule=...)`` in DAG code, or
``Schedule.create(...)`` records a schedule of a published pipeline that the schedule-runner DAG
(:mod:`airflow_mlw.dags.schedule_runner`) fires.
"""

from airflow_mlw.pipelines.schedules import (
    Schedule,
    ScheduleError,
    ScheduleNotFoundError,
    ScheduleRecurrence,
    ScheduleRecurrenceError,
)

__all__ = [
    "Schedule",
    "ScheduleError",
    "ScheduleNotFoundError",
    "ScheduleRecurrence",
    "ScheduleRecurrenceError",
]
