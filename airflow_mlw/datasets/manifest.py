"""File manifests and fingerprints of dataset versions.

A manifest lists each file as (relative path, size, content hash); the relative path is taken
from the source's base folder, so the same files moved elsewhere keep their fingerprint. The
content hash is the store's checksum where it keeps one (S3 ETag, Blob Content-MD5) and a
memoised SHA-256 for local files. The fingerprint is the SHA-256 of the sorted manifest.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_mlw.datasets.sources import Source, resolve_source
from airflow_mlw.exceptions import DatasetError

if TYPE_CHECKING:
    from airflow_mlw.datastores.base import FileInfo, StorageBackend
    from airflow_mlw.workspace import Workspace

HASH_WORKERS = 4


@dataclass(frozen=True, order=True)
class ManifestEntry:
    """One file: ``path`` (relative, what the fingerprint covers) and where it lives."""

    path: str
    size: int
    content_hash: str
    source: int
    location: str

    def to_json(self) -> list[Any]:
        return [self.path, self.size, self.content_hash, self.source, self.location]

    @property
    def hash_kind(self) -> str:
        """Digest kind of ``content_hash`` (``sha256``, ``md5``, ``s3etag:<part size>``...)."""
        return self.content_hash.rpartition(":")[0]

    @property
    def digest(self) -> str:
        return self.content_hash.rpartition(":")[2]

    def file_info(self, location: str | None = None) -> FileInfo:
        """The file as its store sees it (at ``location`` if given), with the checksum to verify."""
        from airflow_mlw.datastores.base import FileInfo

        return FileInfo(location or self.location, self.size, self.digest or None, self.hash_kind or None)

    @classmethod
    def from_json(cls, row: list[Any]) -> ManifestEntry:
        return cls(str(row[0]), int(row[1]), str(row[2]), int(row[3]), str(row[4]))


@dataclass(frozen=True)
class Manifest:
    entries: tuple[ManifestEntry, ...]

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for entry in self.entries:
            digest.update(f"{entry.path}\t{entry.size}\t{entry.content_hash}\n".encode())
        return digest.hexdigest()

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.entries)

    def to_json(self) -> list[list[Any]]:
        return [entry.to_json() for entry in self.entries]

    @classmethod
    def from_json(cls, rows: list[list[Any]]) -> Manifest:
        return cls(tuple(sorted(ManifestEntry.from_json(row) for row in rows)))

    def diff(self, other: Manifest) -> tuple[list[str], list[str], list[str]]:
        """(changed, added, removed) paths going from ``self`` to ``other``."""
        mine = {(e.source, e.location): e for e in self.entries}
        theirs = {(e.source, e.location): e for e in other.entries}
        changed = sorted(
            key[1]
            for key in mine.keys() & theirs.keys()
            if (mine[key].size, mine[key].content_hash) != (theirs[key].size, theirs[key].content_hash)
        )
        added = sorted(key[1] for key in theirs.keys() - mine.keys())
        removed = sorted(key[1] for key in mine.keys() - theirs.keys())
        return changed, added, removed


def resolve_files(workspace: Workspace, sources: list[Source]) -> list[tuple[StorageBackend, list[FileInfo]]]:
    """Each source's backend and matched files; a source that matches nothing is an error naming it."""
    resolved = []
    for source in sources:
        backend, datastore_name, files = resolve_source(workspace, source)
        if not files:
            where = f"datastore {datastore_name!r}" if datastore_name else "the local disk"
            shown = source.pattern if source.pattern.startswith(("/", "http")) else repr(source.pattern)
            raise DatasetError(f"path {shown} on {where} matches no files")
        resolved.append((backend, files))
    return resolved


def build_manifest(workspace: Workspace, sources: list[Source]) -> tuple[Manifest, list[StorageBackend]]:
    """List and checksum every file of ``sources`` (local hashes from the memo, in parallel)."""
    resolved = resolve_files(workspace, sources)
    jobs = [(index, backend, info) for index, (backend, files) in enumerate(resolved) for info in files]

    def entry(job: tuple[int, StorageBackend, FileInfo]) -> ManifestEntry:
        index, backend, info = job
        info = backend.with_checksum(info)
        return ManifestEntry(
            sources[index].relative(info.path),
            info.size,
            f"{info.checksum_kind}:{info.checksum}",
            index,
            info.path,
        )

    def chunk(part: list[tuple[int, StorageBackend, FileInfo]]) -> list[ManifestEntry]:
        return [entry(job) for job in part]

    # A few large chunks, not a future per file: 20,000 memoised files cost ~1 s in futures alone.
    parts = [jobs[i :: HASH_WORKERS * 4] for i in range(HASH_WORKERS * 4)]
    with ThreadPoolExecutor(HASH_WORKERS) as pool:
        entries = sorted(e for part in pool.map(chunk, parts) for e in part)
    for backend, _ in resolved:
        backend.memo.flush()
    return Manifest(tuple(entries)), [backend for backend, _ in resolved]
