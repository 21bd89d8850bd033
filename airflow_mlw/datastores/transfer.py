"""Tree transfers, written once for every backend: plan, then copy concurrently with progress.

Sync rules (DESIGN.md §3 "Datastores"): a file that exists on the other side with the same size
and checksum is skipped; a differing one is replaced only with ``overwrite=True``, otherwise the
whole transfer is refused before anything is copied, naming the differing files.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_mlw.datastores.base import FileInfo, StorageBackend
from airflow_mlw.datastores.paths import join_path, normalize_path, relative_to
from airflow_mlw.exceptions import DatastoreConflictError, MlwError

log = logging.getLogger(__name__)
LOG_EVERY_SECONDS = 5.0
MAX_NAMED_CONFLICTS = 10
BATCH_FILES = 32


@dataclass
class TransferReport:
    """What a transfer did: paths copied and skipped, bytes moved, seconds taken."""

    direction: str
    transferred: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        return (
            f"{self.direction}: {len(self.transferred)} files ({self.bytes / 1e6:.1f} MB) copied, "
            f"{len(self.skipped)} unchanged skipped, in {self.seconds:.2f}s"
        )


class Progress:
    """A progress bar on a terminal; a log line every few seconds elsewhere (Airflow task logs)."""

    def __init__(self, label: str, files: int, total_bytes: int, show: bool) -> None:
        self.label, self.files, self.total_bytes = label, files, total_bytes
        self.done_files = self.done_bytes = 0
        self._lock = threading.Lock()
        self._last_log = time.monotonic()
        self._bar: Any = None
        if show and files and sys.stderr.isatty():
            from rich.progress import BarColumn, DownloadColumn, TransferSpeedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
            )
            self._bar.start()
            self._task = self._bar.add_task(label, total=total_bytes)
        self._log = show and self._bar is None

    def advance(self, size: int) -> None:
        with self._lock:
            self.done_files += 1
            self.done_bytes += size
            if self._bar is not None:
                self._bar.update(self._task, advance=size)
            elif self._log and time.monotonic() - self._last_log >= LOG_EVERY_SECONDS:
                self._last_log = time.monotonic()
                log.info("%s", self.line())

    def line(self) -> str:
        percent = 100 * self.done_bytes / self.total_bytes if self.total_bytes else 100.0
        return (
            f"{self.label}: {self.done_files}/{self.files} files, "
            f"{self.done_bytes / 1e6:.1f}/{self.total_bytes / 1e6:.1f} MB ({percent:.0f}%)"
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _run_concurrently(
    items: list[Any], sizes: list[int], work: Callable[[Any], int], workers: int, progress: Progress
) -> int:
    """Run ``work`` over ``items`` on a bounded pool; the first failure cancels what has not started.

    Small files go to the pool in batches (one hand-off per batch, not per file: a hand-off costs about
    as much as copying a small local file), big ones alone; a batch holds at most 1/(4 x workers) of
    the bytes, so every worker has work until the end.
    """
    total = 0
    if not items:
        return 0
    batches = _batches(items, sizes, max(1, sum(sizes) // (4 * workers)))
    failed = threading.Event()

    def run(batch: list[Any]) -> int:
        done = 0
        for item in batch:
            if failed.is_set():  # another batch failed: the transfer stops
                break
            size = work(item)
            done += size
            progress.advance(size)
        return done

    with ThreadPoolExecutor(max_workers=min(workers, len(batches))) as pool:
        futures = [pool.submit(run, batch) for batch in batches]
        try:
            for future in futures:
                total += future.result()
        except BaseException:
            failed.set()
            for future in futures:
                future.cancel()
            raise
    return total


def _batches(items: list[Any], sizes: list[int], most_bytes: int) -> list[list[Any]]:
    """``items`` in order, cut into batches of at most ``BATCH_FILES`` files and about ``most_bytes``."""
    batches: list[list[Any]] = []
    batch: list[Any] = []
    filled = 0
    for item, size in zip(items, sizes, strict=True):
        if batch and (filled + size > most_bytes or len(batch) >= BATCH_FILES):
            batches.append(batch)
            batch, filled = [], 0
        batch.append(item)
        filled += size
    if batch:
        batches.append(batch)
    return batches


def _execute(
    backend: StorageBackend,
    report: TransferReport,
    jobs: list[tuple[Any, str, int]],
    work: Callable[[Any], int],
    label: str,
    show_progress: bool,
    started: float,
) -> TransferReport:
    """Copy ``jobs`` ((item, datastore path, size)) concurrently with progress; complete the report."""
    progress = Progress(label, len(jobs), sum(size for _, _, size in jobs), show_progress)
    try:
        report.bytes = _run_concurrently(
            [item for item, _, _ in jobs], [size for _, _, size in jobs], work, backend.max_workers, progress
        )
    finally:
        progress.close()
        backend.memo.flush()
    report.transferred = [path for _, path, _ in jobs]
    report.seconds = time.monotonic() - started
    log.info("%s", report)
    return report


def _local_files(src_dir: Path) -> list[tuple[str, Path, os.stat_result]]:
    """(relative posix path, absolute path, stat) of every file below ``src_dir``, sorted."""
    found = []
    stack = [(src_dir, "")]
    while stack:
        folder, relative = stack.pop()
        for entry in os.scandir(folder):
            child = f"{relative}/{entry.name}" if relative else entry.name
            if entry.is_dir(follow_symlinks=True):
                stack.append((Path(entry.path), child))
            elif entry.is_file(follow_symlinks=True) and not entry.name.startswith(".mlw-tmp-"):
                found.append((child, Path(entry.path), entry.stat()))
    return sorted(found)


def _same_content(backend: StorageBackend, local: Path, stat: os.stat_result, remote: FileInfo) -> bool:
    """Same size and checksum; the local digest comes from the memo when the file is unchanged."""
    if stat.st_size != remote.size:
        return False
    if backend.known_identical(local, stat, remote):
        return True
    remote = backend.with_checksum(remote)
    if remote.checksum is None or remote.checksum_kind is None:
        return False
    return backend.memo.digest(local, remote.checksum_kind, stat) == remote.checksum


def _refuse_conflicts(conflicts: list[str], where: str) -> None:
    if conflicts:
        named = ", ".join(conflicts[:MAX_NAMED_CONFLICTS]) + (
            " …" if len(conflicts) > MAX_NAMED_CONFLICTS else ""
        )
        raise DatastoreConflictError(
            f"{len(conflicts)} file(s) in {where} differ from the source and overwrite=False: {named}; "
            "pass overwrite=True to replace them"
        )


def upload_pairs(
    backend: StorageBackend,
    pairs: Iterable[tuple[Path, str]],
    *,
    overwrite: bool,
    show_progress: bool,
    where: str,
) -> TransferReport:
    """Upload local files to datastore paths: (local path, normalised datastore path) pairs."""
    items = []
    for local, path in pairs:
        try:
            items.append((local, path, os.stat(local)))
        except FileNotFoundError:
            raise MlwError(f"cannot upload {local}: no such file") from None
    return _upload(backend, items, overwrite=overwrite, show_progress=show_progress, where=where)


def _upload(
    backend: StorageBackend,
    items: list[tuple[Path, str, os.stat_result]],
    *,
    overwrite: bool,
    show_progress: bool,
    where: str,
) -> TransferReport:
    """Upload (local path, datastore path, local stat) items."""
    started = time.monotonic()
    report = TransferReport("upload")
    if not items:
        report.seconds = time.monotonic() - started
        return report
    common = (
        os.path.commonpath([path for _, path, _ in items])
        if len(items) > 1
        else items[0][1].rpartition("/")[0]
    )
    existing = {info.path: info for info in backend.list(normalize_path(common))}
    to_copy, conflicts = [], []
    for local, path, stat in items:
        remote = existing.get(path)
        if remote is None:
            to_copy.append((local, path, stat))
        elif _same_content(backend, local, stat, remote):
            report.skipped.append(path)
        elif overwrite:
            to_copy.append((local, path, stat))
        else:
            conflicts.append(path)
    _refuse_conflicts(conflicts, where)
    backend.before_write([path for _, path, _ in to_copy])

    def put(item: tuple[Path, str, os.stat_result]) -> int:
        local, path, stat = item
        backend.put_file(local, path)
        return stat.st_size

    jobs = [(item, item[1], item[2].st_size) for item in to_copy]
    return _execute(backend, report, jobs, put, f"upload to {where}", show_progress, started)


def upload_tree(
    backend: StorageBackend,
    src_dir: str | os.PathLike[str],
    target_path: str | None,
    *,
    overwrite: bool,
    show_progress: bool,
    where: str,
) -> TransferReport:
    """Upload everything under ``src_dir`` to ``target_path`` (``None`` or ``/``: the root)."""
    source = Path(src_dir)
    if not source.is_dir():
        raise MlwError(f"cannot upload {source}: not a folder")
    target = normalize_path(target_path, what="target_path")
    items = [(local, join_path(target, relative), stat) for relative, local, stat in _local_files(source)]
    return _upload(backend, items, overwrite=overwrite, show_progress=show_progress, where=where)


def download_tree(
    backend: StorageBackend,
    target_path: str | os.PathLike[str],
    prefix: str | None,
    *,
    overwrite: bool,
    show_progress: bool,
    where: str,
    strip_prefix: bool = False,
) -> TransferReport:
    """Download every file at or below ``prefix`` into the local folder ``target_path``.

    Files keep their datastore paths below ``target_path`` as in Azure; ``strip_prefix`` makes them
    relative to ``prefix`` instead.
    """
    started = time.monotonic()
    report = TransferReport("download")
    folder = Path(target_path)
    normalized = normalize_path(prefix, what="prefix")
    remote_files = list(backend.list(normalized))
    to_copy, conflicts = [], []
    for info in remote_files:
        relative = relative_to(info.path, normalized) if strip_prefix else info.path
        local = folder / relative
        try:
            stat = os.stat(local)
        except FileNotFoundError:
            to_copy.append((info, local))
            continue
        if _same_content(backend, local, stat, info):
            report.skipped.append(info.path)
        elif overwrite:
            to_copy.append((info, local))
        else:
            conflicts.append(str(local))
    _refuse_conflicts(conflicts, str(folder))

    def get(item: tuple[FileInfo, Path]) -> int:
        info, local = item
        backend.get_file(info, local)
        return info.size

    jobs = [(item, item[0].path, item[0].size) for item in to_copy]
    return _execute(backend, report, jobs, get, f"download from {where}", show_progress, started)
