"""A local datastore for dataset tests, and a helper that writes files into it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_mlw import Datastore
from airflow_mlw.workspace import Workspace


def write(root: Path, files: dict[str, str]) -> None:
    """Write ``{relative path: text}`` below ``root``."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


@pytest.fixture
def store(workspace: Workspace, tmp_path: Path) -> Any:
    return Datastore.register_local(workspace, "data_store", tmp_path / "store")


@pytest.fixture
def root(store: Any) -> Path:
    return Path(store.config["root"])
