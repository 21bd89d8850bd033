"""``azureml.pipeline.core.schedule`` -> ``airflow_mlw.pipeline.core.schedule``.

``Schedule`` (registry records run by a schedule-runner DAG) comes with publishing; until then a
recurrence is passed to ``pipeline.to_dag(schedule=...)``.
"""

from airflow_mlw.pipelines.schedule import ScheduleRecurrence, ScheduleRecurrenceError

__all__ = ["ScheduleRecurrence", "ScheduleRecurrenceError"]
