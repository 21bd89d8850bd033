"""Datastores of every file backend on real servers: a local folder, moto S3, Azurite Blob (fixtures)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests import services


@pytest.fixture(scope="session")
def s3_conn_id(s3_server: services.BackgroundServer) -> Iterator[str]:
    """An Airflow ``aws`` connection (environment variable) to the session's S3 server."""
    conn_id = "mlw_test_s3"
    extra = {"endpoint_url": f"http://127.0.0.1:{s3_server.port}", "region_name": "us-east-1"}
    value = json.dumps({"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)
        yield conn_id


def s3_client(s3_server: services.BackgroundServer) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{s3_server.port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def new_bucket(s3_server: services.BackgroundServer) -> str:
    name = f"mlw-{uuid.uuid4().hex[:12]}"
    s3_client(s3_server).create_bucket(Bucket=name)
    return name


def azurite_endpoint(azurite: services.BackgroundServer) -> str:
    return f"http://127.0.0.1:{azurite.port}/{services.AZURITE_ACCOUNT}"


@pytest.fixture(params=["local", "s3", "azure_blob"])
def file_datastore(request: pytest.FixtureRequest, workspace: Any, tmp_path: Any) -> Any:
    """A fresh, empty datastore of each file backend in the test workspace."""
    from airflow_mlw import Datastore

    if request.param == "local":
        return Datastore.register_local(workspace, "files", tmp_path / "store")
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        conn_id = request.getfixturevalue("s3_conn_id")
        return Datastore.register_s3_bucket(
            workspace, "files", new_bucket(server), aws_conn_id=conn_id, prefix="root/p"
        )
    azurite = request.getfixturevalue("azurite")
    return Datastore.register_azure_blob_container(
        workspace,
        "files",
        container_name=f"c{uuid.uuid4().hex[:12]}",
        account_name=services.AZURITE_ACCOUNT,
        account_key=services.AZURITE_KEY,
        endpoint=azurite_endpoint(azurite),
        create_if_not_exists=True,
    )
