"""A public Azure Blob container registered without credentials: read anonymously, writes refused (Azurite)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw import Dataset, Datastore
from airflow_mlw.exceptions import DatastoreConnectionError, DatastoreReadOnlyError
from tests import services
from tests.stores import azurite_endpoint


def _container(azurite: Any, public_access: str | None) -> str:
    """A container made with the account key, holding ``data/rows.csv``."""
    from azure.storage.blob import BlobServiceClient

    name = f"pub{uuid.uuid4().hex[:12]}"
    service = BlobServiceClient.from_connection_string(services.azurite_connection_string(azurite.port))
    container = service.create_container(name, public_access=public_access)
    container.upload_blob("data/rows.csv", b"a,b\n1,x\n2,y\n")
    return name


def _anonymous(workspace: Any, azurite: Any, container: str, **kwargs: Any) -> Datastore:
    return Datastore.register_azure_blob_container(
        workspace,
        "public",
        container,
        services.AZURITE_ACCOUNT,
        endpoint=azurite_endpoint(azurite),
        **kwargs,
    )


def test_public_container_is_read_anonymously(workspace: Any, azurite: Any, tmp_path: Path) -> None:
    store = _anonymous(workspace, azurite, _container(azurite, "container"))
    assert store._record["secret"] is None and store.conn_id is None
    assert store.describe()["credential"] == "none (anonymous, read-only)"
    assert [f.path for f in store.list()] == ["data/rows.csv"]
    store.download(tmp_path / "down", prefix="data")
    assert (tmp_path / "down" / "data" / "rows.csv").read_bytes() == b"a,b\n1,x\n2,y\n"
    files = Dataset.File.from_files((store, "data/*.csv"))
    assert [Path(p).name for p in files.download(tmp_path / "ds")] == ["rows.csv"]
    assert (tmp_path / "ds" / "rows.csv").read_text() == "a,b\n1,x\n2,y\n"
    table = Dataset.Tabular.from_delimited_files((store, "data/rows.csv")).to_pandas_dataframe()
    assert table.to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}


def test_anonymous_writes_fail_clearly(workspace: Any, azurite: Any, tmp_path: Path) -> None:
    store = _anonymous(workspace, azurite, _container(azurite, "container"))
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "new.txt").write_text("new")
    with pytest.raises(
        DatastoreReadOnlyError, match="'public' .* registered without credentials .* cannot be written"
    ):
        store.upload(tmp_path / "up", "incoming")
    with pytest.raises(DatastoreReadOnlyError, match="register it with account_key, sas_token or conn_id"):
        store.backend.delete("data/rows.csv")
    assert [f.path for f in store.list()] == ["data/rows.csv"]


def test_private_container_without_credentials_is_refused_at_registration(
    workspace: Any, azurite: Any
) -> None:
    container = _container(azurite, None)
    with pytest.raises(DatastoreConnectionError, match="anonymous access refused .* not public"):
        _anonymous(workspace, azurite, container)
    assert "public" not in workspace.datastores
