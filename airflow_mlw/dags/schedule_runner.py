"""The schedule-runner DAG: turns ``Schedule.create(...)`` registry records into DAG runs.

Put a file like this in the DAGs folder (``mlw_schedule_runner.py``)::

    from airflow_mlw.dags.schedule_runner import schedule_runner_dag

    dag = schedule_runner_dag()

Every minute its first task reads the registry (at run time; parsing the file reads nothing),
records the due firings of the active schedules and returns one set of ``TriggerDagRunOperator``
arguments per firing; the mapped trigger task then starts the published pipelines' DAG runs with
the schedules' pipeline parameters as ``conf``. Run ids are derived from (schedule, due time), so
nothing fires twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_mlw.workspace import Workspace

DEFAULT_DAG_ID = "mlw_schedule_runner"


def schedule_runner_dag(
    dag_id: str = DEFAULT_DAG_ID,
    interval: timedelta = timedelta(minutes=1),
    workspace: Workspace | None = None,
    **dag_kwargs: Any,
) -> Any:
    """The runner DAG (no I/O while building it).

    :param dag_id: the DAG's id
    :param interval: time between two ticks; a schedule fires at the first tick at or after its due time
    :param workspace: whose registry to read (default: ``Workspace.from_config()`` at run time); the
        runner fires the schedules of every workspace in that registry
    """
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
    from airflow.sdk import DAG, DeltaTriggerTimetable, task

    dag_kwargs.setdefault("tags", ["mlw", "schedules"])
    dag_kwargs.setdefault("description", "Fires the schedules recorded with Schedule.create")
    with DAG(
        dag_id,
        schedule=DeltaTriggerTimetable(interval),
        catchup=False,
        max_active_runs=1,
        **dag_kwargs,
    ) as dag:

        @task(task_id="due_firings")
        def due() -> list[dict[str, Any]]:
            from airflow_mlw.operators.datastore import workspace_or_configured
            from airflow_mlw.pipelines.schedules.runner import due_firings

            return due_firings(workspace_or_configured(workspace))

        TriggerDagRunOperator.partial(
            task_id="trigger_pipeline_runs",
            skip_when_already_exists=True,
            openlineage_inject_parent_info=False,
        ).expand_kwargs(due())
    return dag
