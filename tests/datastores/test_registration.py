"""Registering and finding datastores, and the errors a user can cause; credentials stay secret."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from airflow_mlw import Datastore
from airflow_mlw.datastores.azure_blob import account_url
from airflow_mlw.exceptions import (
    DatastoreConnectionError,
    DatastoreExistsError,
    DatastoreNotFoundError,
    MlwError,
)
from tests import services
from tests.stores import azurite_endpoint, new_bucket

WRONG_KEY = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk9PQ=="


def registry_text(workspace: Any) -> str:
    """Every value stored in the datastores table, as text."""
    engine = create_engine(workspace.settings.registry_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM mlw_datastores")).fetchall()
    engine.dispose()
    return repr(rows)


def test_every_kind_is_persisted_and_listed(
    workspace: Any, tmp_path: Path, s3_server: Any, s3_conn_id: str, azurite: Any
) -> None:
    Datastore.register_local(workspace, "local_one", tmp_path / "l")
    bucket = new_bucket(s3_server)
    Datastore.register_s3_bucket(workspace, "s3_one", bucket, aws_conn_id=s3_conn_id, prefix="/a/b/")
    Datastore.register_azure_blob_container(
        workspace,
        "blob_one",
        "cont-one",
        services.AZURITE_ACCOUNT,
        account_key=services.AZURITE_KEY,
        endpoint=azurite_endpoint(azurite),
        create_if_not_exists=True,
    )
    Datastore.register_sql(workspace, "sql_one", conn_id="some_db")
    assert sorted(workspace.datastores) == [
        "blob_one",
        "local_one",
        "s3_one",
        "sql_one",
        "workspacelocalstore",
    ]
    assert [d.name for d in Datastore.list(workspace)] == sorted(workspace.datastores)
    s3 = Datastore.get(workspace, "s3_one")
    assert (s3.kind, s3.datastore_type, s3.config) == (
        "s3",
        "S3Bucket",
        {"bucket_name": bucket, "prefix": "a/b"},
    )
    assert Datastore.get(workspace, "blob_one").describe()["credential"] == "stored encrypted"
    assert Datastore(workspace, "sql_one").conn_id == "some_db"


def test_account_key_never_stored_or_shown_in_clear(
    workspace: Any, azurite: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    ds = Datastore.register_azure_blob_container(
        workspace,
        "secretive",
        "cont-secret",
        services.AZURITE_ACCOUNT,
        account_key=services.AZURITE_KEY,
        endpoint=azurite_endpoint(azurite),
        create_if_not_exists=True,
    )
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "x.txt").write_text("x")
    ds.upload(tmp_path / "f", show_progress=False)
    assert services.AZURITE_KEY not in registry_text(workspace)
    assert services.AZURITE_KEY not in repr(ds.describe()) + repr(ds) + repr(ds.backend)
    assert services.AZURITE_KEY not in caplog.text
    assert [i.path for i in Datastore.get(workspace, "secretive").list()] == ["x.txt"]


def test_wrong_account_key_is_a_clear_error_without_the_key(workspace: Any, azurite: Any) -> None:
    with pytest.raises(DatastoreConnectionError, match="authentication failed") as info:
        Datastore.register_azure_blob_container(
            workspace,
            "wrongkey",
            "cont-wrong",
            services.AZURITE_ACCOUNT,
            account_key=WRONG_KEY,
            endpoint=azurite_endpoint(azurite),
            create_if_not_exists=True,
        )
    assert WRONG_KEY not in str(info.value)
    assert "wrongkey" not in workspace.datastores, "a failed registration leaves no row"


def test_missing_container_is_named(workspace: Any, azurite: Any) -> None:
    with pytest.raises(DatastoreConnectionError, match="container 'no-such-container' does not exist"):
        Datastore.register_azure_blob_container(
            workspace,
            "nocont",
            "no-such-container",
            services.AZURITE_ACCOUNT,
            account_key=services.AZURITE_KEY,
            endpoint=azurite_endpoint(azurite),
        )


def test_missing_bucket_is_named_at_first_use(workspace: Any, s3_conn_id: str) -> None:
    ds = Datastore.register_s3_bucket(
        workspace, "nobucket", f"absent-{uuid.uuid4().hex[:8]}", aws_conn_id=s3_conn_id
    )
    with pytest.raises(DatastoreConnectionError, match=r"bucket 'absent-\w+' does not exist"):
        ds.list()


def test_missing_airflow_connection_is_named(workspace: Any) -> None:
    ds = Datastore.register_s3_bucket(workspace, "noconn", "some-bucket", aws_conn_id="not_defined_anywhere")
    with pytest.raises(
        DatastoreConnectionError, match="Airflow connection 'not_defined_anywhere' is not defined"
    ):
        ds.list()
    sql = Datastore.register_sql(workspace, "nosql", conn_id="no_sql_conn")
    with pytest.raises(DatastoreConnectionError, match="connection 'no_sql_conn' is not defined"):
        sql.sql_hook()


def test_unreachable_s3_endpoint_is_named(workspace: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_DEAD_S3",
        '{"conn_type": "aws", "login": "a", "password": "b", "extra": {"endpoint_url": "http://127.0.0.1:9", "region_name": "us-east-1"}}',
    )
    ds = Datastore.register_s3_bucket(workspace, "dead", "dead-bucket", aws_conn_id="dead_s3")
    with pytest.raises(DatastoreConnectionError, match="cannot reach the S3 endpoint"):
        ds.list()


def test_duplicate_and_invalid_names(workspace: Any, tmp_path: Path) -> None:
    Datastore.register_local(workspace, "dup", tmp_path)
    with pytest.raises(DatastoreExistsError, match="'dup' is already registered"):
        Datastore.register_local(workspace, "dup", tmp_path)
    with pytest.raises(MlwError, match="invalid datastore name 'bad-name'"):
        Datastore.register_local(workspace, "bad-name", tmp_path)
    with pytest.raises(MlwError, match="invalid S3 bucket name 'B'"):
        Datastore.register_s3_bucket(workspace, "s3x", "B")
    with pytest.raises(MlwError, match="invalid Azure Blob container name 'Bad_Container'"):
        Datastore.register_azure_blob_container(
            workspace, "bx", "Bad_Container", "acct", account_key=WRONG_KEY
        )
    with pytest.raises(DatastoreNotFoundError, match="'ghost' is not registered"):
        Datastore.get(workspace, "ghost")


def test_blob_endpoint_accepts_suffix_form_and_full_url() -> None:
    assert account_url("acct", None) == "https://acct.blob.core.windows.net"
    assert account_url("acct", "core.chinacloudapi.cn") == "https://acct.blob.core.chinacloudapi.cn"
    assert (
        account_url("devstoreaccount1", "http://127.0.0.1:10000/devstoreaccount1/")
        == "http://127.0.0.1:10000/devstoreaccount1"
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sql_datastore_runs_queries(
    workspace: Any,
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sqlite3

    from airflow_mlw.datastores.sql import run_query

    if backend == "sqlite":
        db = tmp_path / "s.db"
        with sqlite3.connect(db) as connection:
            connection.execute("CREATE TABLE t (a INTEGER, b TEXT)")
            connection.execute("INSERT INTO t VALUES (1, 'x'), (2, 'y')")
        monkeypatch.setenv("AIRFLOW_CONN_MLW_SQL", f'{{"conn_type": "sqlite", "host": "{db}"}}')
    else:
        postgres = request.getfixturevalue("postgres")
        postgres.create_database("sqlstore")
        engine = create_engine(postgres.url("sqlstore"))
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (a INTEGER, b TEXT)"))
            connection.execute(text("INSERT INTO t VALUES (1, 'x'), (2, 'y')"))
        engine.dispose()
        monkeypatch.setenv(
            "AIRFLOW_CONN_MLW_SQL", f"postgresql://postgres@127.0.0.1:{postgres.port}/sqlstore"
        )
    ds = Datastore.register_sql(workspace, "db", conn_id="mlw_sql")
    columns, rows = run_query(ds, "SELECT a, b FROM t ORDER BY a")
    assert (columns, rows) == (["a", "b"], [(1, "x"), (2, "y")])


def test_local_root_from_an_mlw_local_connection(
    workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SHARED_DISK", json.dumps({"conn_type": "mlw_local", "host": str(tmp_path / "mnt")})
    )
    ds = Datastore.register_local(workspace, "shared", conn_id="shared_disk")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "f.txt").write_text("f")
    ds.upload(tmp_path / "src", "x", show_progress=False)
    assert (tmp_path / "mnt" / "x" / "f.txt").read_text() == "f"
    assert ds.describe() == {"kind": "local", "conn_id": "shared_disk"}
