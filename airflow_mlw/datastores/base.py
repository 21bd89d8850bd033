"""The storage interface every datastore backend implements (one module per backend).

Backends only list, read, write and delete single files; tree transfers, sync rules, progress
and checksum comparison are written once, in :mod:`airflow_mlw.datastores.transfer`.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from airflow_mlw.datastores.checksums import ContentHashMemo


@dataclass(frozen=True)
class FileInfo:
    """A file in a datastore.

    :param path: posix path relative to the datastore root
    :param size: size in bytes
    :param checksum: the store's checksum (``None`` when the store keeps none for this file)
    :param checksum_kind: digest kind of ``checksum`` (``sha256``, ``md5``, ``s3etag:<part size>``),
        the same kind :func:`~airflow_mlw.datastores.checksums.local_digest` computes for local files
    """

    path: str
    size: int
    checksum: str | None = None
    checksum_kind: str | None = None


class StorageBackend(abc.ABC):
    """One datastore's storage: paths are normalised, relative to the datastore root."""

    kind: ClassVar[str]

    def __init__(self, memo: ContentHashMemo) -> None:
        self.memo = memo

    @classmethod
    def for_datastore(cls, datastore: Any, memo: ContentHashMemo) -> StorageBackend:
        """The backend of a registered datastore (its config, connection and stored secret)."""
        raise NotImplementedError

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[FileInfo]:
        """Every file that is ``prefix`` or lies below it (whole path segments), with sizes and checksums."""

    @abc.abstractmethod
    def info(self, path: str) -> FileInfo | None:
        """The file at ``path``, or ``None``."""

    @abc.abstractmethod
    def open_read(self, path: str) -> BinaryIO:
        """A streaming reader of the file at ``path``."""

    @abc.abstractmethod
    def put_file(self, local_path: Path, path: str) -> FileInfo:
        """Store a local file at ``path``, atomically (readers see the old file or the whole new one)."""

    @abc.abstractmethod
    def get_file(self, info: FileInfo, local_path: Path) -> None:
        """Write the file to ``local_path`` atomically; on a checksum mismatch nothing becomes visible."""

    @abc.abstractmethod
    def delete(self, path: str) -> None:
        """Delete the file at ``path`` (no error if it is missing)."""

    def before_write(self, paths: Sequence[str]) -> None:
        """Clean up what killed earlier writers left near ``paths`` (nothing for object stores)."""
        return None

    def exists(self, path: str) -> bool:
        return self.info(path) is not None

    def check_access(self) -> None:
        """Raise :class:`~airflow_mlw.exceptions.DatastoreConnectionError` when the storage is unusable."""
        next(iter(self.list("")), None)

    def known_identical(self, local_path: Path, local_stat: os.stat_result, info: FileInfo) -> bool:
        """True when ``info`` is known to hold exactly the local file's bytes without hashing."""
        return False

    def uri(self, path: str) -> str:
        """Where ``path`` is, as other tools name it (``file:///…``, ``s3://bucket/key``, ``wasbs://…``)."""
        raise NotImplementedError(f"{type(self).__name__} has no URL form")

    def with_checksum(self, info: FileInfo) -> FileInfo:
        """``info`` with its checksum filled in where listing did not give one (local: memoised SHA-256)."""
        return info

    @property
    def max_workers(self) -> int:
        """Concurrent transfers that suit this backend."""
        return 8
