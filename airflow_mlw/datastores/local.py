"""Local-folder backend: a folder on the worker, or a mount every worker shares.

Writes go to a hidden temp file beside the target and are renamed into place, so a killed
transfer never leaves a partial file under the real name; listings skip the temp files and a
later write sweeps those whose writer is gone.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from airflow_mlw.datastores.base import FileInfo, StorageBackend
from airflow_mlw.datastores.checksums import CHUNK, SHA256, ContentHashMemo, new_digest
from airflow_mlw.exceptions import ChecksumMismatchError, DatastoreConnectionError

TEMP_PREFIX = ".mlw-tmp-"
#: Unique within this process (a random part, then a counter): no random draw per file.
_TEMP_TOKEN = uuid.uuid4().hex[:6]
_temp_counter = itertools.count()
#: Errors of ``copy_file_range`` that mean "not here" (another file system, an old kernel...).
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM, errno.ETXTBSY}


def temp_name(target: Path) -> Path:
    """A hidden sibling name carrying the writer's pid, so stale ones can be swept."""
    return target.with_name(
        f"{TEMP_PREFIX}{os.getpid()}-{_TEMP_TOKEN}{next(_temp_counter):x}-{target.name}"[:255]
    )


def sweep_stale_temp_files(folder: Path) -> None:
    """Remove temp files in ``folder`` whose writing process no longer exists."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if not entry.name.startswith(TEMP_PREFIX):
                continue
            pid_text = entry.name[len(TEMP_PREFIX) :].split("-", 1)[0]
            if pid_text.isdigit() and not _alive(int(pid_text)):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def copy_with_digest(
    source: BinaryIO, target: Path, kind: str = SHA256, expected: str | None = None, name: str = ""
) -> tuple[str, int]:
    """Stream ``source`` into a temp file and rename it to ``target``; returns (hex digest, bytes).

    :param expected: digest the bytes must have; on a mismatch nothing becomes visible
    :param name: the datastore path, for the error message
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_name(target)
    digest = new_digest(kind)
    size = 0
    try:
        with open(temp, "wb") as out:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        value = str(digest.hexdigest())
        if expected is not None and value != expected:
            raise ChecksumMismatchError(
                f"{name or target}: checksum after transfer ({kind} {value[:16]}) differs from the "
                f"source's ({expected[:16]}); the file changed during the transfer or was corrupted"
            )
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return value, size


def kernel_copy(source: Path, target: Path, memo: ContentHashMemo) -> os.stat_result:
    """Copy in the kernel (``copy_file_range``) through a temp file renamed into place, and remember
    that the two files are identical; returns the copy's stat.

    Per file: open both, copy, two ``fstat``s, rename — as ``cp`` does, plus the rename; the target's
    folder is made only when the first open says it is missing.
    """
    temp = temp_name(target)
    with open(source, "rb") as reader:
        before = os.fstat(reader.fileno())
        try:
            out = _create(temp)
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
            out = _create(temp)
        try:
            try:
                _copy_descriptor(reader.fileno(), out, before.st_size)
                copy = os.fstat(out)  # the inode, size and mtime it keeps once renamed
            finally:
                os.close(out)
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        unchanged = ContentHashMemo.file_key(os.fstat(reader.fileno())) == ContentHashMemo.file_key(before)
    if unchanged:
        memo.record_copy(before, copy)
    return copy


def _create(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o666)


def _copy_descriptor(source: int, target: int, size: int) -> None:
    """All of ``source`` into ``target`` in the kernel; a read/write loop where it cannot."""
    copy_range = getattr(os, "copy_file_range", None)
    copied = 0
    if copy_range is not None:
        try:
            while True:
                done = copy_range(source, target, max(size - copied, 1 << 20))
                if not done:
                    return
                copied += done
        except OSError as error:
            if copied or error.errno not in _NO_KERNEL_COPY:
                raise
    while chunk := os.read(source, CHUNK):
        view = memoryview(chunk)
        while view:
            view = view[os.write(target, view) :]


class LocalBackend(StorageBackend):
    """Files under ``root``; checksums are SHA-256, memoised by (device, inode, size, mtime_ns).

    :param root: the datastore's root folder
    """

    kind = "local"

    @classmethod
    def for_datastore(cls, datastore: Any, memo: ContentHashMemo) -> LocalBackend:
        if datastore.conn_id:
            from airflow_mlw.hooks.local import LocalDatastoreHook

            return cls(LocalDatastoreHook(datastore.conn_id).root, memo)
        return cls(datastore.config["root"], memo)

    def __init__(self, root: str | os.PathLike[str], memo: ContentHashMemo) -> None:
        super().__init__(memo)
        self.root = Path(root)

    def full_path(self, path: str) -> Path:
        return self.root / path if path else self.root

    def uri(self, path: str) -> str:
        return Path(os.path.abspath(self.full_path(path))).as_uri()

    def check_access(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise DatastoreConnectionError(f"local datastore root {self.root} is not a folder")

    def list(self, prefix: str = "") -> Iterator[FileInfo]:
        start = self.full_path(prefix)
        if start.is_file():
            yield FileInfo(prefix, start.stat().st_size)
            return
        stack = [(start, prefix)]
        while stack:
            folder, relative = stack.pop()
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                if entry.name.startswith(TEMP_PREFIX):
                    continue
                child = f"{relative}/{entry.name}" if relative else entry.name
                if entry.is_dir(follow_symlinks=True):
                    stack.append((Path(entry.path), child))
                elif entry.is_file(follow_symlinks=True):
                    yield FileInfo(child, entry.stat().st_size)

    def info(self, path: str) -> FileInfo | None:
        full = self.full_path(path)
        try:
            stat = full.stat()
        except FileNotFoundError:
            return None
        return FileInfo(path, stat.st_size) if full.is_file() else None

    def before_write(self, paths: Sequence[str]) -> None:
        for folder in {self.full_path(path).parent for path in paths}:
            sweep_stale_temp_files(folder)

    def with_checksum(self, info: FileInfo) -> FileInfo:
        if info.checksum is not None:
            return info
        digest = self.memo.digest(self.full_path(info.path), SHA256)
        return FileInfo(info.path, info.size, digest, SHA256)

    def open_read(self, path: str) -> BinaryIO:
        return open(self.full_path(path), "rb")

    def put_file(self, local_path: Path, path: str) -> FileInfo:
        copy = kernel_copy(local_path, self.full_path(path), self.memo)
        return FileInfo(path, copy.st_size)

    def get_file(self, info: FileInfo, local_path: Path) -> None:
        if info.checksum is None or info.checksum_kind != SHA256:
            kernel_copy(self.full_path(info.path), local_path, self.memo)
            return
        with self.open_read(info.path) as source:
            digest, _ = copy_with_digest(source, local_path, SHA256, info.checksum, info.path)
        self.memo.record(local_path.stat(), SHA256, digest)

    def known_identical(self, local_path: Path, local_stat: os.stat_result, info: FileInfo) -> bool:
        """One file was copied from the other and neither changed since: identical, nothing to read."""
        try:
            stored = self.full_path(info.path).stat()
        except FileNotFoundError:
            return False
        return self.memo.is_copy(local_stat, stored) or self.memo.is_copy(stored, local_stat)

    def delete(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.full_path(path).unlink()

    @property
    def max_workers(self) -> int:
        return 8
