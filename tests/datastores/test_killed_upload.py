"""An upload killed with SIGKILL halfway leaves nothing partial visible, and a re-run finishes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

UPLOAD = """
import sys
from airflow_mlw import Datastore, Workspace
ws = Workspace.get("test", registry_url=sys.argv[1])
Datastore.get(ws, "files").upload(sys.argv[2], "killed", show_progress=False)
"""


def test_killed_upload_resumes_without_corrupt_or_duplicate_objects(
    file_datastore: Any, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    contents = {}
    for i in range(24):
        data = bytes([i]) * (12 << 20)
        (src / f"part{i:02d}.bin").write_bytes(data)
        contents[f"killed/part{i:02d}.bin"] = data
    registry = file_datastore.workspace.settings.registry_url
    process = subprocess.Popen([sys.executable, "-c", UPLOAD, registry, str(src)], start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(file_datastore.list("killed")) < 2 and process.poll() is None:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    visible = {info.path: info.size for info in file_datastore.list("killed")}
    assert 0 < len(visible) < len(contents), "the kill should land halfway"
    assert all(size == 12 << 20 for size in visible.values()), "no partial object is visible"

    report = file_datastore.upload(src, "killed", show_progress=False)
    # A request fully sent before the kill may still complete on the server: skipped can only grow.
    assert set(visible) <= set(report.skipped)
    assert sorted(report.skipped + report.transferred) == sorted(contents)
    file_datastore.download(tmp_path / "back", prefix="killed", show_progress=False)
    back = {
        p.relative_to(tmp_path / "back").as_posix(): p.read_bytes()
        for p in (tmp_path / "back").rglob("*")
        if p.is_file()
    }
    assert back == contents
    if file_datastore.kind == "local":
        leftovers = [p.name for p in Path(file_datastore.config["root"]).rglob(".mlw-tmp-*")]
        assert leftovers == [], "the re-run swept the killed writer's temp files"
