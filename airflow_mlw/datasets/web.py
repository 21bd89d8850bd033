"""Web files (``Dataset.File.from_files('https://...')``): one URL, fingerprinted by ETag or content."""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast

from airflow_mlw.datastores.base import FileInfo, StorageBackend
from airflow_mlw.datastores.checksums import CHUNK, SHA256, ContentHashMemo
from airflow_mlw.datastores.local import copy_with_digest
from airflow_mlw.exceptions import DatasetError

TIMEOUT = 60


class WebBackend(StorageBackend):
    """A single file at ``url``; its path is the URL's last segment."""

    kind = "web"

    def __init__(self, url: str, memo: ContentHashMemo) -> None:
        super().__init__(memo)
        self.url = url
        self.name = url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or "index"

    def _open(self, method: str = "GET") -> object:
        try:
            return urllib.request.urlopen(urllib.request.Request(self.url, method=method), timeout=TIMEOUT)
        except OSError as exc:
            raise DatasetError(f"cannot fetch {self.url}: {getattr(exc, 'reason', exc)}") from None

    def list(self, prefix: str = "") -> Iterator[FileInfo]:
        info = self.info(self.name)
        if info is not None:
            yield info

    def info(self, path: str) -> FileInfo | None:
        with self._open("HEAD") as response:  # type: ignore[attr-defined]
            etag = (response.headers.get("ETag") or "").strip('"').removeprefix("W/").strip('"')
            size = response.headers.get("Content-Length")
        if etag and size is not None:
            return FileInfo(self.name, int(size), f"etag:{etag}", "web-etag")
        # No ETag: fingerprint by content.
        digest, total = hashlib.sha256(), 0
        with self._open() as response:  # type: ignore[attr-defined]
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                total += len(chunk)
        return FileInfo(self.name, total, digest.hexdigest(), SHA256)

    def open_read(self, path: str) -> BinaryIO:
        return cast(BinaryIO, self._open())

    def put_file(self, local_path: Path, path: str) -> FileInfo:
        raise DatasetError(f"{self.url} is read-only")

    def get_file(self, info: FileInfo, local_path: Path) -> None:
        expected = info.checksum if info.checksum_kind == SHA256 else None
        with self.open_read(info.path) as stream:
            copy_with_digest(stream, local_path, SHA256, expected, self.url)

    def delete(self, path: str) -> None:
        raise DatasetError(f"{self.url} is read-only")
