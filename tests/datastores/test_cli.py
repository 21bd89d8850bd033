"""``mlw datastore ...`` against a real registry and real Azurite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests import services
from tests.stores import azurite_endpoint


def mlw(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("mlw")), "--json", *args], capture_output=True, text=True, env=env
    )


def test_register_upload_list_download(
    mlw_home: Path, tmp_path: Path, azurite: Any, monkeypatch: Any
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("aaa")
    assert mlw("datastore", "register-local", "mine", str(tmp_path / "store")).returncode == 0
    monkeypatch.setenv("MLW_TEST_KEY", services.AZURITE_KEY)
    run = mlw(
        "datastore",
        "register-blob",
        "blobs",
        "cli-container",
        "--account",
        services.AZURITE_ACCOUNT,
        "--account-key-env",
        "MLW_TEST_KEY",
        "--endpoint",
        azurite_endpoint(azurite),
        "--create",
    )
    assert run.returncode == 0, run.stderr
    assert services.AZURITE_KEY not in run.stdout + run.stderr
    listing = {row["name"]: row for row in json.loads(mlw("datastore", "list").stdout)}
    assert listing["blobs"]["credential"] == "stored encrypted"
    assert listing["workspacelocalstore"]["default"] is True
    for name in ("mine", "blobs"):
        up = mlw("datastore", "upload", name, str(src), "--target-path", "/in")
        assert json.loads(up.stdout)["transferred"] == 1, up.stderr
        again = mlw("datastore", "upload", name, str(src), "--target-path", "/in")
        assert json.loads(again.stdout)["skipped"] == 1
        shown = json.loads(mlw("datastore", "show", name, "--files", "in").stdout)
        assert shown["files"] == [{"path": "in/a.txt", "size": 3}]
        down = mlw("datastore", "download", name, str(tmp_path / f"out-{name}"), "--prefix", "in")
        assert down.returncode == 0, down.stderr
        assert (tmp_path / f"out-{name}" / "in" / "a.txt").read_text() == "aaa"


def test_bad_input_exits_2_with_the_name(mlw_home: Path, tmp_path: Path) -> None:
    run = mlw("datastore", "upload", "ghost", str(tmp_path))
    assert run.returncode == 2
    assert "datastore 'ghost' is not registered" in run.stderr
    run = mlw("datastore", "register-local", "x", str(tmp_path))
    run = mlw("datastore", "upload", "x", str(tmp_path), "--target-path", "../../etc")
    assert run.returncode == 2 and "escapes the datastore root" in run.stderr
