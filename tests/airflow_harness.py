"""Running DAGs for real: Airflow's metadata DB (SQLite in the session's AIRFLOW_HOME) and dag.test().

Airflow 3.3 refuses ``dag.test()`` on a DAG that is not serialized in the metadata DB, so each DAG
is bagged and synced first (a DagBundleModel row, DagBag.bag_dag, sync_bag_to_db).
"""

from __future__ import annotations

import threading
from typing import Any

BUNDLE = "mlw-tests"
_ready = threading.Lock()
_migrated = False


def ensure_metadata_db() -> None:
    global _migrated
    with _ready:
        if _migrated:
            return
        from airflow.models.dagbundle import DagBundleModel
        from airflow.utils import db
        from airflow.utils.session import create_session

        db.initdb()
        with create_session() as session:
            if session.get(DagBundleModel, BUNDLE) is None:
                session.add(DagBundleModel(name=BUNDLE))
        _migrated = True


def run_dag(dag: Any, conf: dict[str, Any] | None = None) -> Any:
    """Serialize ``dag`` into the metadata DB and run it with ``dag.test()``; returns the DagRun."""
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    ensure_metadata_db()
    bag = DagBag(dag_folder="/nonexistent-mlw-dags")
    bag.bag_dag(dag)
    sync_bag_to_db(bag, bundle_name=BUNDLE, bundle_version=None)
    return dag.test(run_conf=conf)


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def xcom_of(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    """The deserialized XCom value a task pushed in ``dag_run``."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    query = XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key=key)
    with create_session() as session:
        row = session.scalars(query).first()
        return None if row is None else XComModel.deserialize_value(row)
