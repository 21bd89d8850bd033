"""``mlw env ...`` and ``mlw compute list`` on the embedded default."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def mlw(*args: str) -> list | dict:  # type: ignore[type-arg]
    run = subprocess.run(
        [str(Path(sys.executable).with_name("mlw")), "--json", *args], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)  # type: ignore[no-any-return]


def test_env_register_list_show_and_compute_list(mlw_home: Path, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n# comment\nidna\n")
    assert (
        mlw("env", "register", "reqs", "--requirements", str(tmp_path / "requirements.txt"))["version"] == 1
    )
    names = {row["name"] for row in mlw("env", "list")}
    assert {"MLW-minimal", "MLW-pandas", "MLW-sklearn", "reqs"} <= names
    assert mlw("env", "show", "reqs")["spec"]["python"]["pip_packages"] == ["idna", "six==1.16.0"]
    assert mlw("compute", "list") == [{"name": "local", "type": "Local"}]
