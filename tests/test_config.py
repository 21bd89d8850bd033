"""Workspace discovery order and config errors (DESIGN.md §3 "Workspace and registry")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_mlw.config import load_settings
from airflow_mlw.exceptions import ConfigError


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_no_configuration_gives_the_embedded_default(mlw_home: Path) -> None:
    settings = load_settings()
    assert settings.source == "embedded default"
    assert settings.workspace_name == "default"
    assert settings.registry_url == f"sqlite:///{mlw_home / 'mlw' / 'registry.db'}"
    assert settings.data_root == mlw_home / "mlw" / "data"


def test_airflow_mlw_section_is_used_when_no_file(mlw_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__MLW__WORKSPACE_NAME", "from_airflow_cfg")
    settings = load_settings()
    assert settings.workspace_name == "from_airflow_cfg"
    assert settings.source == "airflow config [mlw]"


def test_config_json_without_mlw_block_is_ignored(mlw_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__MLW__WORKSPACE_NAME", "from_airflow_cfg")
    write(Path("config.json"), {"subscription_id": "x", "workspace_name": "azure_only"})
    assert load_settings().workspace_name == "from_airflow_cfg"


def test_config_json_with_mlw_block_wins_over_airflow_section(
    mlw_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__MLW__WORKSPACE_NAME", "from_airflow_cfg")
    write(Path("config.json"), {"workspace_name": "azure_ws", "mlw": {"home": str(mlw_home / "h")}})
    settings = load_settings()
    assert settings.workspace_name == "azure_ws"
    assert settings.registry_url.endswith("/h/registry.db")
    assert settings.source == str(Path("config.json").resolve())


def test_dot_mlw_config_wins_over_config_json(mlw_home: Path) -> None:
    write(Path("config.json"), {"mlw": {"workspace_name": "second"}})
    write(Path(".mlw/config.json"), {"workspace_name": "first"})
    assert load_settings().workspace_name == "first"


def test_mlw_config_variable_wins_over_everything(mlw_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(Path(".mlw/config.json"), {"workspace_name": "second"})
    monkeypatch.setenv("MLW_CONFIG", str(write(mlw_home / "elsewhere.json", {"workspace_name": "first"})))
    assert load_settings().workspace_name == "first"


def test_explicit_folder_path_finds_its_config(mlw_home: Path, tmp_path: Path) -> None:
    write(tmp_path / "proj" / ".mlw" / "config.json", {"workspace_name": "proj_ws"})
    assert load_settings(tmp_path / "proj").workspace_name == "proj_ws"


def test_malformed_config_names_the_file(mlw_home: Path) -> None:
    bad = Path(".mlw/config.json")
    bad.parent.mkdir()
    bad.write_text("{ not json")
    with pytest.raises(ConfigError, match=r"malformed workspace config file .*\.mlw/config\.json"):
        load_settings()


def test_unreadable_config_names_the_file(mlw_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLW_CONFIG", str(mlw_home))  # a folder, not a file
    with pytest.raises(ConfigError, match=f"cannot read workspace config file {mlw_home}"):
        load_settings()


def test_unknown_setting_is_named(mlw_home: Path) -> None:
    write(Path(".mlw/config.json"), {"mlw": {"registry_ulr": "sqlite://"}})
    with pytest.raises(ConfigError, match="registry_ulr"):
        load_settings()
