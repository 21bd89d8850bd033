"""Datastore-change detection, written once for the asset-watcher trigger and the schedule runner.

A *snapshot* maps each watched file to a signature (size plus the store's checksum; size, mtime
and inode for local folders, whose listings carry no checksum). Changed files are those that are new
or whose signature differs from the previous snapshot; deletions change no pipeline input and
fire nothing. Blobs without Content-MD5 (uploaded in blocks by other tools) are compared by size.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw.datastores.paths import normalize_path
from airflow_mlw.exceptions import MlwError

if TYPE_CHECKING:
    from airflow_mlw.datastores import Datastore

#: At most this many changed paths travel in one event payload (the count is always exact).
MAX_LISTED_CHANGES = 1000


class ScheduleError(MlwError):
    """A schedule that cannot be created, found or changed as asked (defined here, below
    :mod:`airflow_mlw.pipelines.schedules`, because the datastore watcher raises one)."""


class WatchedPathNotFoundError(ScheduleError):
    """The datastore path a schedule watches does not exist."""


def _missing(datastore: Datastore, path: str) -> WatchedPathNotFoundError:
    return WatchedPathNotFoundError(
        f"datastore {datastore.name!r} has no path {path!r} to watch; create it first "
        f"(upload a file below it) or correct path_on_datastore"
    )


def check_watched_path(datastore: Datastore, path: str) -> None:
    """Raise :class:`WatchedPathNotFoundError` naming datastore and path when ``path`` does not exist.

    The root always exists; a local folder exists when the folder does; on object stores a
    folder exists when at least one file lies below it.
    """
    from airflow_mlw.datastores.local import LocalBackend  # here: DAG files import ScheduleError

    backend = datastore.backend
    if not path:
        backend.check_access()
        return
    if isinstance(backend, LocalBackend):
        if not backend.full_path(path).exists():
            raise _missing(datastore, path)
        return
    if next(iter(backend.list(path)), None) is None:
        raise _missing(datastore, path)


def snapshot(datastore: Datastore, path: str = "", recursive: bool = False) -> dict[str, str]:
    """``{file path: signature}`` of the files at ``path`` (direct children unless ``recursive``)."""
    from airflow_mlw.datastores.local import LocalBackend

    backend = datastore.backend
    local = isinstance(backend, LocalBackend)
    signatures = {}
    for info in backend.list(path):
        rest = info.path[len(path) + 1 :] if path else info.path
        if not recursive and info.path != path and "/" in rest:
            continue
        if local:
            try:
                stat = os.stat(backend.full_path(info.path))  # type: ignore[attr-defined]
            except FileNotFoundError:
                continue  # deleted between listing and stat
            # The inode too: writes replace files by renaming, and mtime ticks are coarse.
            signatures[info.path] = f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino}"
        else:
            signatures[info.path] = f"{info.size}:{info.checksum or ''}"
    return signatures


def changed_files(previous: dict[str, str], current: dict[str, str]) -> list[str]:
    """Files of ``current`` that are new or differ from ``previous``, sorted."""
    return sorted(path for path, signature in current.items() if previous.get(path) != signature)


def changed_data_path(datastore_name: str, changed: list[str]) -> dict[str, str]:
    """The ``DataPath`` (Azure's JSON shape) that covers ``changed``: the one changed file itself,
    or the deepest folder holding all of them."""
    return {
        "DataStoreName": datastore_name,
        "RelativePath": posixpath.commonpath(changed) if changed else "",
    }


def event_payload(
    datastore_name: str, path: str, changed: list[str], data_path_parameter_name: str | None
) -> dict[str, Any]:
    """What one firing carries: the changed files and the ``DataPath`` a pipeline parameter gets."""
    return {
        "datastore": datastore_name,
        "path": path,
        "changed": changed[:MAX_LISTED_CHANGES],
        "changed_count": len(changed),
        "data_path_parameter_name": data_path_parameter_name,
        "data_path": changed_data_path(datastore_name, changed),
    }


def normalized_watch_path(path: str | None) -> str:
    return normalize_path(path, what="path_on_datastore")


class WatchStateFile:
    """The last snapshot of one watcher, in the mlw home cache, so a restarted triggerer resumes
    from it instead of taking a new baseline (which would miss changes made while it was down).

    :param home: the workspace's mlw home folder
    :param key: what identifies the watcher (workspace, datastore, path, recursive, watcher name)
    """

    def __init__(self, home: str | os.PathLike[str], key: dict[str, Any]) -> None:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
        self.key = key
        self.path = Path(home) / "cache" / "watchers" / f"{digest}.json"

    def load(self) -> dict[str, str] | None:
        """The stored snapshot, or ``None`` when this watcher never ran (or its file is unreadable)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        files = data.get("files") if isinstance(data, dict) else None
        return dict(files) if isinstance(files, dict) else None

    def save(self, files: dict[str, str]) -> None:
        """Write atomically (a temp file renamed into place)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        staging.write_text(json.dumps({"key": self.key, "files": files}), encoding="utf-8")
        staging.replace(self.path)
