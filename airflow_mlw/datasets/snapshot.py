"""Snapshot versions: each file copied once into content-addressed storage on the default datastore."""

from __future__ import annotations

import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_mlw.datasets.manifest import Manifest, ManifestEntry
    from airflow_mlw.datastores.base import StorageBackend
    from airflow_mlw.workspace import Workspace

log = logging.getLogger(__name__)
SNAPSHOT_PREFIX = "mlw/snapshots"


def snapshot_key(entry: ManifestEntry) -> str:
    return f"{SNAPSHOT_PREFIX}/{entry.hash_kind.replace(':', '-')}/{entry.digest[:2]}/{entry.digest}"


def copy_to_snapshot(
    workspace: Workspace, manifest: Manifest, backends: list[StorageBackend]
) -> dict[str, Any]:
    """Copy each file into content-addressed storage on the default datastore (deduplicated)."""
    from airflow_mlw.datastores.local import LocalBackend

    default = workspace.get_default_datastore()
    target = default.backend
    present = {info.path for info in target.list(SNAPSHOT_PREFIX)}
    todo = {}
    for entry in manifest.entries:
        key = snapshot_key(entry)
        if key not in present:
            todo[key] = entry

    def copy(item: tuple[str, ManifestEntry]) -> None:
        key, entry = item
        source = backends[entry.source]
        if isinstance(source, LocalBackend):
            target.put_file(source.full_path(entry.location), key)
            return
        with tempfile.TemporaryDirectory(prefix="mlw-snapshot-") as scratch:
            local = Path(scratch) / "file"
            source.get_file(entry.file_info(), local)
            target.put_file(local, key)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(copy, todo.items()))
    target.memo.flush()
    log.info("snapshot: %d new file(s), %d already stored", len(todo), len(manifest.entries) - len(todo))
    return {"datastore": default.name}
