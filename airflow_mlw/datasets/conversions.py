"""Copies of tabular datasets: ``partition_by`` (Hive-style Parquet) and ``to_parquet_files`` /
``to_csv_files`` (File datasets on the default datastore).

Each copy is written completely into a scratch folder first and only then moved (local
datastores: one rename) or uploaded to its place, and registered last: a killed copy leaves no
half-written dataset registered.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw.exceptions import DatasetError

if TYPE_CHECKING:
    from airflow_mlw.datasets.tabular_dataset import TabularDataset
    from airflow_mlw.datastores import Datastore

log = logging.getLogger(__name__)
CONVERTED_PREFIX = "mlw/converted"


def _target(target: Any) -> tuple[Datastore, str]:
    """A ``DataPath`` or ``(datastore, path)`` -> the datastore and the normalised path."""
    from airflow_mlw.datastores import Datastore
    from airflow_mlw.datastores.paths import normalize_path

    if isinstance(target, tuple) and len(target) == 2:
        datastore, path = target
    else:
        datastore, path = getattr(target, "datastore", None), getattr(target, "path_on_datastore", None)
    if not isinstance(datastore, Datastore) or not path:
        raise DatasetError(
            f"target must be DataPath(datastore, 'folder') or (datastore, 'folder'), not {target!r}"
        )
    return datastore, normalize_path(str(path), what="target path")


def _has_files(datastore: Datastore, path: str) -> bool:
    return next(iter(datastore.backend.list(path)), None) is not None


def _scanner(dataset: TabularDataset) -> Any:
    """What to write: a streaming ``pyarrow.dataset`` over the files when the definition is a plain
    read, else the table the definition reads to."""
    from airflow_mlw.datasets.tabular import _file_format, check_same_columns

    definition = dataset.definition
    fmt = definition["format"]
    plain = fmt["type"] in ("delimited", "parquet", "json_lines") and not (
        fmt.get("partition_format") or fmt.get("include_path") or definition.get("transforms")
    )
    if not plain:
        return dataset.to_arrow_table()
    import pyarrow.dataset as pa_ds

    entries = dataset._local_files()
    if not entries:
        raise DatasetError("the dataset has no files")
    files = [(entry.path, local) for entry, local in entries]
    columns = check_same_columns(fmt, files) if fmt["type"] == "delimited" else None
    return pa_ds.dataset([str(p) for _, p in files], format=_file_format(fmt, columns))


def partition_by(
    dataset: TabularDataset,
    partition_keys: list[str],
    target: Any,
    name: str | None,
    show_progress: bool,
    as_file_dataset: bool,
) -> Any:
    """Write ``dataset`` as Parquet under ``target/key=value/...`` and return (and register) it."""
    import pyarrow.dataset as pa_ds

    from airflow_mlw.datasets.factory import Dataset

    keys = [partition_keys] if isinstance(partition_keys, str) else list(partition_keys or [])
    if not keys:
        raise DatasetError("partition_by needs at least one partition key")
    datastore, path = _target(target)
    if _has_files(datastore, path):
        raise DatasetError(f"partition_by target {path!r} on datastore {datastore.name!r} is not empty")
    source = _scanner(dataset)
    missing = [key for key in keys if key not in source.schema.names]
    if missing:
        raise DatasetError(
            f"partition_by: unknown column(s) {missing}; the dataset has {source.schema.names}"
        )
    with _scratch(datastore, path) as scratch:
        pa_ds.write_dataset(
            source,
            scratch,
            format="parquet",
            partitioning=keys,
            partitioning_flavor="hive",
            basename_template="part-{i}.parquet",
            existing_data_behavior="overwrite_or_ignore",
        )
        count = sum(1 for _ in Path(scratch).rglob("*.parquet"))
        _place(datastore, Path(scratch), path, show_progress)
    log.info("partition_by: %d file(s) under %s on datastore %r", count, path, datastore.name)
    layout = "/".join(f"{key}={{{key}}}" for key in keys)
    pattern = (datastore, f"{path}/**/*.parquet")
    partition_format = f"{path}/{layout}/part-{{PartNumber}}.parquet"
    result: Any
    if as_file_dataset:
        result = Dataset.File.from_files(pattern, partition_format=partition_format)
    else:
        result = Dataset.Tabular.from_parquet_files(pattern, partition_format=partition_format)
    if name:
        result = result.register(datastore.workspace, name, create_new_version=True)
    return result


def convert(dataset: TabularDataset, kind: str, separator: str = ",") -> Any:
    """The rows as one Parquet or CSV file on the default datastore, keyed by what they are."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from airflow_mlw.datasets.factory import Dataset

    workspace = dataset.workspace
    default = workspace.get_default_datastore()
    identity = json.dumps(
        [dataset.fingerprint, dataset.definition, kind, separator], sort_keys=True, default=str
    )
    folder = f"{CONVERTED_PREFIX}/{hashlib.sha256(identity.encode()).hexdigest()[:24]}"
    if not _has_files(default, folder):
        table = dataset.to_arrow_table()
        with _scratch(default, folder) as scratch:
            if kind == "parquet":
                pq.write_table(table, os.path.join(scratch, "part-0.parquet"))
            else:
                pa_csv.write_csv(
                    table,
                    os.path.join(scratch, "part-0.csv"),
                    write_options=pa_csv.WriteOptions(delimiter=separator),
                )
            _place(default, Path(scratch), folder, show_progress=False)
    return Dataset.File.from_files((default, folder))


class _scratch:
    """A scratch folder: on a local datastore a hidden sibling of ``path`` (listings skip it, and
    placing it is one rename), else a temp dir."""

    def __init__(self, datastore: Datastore, path: str) -> None:
        from airflow_mlw.datastores.local import LocalBackend, temp_name

        backend = datastore.backend
        if isinstance(backend, LocalBackend):
            destination = backend.full_path(path)
            destination.parent.mkdir(parents=True, exist_ok=True)
            self.path = str(temp_name(destination))
            os.mkdir(self.path)
        else:
            self.path = tempfile.mkdtemp(prefix="mlw-copy-")

    def __enter__(self) -> str:
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _place(datastore: Datastore, scratch: Path, path: str, show_progress: bool) -> None:
    """Move a finished scratch folder to ``path``: a rename on local datastores, else an upload."""
    from airflow_mlw.datastores.local import LocalBackend

    backend = datastore.backend
    if isinstance(backend, LocalBackend):
        destination = backend.full_path(path)
        if destination.exists():
            destination.rmdir()  # empty (checked by the caller): a non-empty one raises here
        os.rename(scratch, destination)
        return
    datastore.upload(str(scratch), target_path=path, overwrite=False, show_progress=show_progress)
