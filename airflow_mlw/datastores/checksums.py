"""Content digests of local files, memoised by (device, inode, size, mtime_ns).

Every comparison with a store's checksum (local SHA-256, S3 ETag, Blob Content-MD5) goes through
:func:`local_digest`, so an unchanged file is read at most once per digest kind: later calls find
the digest in the memo (in memory, and persisted in a small SQLite file under ``[mlw] home``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

CHUNK = 1 << 20
SHA256 = "sha256"
MD5 = "md5"
#: ``s3etag:<part size>``: the ETag S3 gives a multipart upload with parts of that size.
S3_ETAG = "s3etag"


def s3_etag_kind(part_size: int) -> str:
    return f"{S3_ETAG}:{part_size}"


class S3EtagDigest:
    """Streaming ETag of a multipart upload: MD5 of the parts' MD5s, then ``-<number of parts>``."""

    def __init__(self, part_size: int) -> None:
        self.part_size = part_size
        self.parts: list[bytes] = []
        self.current = hashlib.md5()
        self.filled = 0

    def update(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            take = min(len(view), self.part_size - self.filled)
            self.current.update(view[:take])
            self.filled += take
            view = view[take:]
            if self.filled == self.part_size:
                self.parts.append(self.current.digest())
                self.current, self.filled = hashlib.md5(), 0

    def hexdigest(self) -> str:
        parts = self.parts + ([self.current.digest()] if self.filled or not self.parts else [])
        return f"{hashlib.md5(b''.join(parts)).hexdigest()}-{len(parts)}"


def new_digest(kind: str) -> Any:
    """A streaming digest object (``update``, ``hexdigest``) of ``kind``."""
    if kind.startswith(S3_ETAG + ":"):
        return S3EtagDigest(int(kind.split(":", 1)[1]))
    return hashlib.new(kind)


def compute_digest(path: str | os.PathLike[str], kind: str) -> str:
    """Read the file once and return its digest of ``kind`` (hex; S3 ETags without quotes)."""
    digest = new_digest(kind)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return str(digest.hexdigest())


def md5_hex_to_base64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def md5_base64_to_hex(b64: str | bytes | bytearray) -> str:
    raw = bytes(b64) if isinstance(b64, bytes | bytearray) else base64.b64decode(b64)
    return raw.hex()


class ContentHashMemo:
    """Digests by (device, inode, size, mtime_ns, kind); a changed file gets a new key.

    It also remembers which local file was copied from which (both keys), so a later sync can
    tell that two unchanged files are identical without reading either.

    :param path: SQLite file that keeps the memo across processes (``None``: memory only)
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._memory: dict[tuple[int, int, int, int, str], str] = {}
        self._pending: list[tuple[int, int, int, int, str, str]] = []
        self._copies: dict[tuple[int, int, int, int], tuple[int, int, int, int]] = {}
        self._pending_copies: list[tuple[int, ...]] = []
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS digests (dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER,"
                " kind TEXT, digest TEXT, PRIMARY KEY (dev, ino, kind))"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS copies (dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER,"
                " src_dev INTEGER, src_ino INTEGER, src_size INTEGER, src_mtime_ns INTEGER, PRIMARY KEY (dev, ino))"
            )
            self._db = db
        return self._db

    @staticmethod
    def key(stat: os.stat_result, kind: str) -> tuple[int, int, int, int, str]:
        return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, kind)

    def lookup(self, stat: os.stat_result, kind: str) -> str | None:
        key = self.key(stat, kind)
        with self._lock:
            found = self._memory.get(key)
            if found is not None:
                return found
            db = self._connection()
            if db is None:
                return None
            row = db.execute(
                "SELECT size, mtime_ns, digest FROM digests WHERE dev=? AND ino=? AND kind=?",
                (stat.st_dev, stat.st_ino, kind),
            ).fetchone()
        if row is None or (row[0], row[1]) != (stat.st_size, stat.st_mtime_ns):
            return None
        self._memory[key] = row[2]
        return str(row[2])

    def record(self, stat: os.stat_result, kind: str, digest: str) -> None:
        key = self.key(stat, kind)
        with self._lock:
            self._memory[key] = digest
            self._pending.append((*key, digest))
            flush = len(self._pending) >= 2000
        if flush:
            self.flush()

    @staticmethod
    def file_key(stat: os.stat_result) -> tuple[int, int, int, int]:
        return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def record_copy(self, source: os.stat_result, copy: os.stat_result) -> None:
        """``copy`` holds exactly the bytes of ``source`` (both as they are now)."""
        src_key, dst_key = self.file_key(source), self.file_key(copy)
        with self._lock:
            self._copies[dst_key] = src_key
            self._pending_copies.append((*dst_key, *src_key))

    def is_copy(self, source: os.stat_result, copy: os.stat_result) -> bool:
        """True when ``copy`` was made from ``source`` and neither changed since."""
        src_key, dst_key = self.file_key(source), self.file_key(copy)
        with self._lock:
            if self._copies.get(dst_key) == src_key:
                return True
            db = self._connection()
            if db is None:
                return False
            row = db.execute(
                "SELECT size, mtime_ns, src_dev, src_ino, src_size, src_mtime_ns FROM copies WHERE dev=? AND ino=?",
                dst_key[:2],
            ).fetchone()
        return row is not None and tuple(row) == (*dst_key[2:], *src_key)

    def flush(self) -> None:
        """Persist recorded digests and copies (one transaction)."""
        with self._lock:
            pending, self._pending = self._pending, []
            copies, self._pending_copies = self._pending_copies, []
            db = self._connection()
            if db is None or not (pending or copies):
                return
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?, ?)", pending)
            db.executemany("INSERT OR REPLACE INTO copies VALUES (?, ?, ?, ?, ?, ?, ?, ?)", copies)
            db.execute("COMMIT")

    def digest(self, path: str | os.PathLike[str], kind: str, stat: os.stat_result | None = None) -> str:
        """The file's digest of ``kind``, from the memo or read once and recorded."""
        stat = stat or os.stat(path)
        found = self.lookup(stat, kind)
        if found is not None:
            return found
        value = compute_digest(path, kind)
        after = os.stat(path)
        if self.key(after, kind) == self.key(stat, kind):
            self.record(stat, kind, value)
        return value


_memos: dict[str, ContentHashMemo] = {}
_memos_lock = threading.Lock()


def memo_for_home(home: str | os.PathLike[str]) -> ContentHashMemo:
    """The process-wide memo persisted under ``<home>/cache/content-hashes.db``."""
    path = Path(home) / "cache" / "content-hashes.db"
    with _memos_lock:
        memo = _memos.get(str(path))
        if memo is None:
            memo = _memos[str(path)] = ContentHashMemo(path)
        return memo
