"""Running DAGs for real: Airflow's metadata DB (SQLite in the session's AIRFLOW_HOME) and dag.test().

Airflow 3.3 refuses ``dag.test()`` on a DAG that is not serialized in the metadata DB, so each DAG
is bagged and synced first (a DagBundleModel row, DagBag.bag_dag, sync_bag_to_db).
"""

from __future__ import annotations

from typing import Any

from airflow_mlw.runs.inprocess import ensure_metadata_db, run_dag

__all__ = ["ensure_metadata_db", "run_dag", "step_upstreams", "task_states", "xcom_of"]
#: The planning task every pipeline DAG starts with (``operators.planner``): not a step.
PLANNER = "mlw_plan"


def task_states(dag_run: Any) -> dict[str, str]:
    """task id -> state of the run's tasks, the planning task left out."""
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances() if ti.task_id != PLANNER}


def step_upstreams(dag: Any) -> dict[str, list[str]]:
    """task id -> the tasks it waits for, the planning task (first of every pipeline DAG) left out."""
    return {
        t.task_id: sorted(set(t.upstream_task_ids) - {PLANNER}) for t in dag.tasks if t.task_id != PLANNER
    }


def xcom_of(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    """The deserialized XCom value a task pushed in ``dag_run``."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    query = XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key=key)
    with create_session() as session:
        row = session.scalars(query).first()
        return None if row is None else XComModel.deserialize_value(row)
