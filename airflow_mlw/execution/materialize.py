"""A dataset input's files on the worker: linked in place (one link for a whole local folder),
downloaded, or — when the rows are more than the files' contents — the rows as one Parquet file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_mlw.execution.inputs import DatasetInput


def materialize_dataset(workspace: Any, item: DatasetInput, target: Path) -> dict[str, Any]:
    """Resolve a dataset input to a version and local files; returns the in-script input spec."""
    dataset = item.dataset(workspace)
    target.mkdir(parents=True, exist_ok=True)
    if dataset.kind == "tabular" and derived_rows(dataset.definition):
        return _materialize_rows(dataset, target)
    files = dataset._local_files(item.validate)
    folder = _whole_folder(files) if item.mode == "mount" and len(dataset.sources) == 1 else None
    linked = []
    if folder is not None and not any(target.iterdir()):
        # Every file of one local folder and nothing else: mount the folder (one link, not 20,000).
        target.rmdir()
        target.symlink_to(folder, target_is_directory=True)
    else:
        linked = files
    for entry, local in linked:
        destination = target / entry.path
        destination.parent.mkdir(parents=True, exist_ok=True)
        if item.mode == "download":
            shutil.copyfile(local, destination)
        elif not destination.exists():
            destination.symlink_to(local)
    single = dataset.kind != "tabular" and names_one_file(dataset.sources, files)
    return {
        "path": str(target / files[0][0].path) if single else str(target),
        "kind": dataset.kind,
        "format": dataset.definition.get("format") or {},
        "files": [entry.path for entry, _ in files],
        # What the files hold, as the validated manifest says (a ParallelRunStep keys its
        # mini-batches with them instead of reading every file once more); none unvalidated.
        "content_hashes": [entry.content_hash for entry, _ in files] if item.validate else None,
        "version": dataset.version,
        "fingerprint": dataset.fingerprint if dataset.version else None,
        "dataset": dataset.name,
        "id": dataset.id,
    }


def names_one_file(sources: list[Any], files: list[tuple[Any, Path]]) -> bool:
    """True when the definition names one file (no glob, not a folder): its path is the file's, as
    in Azure; a folder or glob gives the folder, even when it holds a single file."""
    if len(sources) != 1 or len(files) != 1 or sources[0].has_glob or sources[0].pattern.endswith("/"):
        return False
    return bool(sources[0].base.rsplit("/", 1)[-1] == files[0][0].path)


def _whole_folder(files: list[tuple[Any, Path]]) -> Path | None:
    """The local folder holding exactly these files (each at its relative path), if the folder holds
    nothing else; else ``None``."""
    if len(files) < 2:
        return None
    entry, local = files[0]
    folder = Path(str(local)[: -len(entry.path)]) if str(local).endswith("/" + entry.path) else None
    if folder is None or any(path != folder / e.path for e, path in files):
        return None
    count = sum(len(names) for _, _, names in os.walk(folder))
    return folder if count == len(files) else None


def derived_rows(definition: dict[str, Any]) -> bool:
    """The rows are more than the files' contents: a query, filters, transformations, or columns
    from paths — the script then gets the rows the definition reads to, as one Parquet file."""
    fmt = definition.get("format") or {}
    return bool(
        fmt.get("type") == "sql"
        or definition.get("transforms")
        or fmt.get("partition_format")
        or fmt.get("include_path")
    )


def _materialize_rows(dataset: Any, target: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    pq.write_table(dataset.to_arrow_table(), target / "rows.parquet")
    return {
        "path": str(target),
        "kind": "tabular",
        "format": {"type": "parquet"},
        "files": ["rows.parquet"],
        "version": dataset.version,
        "fingerprint": dataset.fingerprint if dataset.version else None,
        "dataset": dataset.name,
        "id": dataset.id,
    }
