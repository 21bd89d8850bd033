"""Datastore operators inside a real Airflow DAG run (metadata DB, dag.test())."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.airflow_harness import run_dag, task_states, xcom_of


def test_upload_and_download_operators_with_templated_paths(workspace: Any, tmp_path: Path) -> None:
    from airflow.sdk import DAG

    from airflow_mlw.operators.datastore import DatastoreDownloadOperator, DatastoreUploadOperator

    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "x.txt").write_text("hello")
    with DAG("mlw_datastore_ops", schedule=None) as dag:
        up = DatastoreUploadOperator(
            task_id="up",
            datastore_name="workspaceblobstore",
            src_dir=str(src),
            target_path="runs/{{ dag.dag_id }}",
            workspace=workspace,
        )
        down = DatastoreDownloadOperator(
            task_id="down",
            datastore_name="workspacelocalstore",
            target_path=str(tmp_path / "out") + "/{{ ti.task_id }}",
            prefix="runs/{{ dag.dag_id }}",
            workspace=workspace,
        )
        up >> down
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {"up": "success", "down": "success"}
    assert xcom_of(dag_run, "up") == {
        "datastore": "workspacelocalstore",
        "target_path": "runs/mlw_datastore_ops",
        "transferred": 1,
        "skipped": 0,
        "bytes": 5,
    }
    assert (tmp_path / "out" / "down" / "runs" / "mlw_datastore_ops" / "sub" / "x.txt").read_text() == "hello"
