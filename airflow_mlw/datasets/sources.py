"""Where a dataset's files come from, and how a definition's paths resolve to files.

A path is a ``(datastore, 'glob')`` tuple, a datastore ``DataReference``, a local path or glob, an
``http(s)://`` URL, or a list of these. ``*`` matches within one path segment, ``**`` any number of
segments; a path without globs that names a folder means every file below it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw.datastores.paths import normalize_path, under_prefix
from airflow_mlw.exceptions import DatasetError

if TYPE_CHECKING:
    from airflow_mlw.datastores.base import FileInfo, StorageBackend
    from airflow_mlw.workspace import Workspace

GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Source:
    """One path of a definition: on a datastore, on the local disk, or a web URL.

    :param datastore: datastore name (``None`` for local paths and URLs)
    :param pattern: glob relative to the datastore root, an absolute local glob, or a URL
    """

    datastore: str | None
    pattern: str
    url: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"datastore": self.datastore, "pattern": self.pattern, "url": self.url}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Source:
        return cls(data["datastore"], data["pattern"], bool(data.get("url")))

    @property
    def base(self) -> str:
        """Leading segments without glob characters: the folder listed, and what paths are relative to."""
        segments = self.pattern.split("/")
        fixed = []
        for segment in segments:
            if GLOB_CHARS & set(segment):
                break
            fixed.append(segment)
        return "/".join(fixed)

    @property
    def has_glob(self) -> bool:
        return bool(GLOB_CHARS & set(self.pattern))

    def matches(self, path: str) -> bool:
        return self.matcher()(path)

    def matcher(self) -> Callable[[str], bool]:
        """``matches`` decided once for a listing of many paths."""
        if not self.has_glob:
            pattern = self.pattern
            return lambda path: under_prefix(path, pattern)
        regex = glob_regex(self.pattern)
        return lambda path: regex.fullmatch(path) is not None

    def relative(self, path: str) -> str:
        """``path`` relative to the source's base folder (a single named file keeps its name)."""
        base = self.base
        if self.has_glob or path != base:
            return path[len(base) + 1 :] if base and path.startswith(base + "/") else path
        return path.rsplit("/", 1)[-1]


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """``*`` within a segment, ``**/`` any folders (none included), ``?`` one character."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def parse_path(path: Any) -> list[Source]:
    """Normalise the ``path`` argument of ``from_files`` / ``from_delimited_files`` into sources."""
    from airflow_mlw.datastores import Datastore
    from airflow_mlw.datastores.reference import DataReference

    if isinstance(path, list):
        if not path:
            raise DatasetError("path is an empty list: give at least one path")
        return [source for item in path for source in parse_path(item)]
    if isinstance(path, tuple) and len(path) == 2 and isinstance(path[0], Datastore):
        return [Source(path[0]._requested_name or None, normalize_path(str(path[1]), what="dataset path"))]
    if isinstance(path, DataReference):
        return [Source(path.datastore._requested_name or None, path.path_on_datastore)]
    if isinstance(path, Datastore):
        return [Source(path._requested_name or None, "")]
    if isinstance(path, str | Path):
        text = str(path)
        if text.startswith(("http://", "https://")):
            return [Source(None, text, url=True)]
        return [Source(None, str(Path(text).expanduser().absolute()))]
    raise DatasetError(
        f"unsupported dataset path {path!r}: use a (datastore, 'path') tuple, datastore.path(...), "
        "a local path or an http(s) URL"
    )


def resolve_source(workspace: Workspace, source: Source) -> tuple[StorageBackend, str, list[FileInfo]]:
    """The backend, the datastore name used, and the files the source matches (sorted by path)."""
    from airflow_mlw.datastores import Datastore
    from airflow_mlw.datastores.checksums import memo_for_home
    from airflow_mlw.datastores.local import LocalBackend

    if source.url:
        from airflow_mlw.datasets.web import WebBackend

        backend: StorageBackend = WebBackend(source.pattern, memo_for_home(workspace.settings.home))
        return backend, "", list(backend.list(""))
    if source.datastore is None and source.pattern.startswith("/"):
        backend = LocalBackend("/", memo_for_home(workspace.settings.home))
        relative = Source(None, source.pattern.lstrip("/"))
        matches = relative.matcher()
        files = [info for info in backend.list(relative.base) if matches(info.path)]
        return backend, "", sorted(files, key=lambda info: info.path)
    datastore = Datastore(workspace, source.datastore)
    backend = datastore.backend
    matches = source.matcher()
    files = [info for info in backend.list(source.base) if matches(info.path)]
    return backend, datastore.name, sorted(files, key=lambda info: info.path)
