"""``mlw model ...`` and ``mlw service list`` on the embedded default workspace."""

from __future__ import annotations

from pathlib import Path

from airflow_mlw.core import Model, Workspace
from tests.datasets.test_cli import mlw


def test_list_show_and_download_models(mlw_home: Path, tmp_path: Path) -> None:
    ws = Workspace.from_config()
    (tmp_path / "model.pkl").write_bytes(b"one")
    Model.register(ws, tmp_path / "model.pkl", "churn", tags={"stage": "prod"}, properties={"auc": 0.9})
    (tmp_path / "model.pkl").write_bytes(b"two!")
    Model.register(ws, tmp_path / "model.pkl", "churn")
    assert [m["id"] for m in mlw("model", "list")] == ["churn:2", "churn:1"]
    assert [m["id"] for m in mlw("model", "list", "--tag", "stage=prod")] == ["churn:1"]
    shown = mlw("model", "show", "churn", "--version", "1")
    assert (shown["files"][0]["path"], shown["files"][0]["size"]) == ("model.pkl", 3)
    assert (shown["metrics"], shown["tags"], shown["lineage"]) == ({"auc": 0.9}, {"stage": "prod"}, [])
    downloaded = mlw("model", "download", "churn", str(tmp_path / "out"))
    assert Path(downloaded["path"]).read_bytes() == b"two!" and downloaded["version"] == 2
    assert mlw("service", "list") == []
