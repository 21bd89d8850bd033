"""``mlw dataset ...`` on the embedded default workspace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def mlw(*args: str) -> dict | list:  # type: ignore[type-arg]
    run = subprocess.run(
        [str(Path(sys.executable).with_name("mlw")), "--json", *args], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)  # type: ignore[no-any-return]


def test_register_list_versions_diff_download(mlw_home: Path, tmp_path: Path) -> None:
    data = mlw_home / "mlw" / "data" / "default" / "in"
    data.mkdir(parents=True)
    (data / "a.csv").write_text("a\n1\n")
    assert mlw("dataset", "register", "t", "in/*.csv", "--tabular", "--tag", "team=ml")["version"] == 1
    (data / "b.csv").write_text("a\n2\n")
    assert mlw("dataset", "register", "t", "in/*.csv", "--tabular")["version"] == 2
    assert [row["version"] for row in mlw("dataset", "versions", "t")] == [1, 2]
    assert [row["name"] for row in mlw("dataset", "list")] == ["t"]
    assert mlw("dataset", "diff", "t", "1", "2") == {
        "name": "t",
        "from": "1",
        "to": "2",
        "added": ["b.csv"],
        "removed": [],
        "changed": [],
    }
    shown = mlw("dataset", "show", "t", "--version", "1")
    assert [f["path"] for f in shown["files"]] == ["a.csv"] and shown["tags"] == {"team": "ml"}
    files = mlw("dataset", "download", "t", str(tmp_path / "out"))["files"]
    assert sorted(Path(f).name for f in files) == ["a.csv", "b.csv"]
