"""Shim: the datastore watcher moved to :mod:`airflow_mlw.datastores.watch`."""

from __future__ import annotations

from airflow_mlw.datastores.watch import (
    MAX_LISTED_CHANGES,
    ScheduleError,
    WatchedPathNotFoundError,
    WatchStateFile,
    changed_data_path,
    changed_files,
    check_watched_path,
    event_payload,
    normalized_watch_path,
    snapshot,
)

__all__ = [
    "MAX_LISTED_CHANGES",
    "ScheduleError",
    "WatchStateFile",
    "WatchedPathNotFoundError",
    "changed_data_path",
    "changed_files",
    "check_watched_path",
    "event_payload",
    "normalized_watch_path",
    "snapshot",
]
