"""Workspace creation, lookup, default datastore, and the errors a user can cause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_mlw import Datastore, Workspace
from airflow_mlw.exceptions import (
    ConfigError,
    DatastoreNotFoundError,
    RegistryUnavailableError,
    WorkspaceExistsError,
    WorkspaceNotFoundError,
)


def test_constructing_a_workspace_does_no_io(mlw_home: Path) -> None:
    ws = Workspace.from_config()
    Datastore(ws, "workspaceblobstore")
    assert ws.name == "default"
    assert not (mlw_home / "mlw").exists()


def test_embedded_default_works_with_no_configuration(mlw_home: Path) -> None:
    ws = Workspace.from_config()
    default = ws.get_default_datastore()
    assert default.name == "workspacelocalstore"
    assert default.kind == "local"
    assert Path(default.config["root"]).is_relative_to(mlw_home / "mlw" / "data")
    assert (mlw_home / "mlw" / "registry.db").is_file()
    assert (ws.subscription_id, ws.resource_group, ws.location) == ("", "", "local")


def test_azure_builtin_datastore_names_mean_the_default(mlw_home: Path) -> None:
    ws = Workspace.from_config()
    assert Datastore(ws, "workspaceblobstore").name == "workspacelocalstore"
    assert Datastore.get(ws, "workspacefilestore").name == "workspacelocalstore"
    assert Datastore(ws).name == "workspacelocalstore"


def test_create_then_get(registry_url: str) -> None:
    created = Workspace.create("proj", registry_url=registry_url, tags={"team": "ml"})
    fetched = Workspace.get("proj", registry_url=registry_url)
    assert fetched == created
    assert fetched.get_details()["default_datastore"] == "workspacelocalstore"
    assert sorted(Workspace.list(registry_url=registry_url)) == ["proj"]


def test_create_twice_fails_unless_exist_ok(workspace: Workspace) -> None:
    url = workspace.settings.registry_url
    with pytest.raises(WorkspaceExistsError, match="'test' already exists"):
        Workspace.create("test", registry_url=url)
    assert (
        Workspace.create("test", registry_url=url, exist_ok=True)._workspace_id() == workspace._workspace_id()
    )


def test_unknown_workspace_is_named(workspace: Workspace) -> None:
    with pytest.raises(WorkspaceNotFoundError, match="workspace 'nope' not found in registry sqlite:///"):
        Workspace.get("nope", registry_url=workspace.settings.registry_url)


def test_set_default_datastore(workspace: Workspace, tmp_path: Path) -> None:
    Datastore.register_local(workspace, "scratch", tmp_path / "scratch")
    workspace.set_default_datastore("scratch")
    assert workspace.get_default_datastore().name == "scratch"
    assert Datastore(workspace, "workspaceblobstore").name == "scratch"
    assert sorted(workspace.datastores) == ["scratch", "workspacelocalstore"]


def test_unknown_default_datastore_is_named(workspace: Workspace) -> None:
    with pytest.raises(
        DatastoreNotFoundError, match="datastore 'missing' is not registered in workspace 'test'"
    ):
        workspace.set_default_datastore("missing")


def test_unreachable_registry_names_the_url_with_password_masked() -> None:
    ws = Workspace(workspace_name="x", registry_url="postgresql+psycopg2://mlw:s3cr3t@127.0.0.1:1/registry")
    with pytest.raises(RegistryUnavailableError) as info:
        ws.get_default_datastore()
    message = str(info.value)
    assert "postgresql+psycopg2://mlw:***@127.0.0.1:1/registry" in message
    assert "s3cr3t" not in message
    assert info.value.__cause__ is None


def test_malformed_registry_url_is_named() -> None:
    ws = Workspace(workspace_name="x", registry_url="not a url")
    with pytest.raises(ConfigError, match="malformed registry URL"):
        ws.get_default_datastore()


def test_write_config_round_trips(workspace: Workspace, tmp_path: Path) -> None:
    path = workspace.write_config(tmp_path / "proj")
    assert json.loads(path.read_text())["workspace_name"] == "test"
    again = Workspace.from_config(tmp_path / "proj")
    assert again == workspace
