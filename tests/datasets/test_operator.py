"""RegisterDatasetOperator in a real DAG run: XCom reference, Asset events, lineage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_mlw import Datastore
from airflow_mlw.datasets import Dataset, dataset_asset_uri
from airflow_mlw.datasets.versioning import lineage_of
from tests.airflow_harness import run_dag, task_states, xcom_of


def asset_event_extras(uri: str) -> list[dict[str, Any]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == uri)
            .order_by(AssetEvent.id)
        ).all()
        return [dict(row.extra) for row in rows]


def test_new_versions_emit_asset_events_and_lineage(workspace: Any, tmp_path: Path) -> None:
    from airflow.sdk import DAG

    from airflow_mlw.operators.dataset import RegisterDatasetOperator

    store = Datastore.register_local(workspace, "landing", tmp_path / "landing")
    (tmp_path / "landing" / "in").mkdir(parents=True)
    (tmp_path / "landing" / "in" / "a.csv").write_text("a\n1\n")
    with DAG("mlw_register_dataset", schedule=None) as dag:
        RegisterDatasetOperator(
            task_id="register",
            name="landing_{{ dag.dag_id[-7:] }}",
            path="in/*.csv",
            datastore_name=store.name,
            dataset_type="tabular",
            workspace=workspace,
        )
    uri = dataset_asset_uri("landing_dataset", workspace)
    first = run_dag(dag)
    assert task_states(first) == {"register": "success"}
    reference = xcom_of(first, "register")
    assert (reference["name"], reference["version"]) == ("landing_dataset", 1)
    assert asset_event_extras(uri) == [{"version": 1, "fingerprint": reference["fingerprint"]}]

    run_dag(dag)  # unchanged files: same version, no event
    assert len(asset_event_extras(uri)) == 1
    (tmp_path / "landing" / "in" / "b.csv").write_text("a\n2\n")
    third = run_dag(dag)
    assert xcom_of(third, "register")["version"] == 2
    assert [e["version"] for e in asset_event_extras(uri)] == [1, 2]
    v2 = Dataset.get_by_name(workspace, "landing_dataset")
    assert lineage_of(workspace, v2.id) == [
        {
            "direction": "produced",
            "dag_id": "mlw_register_dataset",
            "dag_run_id": third.run_id,
            "task_id": "register",
        }
    ]
    assert sorted(v2.to_pandas_dataframe()["a"].tolist()) == [1, 2]
