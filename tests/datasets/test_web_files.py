"""``Dataset.File.from_files('https://...')`` against a real HTTP server on loopback."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.datasets import Dataset


@pytest.fixture
def web_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_web_file_is_fingerprinted_by_content_and_downloaded(
    workspace: Any, web_root: tuple[Path, str], tmp_path: Path
) -> None:
    root, base = web_root
    (root / "diabetes.csv").write_text("a,b\n1,2\n")
    files = Dataset.File.from_files(path=f"{base}/diabetes.csv").register(workspace, "web")
    (local,) = files.download(tmp_path / "down")
    assert Path(local).read_text() == "a,b\n1,2\n"
    table = Dataset.Tabular.from_delimited_files(path=f"{base}/diabetes.csv")
    assert table.to_pandas_dataframe()["b"].tolist() == [2]
    (root / "diabetes.csv").write_text("a,b\n1,3\n")
    assert files.register(workspace, "web", create_new_version=True).version == 2
