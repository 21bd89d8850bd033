"""``Dataset``, Azure's entry point: ``Dataset.Tabular.*`` and ``Dataset.File.*`` define datasets
(no I/O), ``Dataset.get_by_name`` names a registered version (read when first used: no I/O when a DAG
file is parsed), ``get_by_id`` / ``get_all`` load registered versions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlw._lazy import lazy_module
from airflow_mlw.datasets.base import AbstractDataset
from airflow_mlw.datasets.file_dataset import FileDataset
from airflow_mlw.datasets.sources import parse_path
from airflow_mlw.datasets.tabular_dataset import TabularDataset
from airflow_mlw.exceptions import DatasetError

# The registry (SQLAlchemy) is imported when first used: scripts import Dataset in images without it.
versioning = lazy_module("airflow_mlw.datasets.versioning")


if TYPE_CHECKING:
    from airflow_mlw.datasets.versioning import VersionRecord
    from airflow_mlw.workspace import Workspace


def _workspace_of(path: Any) -> Workspace | None:
    """The workspace a ``(datastore, path)`` tuple or data reference carries."""
    items = path if isinstance(path, list) else [path]
    for item in items:
        datastore = item[0] if isinstance(item, tuple) else getattr(item, "datastore", item)
        workspace = getattr(datastore, "workspace", None)
        if workspace is not None:
            return workspace  # type: ignore[no-any-return]
    return None


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
            "partition_format": _checked_format(partition_format),
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
        fmt = {
            "type": "parquet",
            "partition_format": _checked_format(partition_format),
            "include_path": include_path,
        }
        return TabularDataset(
            {"sources": [s.to_json() for s in parse_path(path)], "format": fmt}, _workspace_of(path)
        )

    @staticmethod
    def from_json_lines_files(
        path: Any,
        validate: bool = True,
        include_path: bool = False,
        set_column_types: dict[str, Any] | None = None,
        partition_format: str | None = None,
        invalid_lines: str = "error",
        encoding: str = "utf8",
    ) -> TabularDataset:
        """Rows of JSON Lines files (one JSON object per line), read by ``pyarrow.dataset``.

        :param invalid_lines: only ``error`` (a malformed line fails the read, naming the file)
        """
        if invalid_lines != "error":
            raise DatasetError(f"invalid_lines={invalid_lines!r} is not supported: only 'error'")
        if encoding.lower().replace("-", "") != "utf8":
            raise DatasetError(f"JSON Lines files are read as UTF-8, not {encoding!r}")
        fmt = {
            "type": "json_lines",
            "partition_format": _checked_format(partition_format),
            "include_path": include_path,
            "set_column_types": {k: _type_name(v) for k, v in (set_column_types or {}).items()},
        }
        return TabularDataset(
            {"sources": [s.to_json() for s in parse_path(path)], "format": fmt}, _workspace_of(path)
        )

    @staticmethod
    def from_sql_query(
        query: Any, validate: bool = True, set_column_types: Any = None, query_timeout: int = 30
    ) -> TabularDataset:
        """Rows of ``(sql_datastore, 'SELECT ...')``, read through the provider's hook of the datastore.

        The fingerprint is a hash of the result, so a changed table is a new version on
        ``register(create_new_version=True)``.

        :param query_timeout: seconds the database may spend on the query (statement timeout on
            PostgreSQL, MySQL and MariaDB); a longer query fails with
            :class:`~airflow_mlw.exceptions.SqlQueryError` naming the timeout
        :param set_column_types: ``{column: type}`` casts of the result's columns
        """
        from airflow_mlw.datastores import Datastore

        if not (isinstance(query, tuple) and len(query) == 2 and isinstance(query[0], Datastore)):
            raise DatasetError("from_sql_query takes a (sql_datastore, 'SELECT ...') tuple")
        if query_timeout is not None and not (
            isinstance(query_timeout, int | float)
            and not isinstance(query_timeout, bool)
            and query_timeout > 0
        ):
            raise DatasetError(f"query_timeout must be a positive number of seconds, not {query_timeout!r}")
        datastore, sql = query
        fmt = {
            "type": "sql",
            "datastore": datastore._requested_name,
            "query": str(sql),
            "query_timeout": query_timeout,
            "set_column_types": {k: _type_name(v) for k, v in (set_column_types or {}).items()},
        }
        return TabularDataset({"sources": [], "format": fmt}, datastore.workspace)


def _checked_format(partition_format: str | None) -> str | None:
    """A ``partition_format`` parsed now (bad syntax fails at definition, not at the first read)."""
    if partition_format:
        from airflow_mlw.datasets.partitions import parse_format

        parse_format(partition_format)
    return partition_format or None


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
        """Files of ``path``; ``partition_format`` gives each file partition key values
        (``partition_keys``, ``filter()``, and ``ParallelRunStep(partition_keys=...)``)."""
        fmt = (
            {"type": "files", "partition_format": _checked_format(partition_format)}
            if partition_format
            else None
        )
        return FileDataset(
            {"sources": [s.to_json() for s in parse_path(path)], "format": fmt}, _workspace_of(path)
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
        """The version ``version`` of ``name``; without one the latest, and as a step input the
        latest when each run starts (``version=N`` pins).

        Nothing is read until the dataset is used (:class:`DatasetByName`): a missing name or
        version fails there, not here."""
        return DatasetByName(workspace, name, version)

    @staticmethod
    def get_by_id(workspace: Workspace, id: str) -> Any:
        return Dataset._from_record(workspace, versioning.load_by_id(workspace, id))

    @staticmethod
    def get_all(workspace: Workspace) -> dict[str, Any]:
        """Latest version of every registered dataset, by name."""
        return {
            record.name: Dataset._from_record(workspace, record)
            for record in versioning.list_latest(workspace)
        }

    @staticmethod
    def from_reference(reference: dict[str, Any], workspace: Workspace | None = None) -> Any:
        """The version an XCom reference ``{name, version, ...}`` names."""
        from airflow_mlw.workspace import Workspace

        ws = workspace or Workspace.from_config()
        return Dataset.get_by_name(ws, reference["name"], reference["version"])


class DatasetByName(AbstractDataset):
    """What ``Dataset.get_by_name`` returns: a registered dataset named, not yet read.

    DAG files are parsed every 30 s and must do no I/O, so the registry is read when the dataset is
    first used; it then becomes the version's ``FileDataset`` or ``TabularDataset``. As a step input
    (``as_named_input``, ``as_mount``, ``as_download``, a ``PipelineParameter`` default) its name and
    pinned version are all it carries: without a version the step reads the latest version when each
    run starts.
    """

    def __init__(self, workspace: Workspace, name: str, version: int | str | None = "latest") -> None:
        self.__dict__.update(
            _workspace=workspace, _wanted=(name, version), follows_latest=version in (None, "latest")
        )

    @property
    def name(self) -> str:  # type: ignore[override]
        return str(self._wanted[0])

    @property
    def pinned_version(self) -> int | str | None:
        """The version asked for; ``None``: the latest."""
        return None if self.follows_latest else self._wanted[1]

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self._read().kind

    @property
    def _record(self) -> Any:  # type: ignore[override]
        return self._read()._record

    @property
    def _definition(self) -> Any:  # type: ignore[override]
        return self._read()._definition

    def _read(self) -> AbstractDataset:
        """Read the version from the registry; this object becomes that dataset."""
        name, version = self._wanted
        record = versioning.load_version(self._workspace, name, version or "latest")
        self.__dict__.update(_definition=record.definition, _record=record)
        self.__class__ = TabularDataset if record.kind == "tabular" else FileDataset  # type: ignore[assignment]
        return self

    def __getattr__(self, attribute: str) -> Any:
        # Methods of the dataset's kind (to_pandas_dataframe, download...): read it, then look again.
        if attribute.startswith("__") or attribute in ("_wanted", "_workspace", "follows_latest"):
            raise AttributeError(attribute)
        return getattr(self._read(), attribute)

    def as_named_input(self, name: str) -> Any:
        from airflow_mlw.datasets.consumption import DatasetConsumptionConfig

        return DatasetConsumptionConfig(name, self)

    def as_download(self, path_on_compute: str | None = None) -> Any:
        from airflow_mlw.datasets.consumption import DatasetConsumptionConfig

        return DatasetConsumptionConfig(None, self, mode="download", path_on_compute=path_on_compute)

    def as_mount(self, path_on_compute: str | None = None) -> Any:
        from airflow_mlw.datasets.consumption import DatasetConsumptionConfig

        return DatasetConsumptionConfig(None, self, mode="mount", path_on_compute=path_on_compute)

    def __repr__(self) -> str:
        name, version = self._wanted
        return f"Dataset.get_by_name({name!r}, version={version!r})"
