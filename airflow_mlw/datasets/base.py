"""What every dataset shares: its definition, registration, versions and materialisation.

``FileDataset`` and ``TabularDataset`` (``file_dataset.py``, ``tabular_dataset.py``) add only how
their files are read. Materialising a registered version checks its files against the manifest and
raises :class:`DatasetDriftError` when they changed (``validate=False`` opts out); snapshot versions
read from content-addressed copies instead (``snapshot.py``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw._lazy import lazy_module
from airflow_mlw.datasets.manifest import Manifest, ManifestEntry, build_manifest
from airflow_mlw.datasets.partitions import (
    Column,
    ColumnExpression,
    columns_of,
    parse_format,
    select_files,
)
from airflow_mlw.datasets.snapshot import copy_to_snapshot, snapshot_key
from airflow_mlw.datasets.sources import Source
from airflow_mlw.exceptions import DatasetDriftError, DatasetError
from airflow_mlw.naming import registered_name_problem

# The registry (SQLAlchemy) is imported when first used: scripts import Dataset in images without it.
versioning = lazy_module("airflow_mlw.datasets.versioning")


if TYPE_CHECKING:
    from airflow_mlw.datasets.versioning import VersionRecord
    from airflow_mlw.datastores.base import StorageBackend
    from airflow_mlw.workspace import Workspace

MAX_NAMED_PATHS = 20


class AbstractDataset:
    """Shared by tabular and file datasets: definition, registration, versions, materialisation."""

    kind = ""
    #: Got by name without a version: as a step input it reads the latest version when the run starts.
    follows_latest = False

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
        """List and checksum what the definition names now (every file must fit its partition_format)."""
        manifest, backends = build_manifest(self.workspace, self.sources)
        if self.partition_format:
            parse_format(self.partition_format).check(list(manifest.entries))
        return manifest, backends

    # -- partitions --------------------------------------------------------------------------------

    @property
    def partition_format(self) -> str | None:
        return (self._definition.get("format") or {}).get("partition_format")

    @property
    def partition_keys(self) -> list[str]:
        """The keys ``partition_format`` names (``[]`` without one)."""
        return list(parse_format(self.partition_format).keys) if self.partition_format else []

    def get_partition_key_values(self, partition_keys: list[str] | None = None) -> list[dict[str, Any]]:
        """Each distinct combination of the partition keys' values, in file order (Azure's shape)."""
        keys = self._known_keys(partition_keys or self.partition_keys)
        fmt = parse_format(self.partition_format or "")
        seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        for entry in self._selected_entries():
            values = fmt.values(entry) or {}
            combination = {key: values[key] for key in keys}
            seen.setdefault(tuple(combination.values()), combination)
        return list(seen.values())

    def _known_keys(self, keys: list[str]) -> list[str]:
        if not self.partition_format:
            raise DatasetError("this dataset has no partition_format, so it has no partition keys")
        unknown = [key for key in keys if key not in self.partition_keys]
        if unknown:
            raise DatasetError(f"unknown partition key(s) {unknown}; the keys are {self.partition_keys}")
        return keys

    def __getitem__(self, column: str) -> Column:
        """``dataset['Dept']``: a column to build ``filter()`` expressions with."""
        return Column(column)

    def filter(self, expression: ColumnExpression) -> Any:
        """Rows (tabular) or files (file datasets: partition keys only) that ``expression`` keeps."""
        if not isinstance(expression, ColumnExpression):
            raise DatasetError(
                f"filter() takes an expression such as dataset['Dept'] == 'HR', not {expression!r}"
            )
        if self.kind == "file":
            outside = sorted(columns_of(expression.tree) - set(self.partition_keys))
            if outside:
                raise DatasetError(
                    f"a file dataset filters on its partition keys {self.partition_keys}, not on {outside}"
                )
        return self._derive(transforms=[*self._definition.get("transforms", []), ["filter", expression.tree]])

    def _selected_entries(self) -> list[ManifestEntry]:
        """The manifest entries the leading filters keep (no file content is read)."""
        manifest = self.manifest() if self._record is not None else self._build_manifest()[0]
        return select_files(self._definition, list(manifest.entries))[0]

    @property
    def versions(self) -> list[int]:
        """Every version number of this dataset's name."""
        if self._record is None:
            return []
        return [record.version for record in versioning.list_versions(self.workspace, self._record.name)]

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
        problem = registered_name_problem(name, "dataset")
        if problem:
            raise DatasetError(problem)
        checked_tags = versioning.check_tags(tags)
        self._workspace = workspace
        manifest, backends = self._build_manifest()
        definition = self.definition
        if snapshot:
            definition["snapshot"] = copy_to_snapshot(workspace, manifest, backends)
        record = versioning.register_version(
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
            versioning.record_lineage(workspace, record.id, "produced", versioning.current_task())
        return type(self)(record.definition, workspace, record)

    def update(self, description: str | None = None, tags: dict[str, str] | None = None) -> Any:
        """Change the description and/or tags of this registered version."""
        record = self._require_record()
        self._record = versioning.update_version(
            self.workspace, record.id, description, versioning.check_tags(tags) if tags is not None else None
        )
        return self

    def add_tags(self, tags: dict[str, str]) -> Any:
        return self.update(tags={**self.tags, **versioning.check_tags(tags)})

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
        return Manifest.from_json(versioning.load_manifest(self.workspace, record.fingerprint))

    def _check_drift(self, registered: Manifest) -> tuple[Manifest, list[StorageBackend]]:
        """The files now (with their locations under *this* definition's sources), if they are the
        registered ones; else :class:`DatasetDriftError` naming what changed."""
        current, backends = self._build_manifest()
        if current.fingerprint == registered.fingerprint:
            return current, backends
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

    def _files_now(self, registered: Manifest, validate: bool) -> tuple[Manifest, list[StorageBackend]]:
        """The registered version's files as they are now: unchanged (else :class:`DatasetDriftError`),
        or with ``validate=False`` the registered paths with their current content."""
        if validate:
            return self._check_drift(registered)
        current, backends = self._build_manifest()
        now = {entry.path: entry for entry in current.entries}
        return Manifest(tuple(now.get(e.path, e) for e in registered.entries)), backends

    def readable_fingerprint(self, validate: bool = True) -> str:
        """The content a read of this dataset would see now, as a fingerprint; reads listings and
        memoised hashes, never file content that did not change.

        Registered: the version's fingerprint, after the same drift check materialising does
        (:class:`DatasetDriftError` when the files changed); ``validate=False``: the current content
        of the version's paths. Snapshots cannot drift. Unregistered: the files now.
        """
        if self._record is None:
            return self.fingerprint
        if self._definition.get("snapshot"):
            return self._record.fingerprint
        return self._files_now(self.manifest(), validate)[0].fingerprint

    def _local_files(self, validate: bool = True) -> list[tuple[ManifestEntry, Path]]:
        """Every file the leading filters keep as a local path: local stores in place, others
        through a cache keyed by fingerprint. Files outside a partition filter are not fetched."""
        from airflow_mlw.datastores.local import LocalBackend

        if self._record is None:
            manifest, backends = self._build_manifest()
        else:
            snapshot = self._definition.get("snapshot")
            if snapshot:
                return self._snapshot_files(self.manifest(), snapshot)
            # Locations come from listing this definition now: a stored manifest is shared by every
            # version with the same fingerprint, whose sources may be laid out differently.
            manifest, backends = self._files_now(self.manifest(), validate)
            versioning.record_lineage(self.workspace, self._record.id, "consumed", versioning.current_task())
        located: list[tuple[ManifestEntry, Path]] = []
        remote: list[tuple[ManifestEntry, StorageBackend, Path]] = []
        cache = Path(self.workspace.settings.home) / "cache" / "datasets" / manifest.fingerprint
        for entry in select_files(self._definition, list(manifest.entries))[0]:
            backend = backends[entry.source]
            if isinstance(backend, LocalBackend):
                located.append((entry, backend.full_path(entry.location)))
            else:
                target = cache / str(entry.source) / entry.location
                located.append((entry, target))
                remote.append((entry, backend, target))
        fetch_missing(remote)
        return located

    def _download(
        self,
        target_path: str | os.PathLike[str] | None,
        overwrite: bool,
        validate: bool,
        keep: Callable[[ManifestEntry], bool] | None = None,
    ) -> list[str]:
        """Copy the files (those ``keep`` accepts) into ``target_path`` (default: a new temp folder)."""
        target = (
            Path(target_path) if target_path is not None else Path(tempfile.mkdtemp(prefix="mlw-dataset-"))
        )
        written = []
        for entry, local in self._local_files(validate):
            if keep is not None and not keep(entry):
                continue
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

    def _snapshot_files(
        self, manifest: Manifest, snapshot: dict[str, Any]
    ) -> list[tuple[ManifestEntry, Path]]:
        from airflow_mlw.datastores import Datastore
        from airflow_mlw.datastores.local import LocalBackend

        backend = Datastore(self.workspace, snapshot["datastore"]).backend
        versioning.record_lineage(
            self.workspace, self._require_record().id, "consumed", versioning.current_task()
        )
        located, remote = [], []
        cache = Path(self.workspace.settings.home) / "cache" / "datasets" / manifest.fingerprint
        for entry in select_files(self._definition, list(manifest.entries))[0]:
            key = snapshot_key(entry)
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
        fetch_missing(remote)
        return located


def fetch_missing(items: list[tuple[ManifestEntry, StorageBackend, Path]]) -> None:
    """Download missing cache files (checked against the manifest's content hash)."""
    missing = [(e, b, t) for e, b, t in items if not (t.exists() and t.stat().st_size == e.size)]
    if not missing:
        return

    def get(item: tuple[ManifestEntry, StorageBackend, Path]) -> None:
        entry, backend, target = item
        backend.get_file(entry.file_info(), target)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(get, missing))
