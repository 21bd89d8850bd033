"""Run a DAG in this process, as ``airflow dags test`` does, against Airflow's metadata DB.

Airflow 3.3 runs ``dag.test()`` only for DAGs serialized in the metadata DB, so the DAG is bagged
and synced under a bundle of ours first. Used by ``Experiment.submit`` without ``[mlw] api_url``.
"""

from __future__ import annotations

import os
import threading
from typing import Any

BUNDLE = "mlw-in-process"
_lock = threading.Lock()
_ready = False


def ensure_metadata_db() -> None:
    """Migrate Airflow's metadata DB when needed (the embedded default) and add our bundle row."""
    global _ready
    with _lock:
        if _ready:
            return
        from airflow.models.dagbundle import DagBundleModel
        from airflow.utils import db
        from airflow.utils.session import create_session

        try:
            db.check_migrations(timeout=0)
        except Exception:
            db.initdb()
        with create_session() as session:
            if session.get(DagBundleModel, BUNDLE) is None:
                session.add(DagBundleModel(name=BUNDLE))
        _ready = True


def run_dag(dag: Any, conf: dict[str, Any] | None = None) -> Any:
    """Serialize ``dag`` into the metadata DB and run it to the end; returns the DagRun."""
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    ensure_metadata_db()
    bag = DagBag(dag_folder="/nonexistent-mlw-in-process")
    bag.bag_dag(dag)
    sync_bag_to_db(bag, bundle_name=BUNDLE, bundle_version=None)
    # Tasks run in this process export AIRFLOW_CTX_* (which task is running); left behind, they
    # would make later registrations in this process look as if that task made them.
    before = {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW_CTX_")}
    try:
        return dag.test(run_conf=conf)
    finally:
        for key in [k for k in os.environ if k.startswith("AIRFLOW_CTX_")]:
            del os.environ[key]
        os.environ.update(before)
