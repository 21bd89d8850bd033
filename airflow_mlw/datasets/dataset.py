"""``Dataset.Tabular`` and ``Dataset.File`` with the Azure ML v1 API and stricter semantics.

A dataset is a definition (sources, format, transformations) plus, once registered, a version
with the manifest of the files it had. Defining does no I/O. Materialising a registered version
checks its files against the manifest and raises :class:`DatasetDriftError` when they changed
(``validate=False`` opts out); snapshot versions read from content-addressed copies instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw.datasets.manifest import Manifest, ManifestEntry, build_manifest
from airflow_mlw.datasets.sources import Source, parse_path
from airflow_mlw.datasets.versioning import (
    VersionRecord,
    check_tags,
    current_task,
    list_latest,
    list_versions,
    load_by_id,
    load_manifest,
    load_version,
    record_lineage,
    register_version,
    update_version,
)
from airflow_mlw.exceptions import DatasetDriftError, DatasetError

if TYPE_CHECKING:
    import pandas
    import pyarrow

    from airflow_mlw.datastores.base import StorageBackend
    from airflow_mlw.workspace import Workspace

log = logging.getLogger(__name__)
SNAPSHOT_PREFIX = "mlw/snapshots"
MAX_NAMED_PATHS = 20


def _workspace_of(path: Any) -> Workspace | None:
    """The workspace a ``(datastore, path)`` tuple or data reference carries."""
    items = path if isinstance(path, list) else [path]
    for item in items:
        datastore = item[0] if isinstance(item, tuple) else getattr(item, "datastore", item)
        workspace = getattr(datastore, "workspace", None)
        if workspace is not None:
            return workspace  # type: ignore[no-any-return]
    return None


class AbstractDataset:
    """Shared by tabular and file datasets: definition, registration, versions, materialisation."""

    kind = ""

    def __init__(
        self,
        definition: dict[str, Any],
        workspace: Workspace | None = None,
        record: VersionRecord | None = None,
    ) -> None:
        self._definition = definition
        self._workspace = workspace
        self._record = record

    # -- identity ----------------------------------------------------------------------------------

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            from airflow_mlw.workspace import Workspace

            self._workspace = Workspace.from_config()
        return self._workspace

    @property
    def definition(self) -> dict[str, Any]:
        return dict(self._definition)

    @property
    def sources(self) -> list[Source]:
        return [Source.from_json(item) for item in self._definition["sources"]]

    @property
    def name(self) -> str | None:
        return self._record.name if self._record else None

    @property
    def version(self) -> int | None:
        return self._record.version if self._record else None

    @property
    def id(self) -> str | None:
        return self._record.id if self._record else None

    @property
    def description(self) -> str | None:
        return self._record.description if self._record else None

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._record.tags) if self._record else {}

    @property
    def fingerprint(self) -> str:
        """Registered: the version's fingerprint. Unregistered: computed from the files now."""
        if self._record is not None:
            return self._record.fingerprint
        return self._build_manifest()[0].fingerprint

    def _build_manifest(self) -> tuple[Manifest, list[StorageBackend]]:
        """List and checksum what the definition names now."""
        return build_manifest(self.workspace, self.sources)

    @property
    def versions(self) -> list[int]:
        """Every version number of this dataset's name."""
        if self._record is None:
            return []
        return [record.version for record in list_versions(self.workspace, self._record.name)]

    def reference(self) -> dict[str, Any]:
        """``{workspace, name, version, fingerprint, id}``: what goes through XCom."""
        if self._record is None:
            raise DatasetError("this dataset is not registered: register it first")
        return self._record.reference(self.workspace)

    def __repr__(self) -> str:
        if self._record:
            return f"{type(self).__name__}(name={self.name!r}, version={self.version}, fingerprint={self.fingerprint[:12]!r})"
        return f"{type(self).__name__}(sources={[s.pattern for s in self.sources]!r})"

    def _derive(self, **changes: Any) -> Any:
        """A new, unregistered definition (transformations return these)."""
        definition = {**self._definition, **changes}
        return type(self)(definition, self._workspace)

    # -- registry ----------------------------------------------------------------------------------

    def register(
        self,
        workspace: Workspace,
        name: str,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        create_new_version: bool = False,
        snapshot: bool = False,
    ) -> Any:
        """Register as version 1 of a new ``name``, or the next version when the files changed.

        :param create_new_version: needed when ``name`` exists; an unchanged fingerprint returns the
            latest version instead of a new one
        :param snapshot: copy the files into content-addressed storage on the default datastore, so
            this version stays readable after the source files change
        """
        if not name or not isinstance(name, str):
            raise DatasetError(f"invalid dataset name {name!r}")
        checked_tags = check_tags(tags)
        self._workspace = workspace
        manifest, backends = self._build_manifest()
        definition = self.definition
        if snapshot:
            definition["snapshot"] = _snapshot(workspace, manifest, backends)
        record = register_version(
            workspace,
            name,
            self.kind,
            definition,
            manifest,
            description=description,
            tags=checked_tags,
            create_new_version=create_new_version,
            snapshot=snapshot,
        )
        if record.created:
            record_lineage(workspace, record.id, "produced", current_task())
        return type(self)(record.definition, workspace, record)

    def update(self, description: str | None = None, tags: dict[str, str] | None = None) -> Any:
        """Change the description and/or tags of this registered version."""
        record = self._require_record()
        self._record = update_version(
            self.workspace, record.id, description, check_tags(tags) if tags is not None else None
        )
        return self

    def add_tags(self, tags: dict[str, str]) -> Any:
        return self.update(tags={**self.tags, **check_tags(tags)})

    def remove_tags(self, tags: list[str] | str) -> Any:
        names = [tags] if isinstance(tags, str) else list(tags)
        return self.update(tags={k: v for k, v in self.tags.items() if k not in names})

    def _require_record(self) -> VersionRecord:
        if self._record is None:
            raise DatasetError("this dataset is not registered")
        return self._record

    # -- materialisation ---------------------------------------------------------------------------

    def manifest(self) -> Manifest:
        """The registered version's manifest (file by file)."""
        record = self._require_record()
        return Manifest.from_json(load_manifest(self.workspace, record.fingerprint))

    def _check_drift(self, registered: Manifest) -> list[StorageBackend]:
        current, backends = self._build_manifest()
        if current.fingerprint == registered.fingerprint:
            return backends
        changed, added, removed = registered.diff(current)
        parts = [
            f"{label}: {', '.join(paths[:MAX_NAMED_PATHS])}" + (" …" if len(paths) > MAX_NAMED_PATHS else "")
            for label, paths in (("changed", changed), ("added", added), ("removed", removed))
            if paths
        ]
        raise DatasetDriftError(
            f"dataset {self.name!r} version {self.version}: files changed since registration ({'; '.join(parts)}); "
            "register a new version, register with snapshot=True, or pass validate=False",
            changed,
            added,
            removed,
        )

    def _local_files(self, validate: bool = True) -> list[tuple[ManifestEntry, Path]]:
        """Every file as a local path: local stores in place, others through a cache keyed by fingerprint."""
        from airflow_mlw.datastores.local import LocalBackend

        if self._record is None:
            manifest, backends = self._build_manifest()
        else:
            manifest = self.manifest()
            snapshot = self._definition.get("snapshot")
            if snapshot:
                return self._snapshot_files(manifest, snapshot)
            backends = (
                self._check_drift(manifest) if validate else _backends_for(self.workspace, self.sources)
            )
            record_lineage(self.workspace, self._record.id, "consumed", current_task())
        located: list[tuple[ManifestEntry, Path]] = []
        remote: list[tuple[ManifestEntry, StorageBackend, Path]] = []
        cache = Path(self.workspace.settings.home) / "cache" / "datasets" / manifest.fingerprint
        for entry in manifest.entries:
            backend = backends[entry.source]
            if isinstance(backend, LocalBackend):
                located.append((entry, backend.full_path(entry.location)))
            else:
                target = cache / str(entry.source) / entry.location
                located.append((entry, target))
                remote.append((entry, backend, target))
        _fetch(remote)
        return located

    def _snapshot_files(
        self, manifest: Manifest, snapshot: dict[str, Any]
    ) -> list[tuple[ManifestEntry, Path]]:
        from airflow_mlw.datastores import Datastore
        from airflow_mlw.datastores.local import LocalBackend

        backend = Datastore(self.workspace, snapshot["datastore"]).backend
        record_lineage(self.workspace, self._require_record().id, "consumed", current_task())
        located, remote = [], []
        cache = Path(self.workspace.settings.home) / "cache" / "datasets" / manifest.fingerprint
        for entry in manifest.entries:
            key = _snapshot_key(entry)
            if isinstance(backend, LocalBackend):
                located.append((entry, backend.full_path(key)))
            else:
                target = cache / "snapshot" / key
                located.append((entry, target))
                remote.append(
                    (
                        ManifestEntry(entry.path, entry.size, entry.content_hash, entry.source, key),
                        backend,
                        target,
                    )
                )
        _fetch(remote)
        return located


def _backends_for(workspace: Workspace, sources: list[Source]) -> list[StorageBackend]:
    from airflow_mlw.datasets.sources import resolve_source

    return [resolve_source(workspace, source)[0] for source in sources]


def _fetch(items: list[tuple[ManifestEntry, StorageBackend, Path]]) -> None:
    """Download missing cache files (checked against the manifest's content hash)."""
    missing = [(e, b, t) for e, b, t in items if not (t.exists() and t.stat().st_size == e.size)]
    if not missing:
        return

    def get(item: tuple[ManifestEntry, StorageBackend, Path]) -> None:
        entry, backend, target = item
        backend.get_file(entry.file_info(), target)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(get, missing))


def _snapshot_key(entry: ManifestEntry) -> str:
    return f"{SNAPSHOT_PREFIX}/{entry.hash_kind.replace(':', '-')}/{entry.digest[:2]}/{entry.digest}"


def _snapshot(workspace: Workspace, manifest: Manifest, backends: list[StorageBackend]) -> dict[str, Any]:
    """Copy each file into content-addressed storage on the default datastore (deduplicated)."""
    from airflow_mlw.datastores.local import LocalBackend

    default = workspace.get_default_datastore()
    target = default.backend
    present = {info.path for info in target.list(SNAPSHOT_PREFIX)}
    todo = {}
    for entry in manifest.entries:
        key = _snapshot_key(entry)
        if key not in present:
            todo[key] = entry

    def copy(item: tuple[str, ManifestEntry]) -> None:
        key, entry = item
        source = backends[entry.source]
        if isinstance(source, LocalBackend):
            target.put_file(source.full_path(entry.location), key)
            return
        with tempfile.TemporaryDirectory(prefix="mlw-snapshot-") as scratch:
            local = Path(scratch) / "file"
            source.get_file(entry.file_info(), local)
            target.put_file(local, key)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(copy, todo.items()))
    target.memo.flush()
    log.info("snapshot: %d new file(s), %d already stored", len(todo), len(manifest.entries) - len(todo))
    return {"datastore": default.name}


class FileDataset(AbstractDataset):
    """Files on datastores, local disk or the web."""

    kind = "file"

    def to_path(self) -> list[str]:
        """The files' relative paths, with a leading ``/`` as in Azure."""
        manifest = self.manifest() if self._record is not None else self._build_manifest()[0]
        return ["/" + entry.path for entry in manifest.entries]

    def download(
        self,
        target_path: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        validate: bool = True,
    ) -> list[str]:
        """Copy the files into ``target_path`` (default: a new temp folder); returns their local paths."""
        import shutil

        target = (
            Path(target_path) if target_path is not None else Path(tempfile.mkdtemp(prefix="mlw-dataset-"))
        )
        written = []
        for entry, local in self._local_files(validate):
            destination = target / entry.path
            if destination.exists() and not overwrite:
                if destination.stat().st_size == entry.size:
                    written.append(str(destination))
                    continue
                raise DatasetError(f"{destination} exists and differs; pass overwrite=True")
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local, destination)
            written.append(str(destination))
        return written

    @contextlib.contextmanager
    def mount(
        self, mount_point: str | os.PathLike[str] | None = None, validate: bool = True
    ) -> Iterator[MountContext]:
        """The files under one read-only folder: links to the files in place (local stores) or to a
        read-through cache keyed by fingerprint (S3, Blob, web)."""
        files = self._local_files(validate)
        folder = Path(mount_point) if mount_point else Path(tempfile.mkdtemp(prefix="mlw-mount-"))
        created = []
        for entry, local in files:
            link = folder / entry.path
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(local)
            created.append(link)
        try:
            yield MountContext(folder, [str(folder / e.path) for e, _ in files])
        finally:
            for link in created:
                with contextlib.suppress(OSError):
                    link.unlink()

    def as_named_input(self, name: str) -> Any:
        from airflow_mlw.datasets.consumption import DatasetConsumptionConfig

        return DatasetConsumptionConfig(name, self)

    def as_download(self, path_on_compute: str | None = None) -> Any:
        from airflow_mlw.datasets.consumption import DatasetConsumptionConfig

        return DatasetConsumptionConfig(None, self, mode="download", path_on_compute=path_on_compute)

    def as_mount(self, path_on_compute: str | None = None) -> Any:
        from airflow_mlw.datasets.consumption import DatasetConsumptionConfig

        return DatasetConsumptionConfig(None, self, mode="mount", path_on_compute=path_on_compute)


class MountContext:
    """What ``mount()`` yields: ``mount_point`` and the mounted file paths."""

    def __init__(self, mount_point: Path, files: list[str]) -> None:
        self.mount_point = str(mount_point)
        self.files = files


class TabularDataset(AbstractDataset):
    """Rows from delimited files, Parquet files or a SQL query, read through ``pyarrow.dataset``."""

    kind = "tabular"

    def to_arrow_table(self, validate: bool = True) -> pyarrow.Table:
        from airflow_mlw.datasets.tabular import apply_transforms, read_table

        fmt = self._definition["format"]
        if fmt["type"] == "sql":
            from airflow_mlw.datasets.tabular import read_sql

            if self._record is not None and validate:
                self._check_drift(self.manifest())
            table = read_sql(self.workspace, fmt)
        else:
            files = self._local_files(validate)
            table = read_table(fmt, [(entry.path, local) for entry, local in files])
        return apply_transforms(table, self._definition.get("transforms", []))

    def to_pandas_dataframe(self, validate: bool = True) -> pandas.DataFrame:
        return self.to_arrow_table(validate).to_pandas()

    def _build_manifest(self) -> tuple[Manifest, list[StorageBackend]]:
        fmt = self._definition["format"]
        if fmt["type"] != "sql":
            return super()._build_manifest()
        # A query's content is its result: one entry whose hash covers every row.
        import hashlib

        from airflow_mlw.datasets.tabular import read_sql

        table = read_sql(self.workspace, fmt)
        digest = hashlib.sha256(repr(table.schema).encode())
        for batch in table.to_batches():
            digest.update(repr(batch.to_pylist()).encode())
        entry = ManifestEntry("query", table.num_rows, f"sha256:{digest.hexdigest()}", 0, fmt["query"])
        return Manifest((entry,)), []

    def _with_transform(self, *transform: Any) -> TabularDataset:
        return self._derive(transforms=[*self._definition.get("transforms", []), list(transform)])  # type: ignore[no-any-return]

    def take(self, count: int) -> TabularDataset:
        return self._with_transform("take", _count(count, "take"))

    def skip(self, count: int) -> TabularDataset:
        return self._with_transform("skip", _count(count, "skip"))

    def keep_columns(self, columns: str | list[str], validate: bool = False) -> TabularDataset:
        return self._with_transform("keep_columns", [columns] if isinstance(columns, str) else list(columns))

    def drop_columns(self, columns: str | list[str]) -> TabularDataset:
        return self._with_transform("drop_columns", [columns] if isinstance(columns, str) else list(columns))

    def random_split(
        self, percentage: float, seed: int | None = None
    ) -> tuple[TabularDataset, TabularDataset]:
        if not 0 < percentage < 1:
            raise DatasetError(f"random_split percentage must be between 0 and 1, not {percentage!r}")
        seed = 0 if seed is None else int(seed)
        return (
            self._with_transform("split", seed, percentage, True),
            self._with_transform("split", seed, percentage, False),
        )

    def as_named_input(self, name: str) -> Any:
        from airflow_mlw.datasets.consumption import DatasetConsumptionConfig

        return DatasetConsumptionConfig(name, self)


def _count(value: int, what: str) -> int:
    if not isinstance(value, int) or value < 0:
        raise DatasetError(f"{what}() needs a non-negative integer, not {value!r}")
    return value


class _TabularFactory:
    """``Dataset.Tabular``: constructors of tabular datasets."""

    @staticmethod
    def from_delimited_files(
        path: Any,
        validate: bool = True,
        include_path: bool = False,
        infer_column_types: bool = True,
        set_column_types: dict[str, Any] | None = None,
        separator: str = ",",
        header: bool | Any = True,
        partition_format: str | None = None,
        support_multi_line: bool = False,
        empty_as_string: bool = False,
        encoding: str = "utf8",
        on_bad_lines: str = "error",
    ) -> TabularDataset:
        """Rows of CSV (or other delimited) files.

        :param on_bad_lines: ``error`` (the file and line are named), ``skip`` or ``warn``
        """
        if on_bad_lines not in ("error", "skip", "warn"):
            raise DatasetError(f"on_bad_lines must be 'error', 'skip' or 'warn', not {on_bad_lines!r}")
        fmt = {
            "type": "delimited",
            "separator": separator,
            "header": bool(header),
            "infer_column_types": infer_column_types,
            "set_column_types": {k: _type_name(v) for k, v in (set_column_types or {}).items()},
            "encoding": encoding,
            "partition_format": partition_format,
            "include_path": include_path,
            "multi_line": support_multi_line,
            "on_bad_lines": on_bad_lines,
        }
        return TabularDataset(
            {"sources": [s.to_json() for s in parse_path(path)], "format": fmt}, _workspace_of(path)
        )

    @staticmethod
    def from_parquet_files(
        path: Any,
        validate: bool = True,
        include_path: bool = False,
        set_column_types: Any = None,
        partition_format: str | None = None,
    ) -> TabularDataset:
        fmt = {"type": "parquet", "partition_format": partition_format, "include_path": include_path}
        return TabularDataset(
            {"sources": [s.to_json() for s in parse_path(path)], "format": fmt}, _workspace_of(path)
        )

    @staticmethod
    def from_sql_query(
        query: Any, validate: bool = True, set_column_types: Any = None, query_timeout: int = 30
    ) -> TabularDataset:
        """Rows of ``(sql_datastore, 'SELECT ...')``, run through the datastore's Airflow connection."""
        from airflow_mlw.datastores import Datastore

        if not (isinstance(query, tuple) and len(query) == 2 and isinstance(query[0], Datastore)):
            raise DatasetError("from_sql_query takes a (sql_datastore, 'SELECT ...') tuple")
        datastore, sql = query
        fmt = {"type": "sql", "datastore": datastore._requested_name, "query": str(sql)}
        return TabularDataset({"sources": [], "format": fmt}, datastore.workspace)


def _type_name(value: Any) -> str:
    """Azure's DataType objects or plain names -> a type name pyarrow understands."""
    name = getattr(value, "name", None) or str(value)
    return {"to_long": "int64", "to_float": "float64", "to_string": "string", "to_bool": "bool"}.get(
        name, name
    )


class _FileFactory:
    """``Dataset.File``: constructors of file datasets."""

    @staticmethod
    def from_files(
        path: Any, validate: bool = True, partition_format: str | None = None, is_file: bool = False
    ) -> FileDataset:
        return FileDataset(
            {"sources": [s.to_json() for s in parse_path(path)], "format": None}, _workspace_of(path)
        )


class Dataset:
    """Azure's entry point: ``Dataset.Tabular.*``, ``Dataset.File.*``, ``Dataset.get_by_name``..."""

    Tabular = _TabularFactory()
    File = _FileFactory()

    @staticmethod
    def _from_record(workspace: Workspace, record: VersionRecord) -> AbstractDataset:
        cls = TabularDataset if record.kind == "tabular" else FileDataset
        return cls(record.definition, workspace, record)

    @staticmethod
    def get_by_name(workspace: Workspace, name: str, version: int | str = "latest") -> Any:
        return Dataset._from_record(workspace, load_version(workspace, name, version))

    @staticmethod
    def get_by_id(workspace: Workspace, id: str) -> Any:
        return Dataset._from_record(workspace, load_by_id(workspace, id))

    @staticmethod
    def get_all(workspace: Workspace) -> dict[str, Any]:
        """Latest version of every registered dataset, by name."""
        return {record.name: Dataset._from_record(workspace, record) for record in list_latest(workspace)}

    @staticmethod
    def from_reference(reference: dict[str, Any], workspace: Workspace | None = None) -> Any:
        """The version an XCom reference ``{name, version, ...}`` names."""
        from airflow_mlw.workspace import Workspace

        ws = workspace or Workspace.from_config()
        return Dataset.get_by_name(ws, reference["name"], reference["version"])
