"""Datastore paths: relative to the datastore root, ``/`` meaning the root as in Azure.

``prefix`` arguments match whole path segments, so ``data`` matches ``data/x.csv`` and the file
``data`` but not ``data2/x.csv`` (Azure matches string prefixes; we fix that gotcha).
"""

from __future__ import annotations

from airflow_mlw.exceptions import DatastorePathError


def normalize_path(path: str | None, *, what: str = "path") -> str:
    """Posix path relative to the root: ``'/data//files/.'`` -> ``'data/files'``; root is ``''``.

    :raises DatastorePathError: when ``..`` segments escape the root
    """
    if path is None:
        return ""
    if not isinstance(path, str):
        path = str(path)
    if "\x00" in path:
        raise DatastorePathError(f"{what} {path!r} contains a NUL character")
    parts: list[str] = []
    for segment in path.replace("\\", "/").split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not parts:
                raise DatastorePathError(f"{what} {path!r} escapes the datastore root")
            parts.pop()
            continue
        parts.append(segment)
    return "/".join(parts)


def join_path(*parts: str) -> str:
    """Join normalised relative paths, skipping empty ones."""
    return "/".join(part for part in parts if part)


def under_prefix(path: str, prefix: str) -> bool:
    """True when ``path`` is ``prefix`` itself or lies below it (whole segments)."""
    return not prefix or path == prefix or path.startswith(prefix + "/")


def relative_to(path: str, prefix: str) -> str:
    """``path`` with the folder ``prefix`` removed (``prefix`` itself keeps its last segment)."""
    if not prefix:
        return path
    if path == prefix:
        return path.rsplit("/", 1)[-1]
    return path[len(prefix) + 1 :]
