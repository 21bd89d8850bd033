"""``TabularDataset``: rows from delimited files, Parquet files or a SQL query, and its transformations."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_mlw.datasets.base import AbstractDataset
from airflow_mlw.datasets.manifest import Manifest, ManifestEntry
from airflow_mlw.datasets.partitions import naive_utc, parse_format, time_window
from airflow_mlw.exceptions import DatasetError, DatasetTimestampMissingError

if TYPE_CHECKING:
    import pandas
    import pyarrow

    from airflow_mlw.datastores.base import StorageBackend


class TabularDataset(AbstractDataset):
    """Rows from delimited files, Parquet files or a SQL query, read through ``pyarrow.dataset``."""

    kind = "tabular"

    def to_arrow_table(self, validate: bool = True) -> pyarrow.Table:
        from airflow_mlw.datasets.partitions import select_files, split_transforms
        from airflow_mlw.datasets.tabular import apply_transforms, read_table

        fmt = self._definition["format"]
        leading, rest = split_transforms(self._definition.get("transforms", []))
        if fmt["type"] == "sql":
            from airflow_mlw.datasets.tabular import read_sql

            if self._record is not None and validate:
                self._check_drift(self.manifest())
            table = apply_transforms(read_sql(self.workspace, fmt), leading)
        else:
            entries = self._local_files(validate)
            row_filters = select_files(self._definition, [entry for entry, _ in entries])[1]
            table = read_table(fmt, entries, row_filters)
        return apply_transforms(table, rest)

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
        names = [columns] if isinstance(columns, str) else list(columns)
        self._keeps_timestamps([c for c in self.timestamp_columns if c and c not in names], "keep_columns")
        return self._with_transform("keep_columns", names)

    def drop_columns(self, columns: str | list[str]) -> TabularDataset:
        names = [columns] if isinstance(columns, str) else list(columns)
        self._keeps_timestamps([c for c in self.timestamp_columns if c in names], "drop_columns")
        return self._with_transform("drop_columns", names)

    def _keeps_timestamps(self, lost: list[str | None], what: str) -> None:
        if lost:
            raise DatasetTimestampMissingError(
                f"{what} would remove timestamp column(s) {lost}; call with_timestamp_columns() "
                "without them first"
            )

    # -- time series -------------------------------------------------------------------------------

    @property
    def timestamp_columns(self) -> tuple[str | None, str | None]:
        """``(timestamp, partition_timestamp)``, as Azure returns them."""
        stamps = self._definition.get("timestamp_columns") or {}
        return stamps.get("timestamp"), stamps.get("partition_timestamp")

    def with_timestamp_columns(
        self, timestamp: str | None = None, partition_timestamp: str | None = None, validate: bool = False
    ) -> TabularDataset:
        """Name the fine (``timestamp``) and coarse (``partition_timestamp``) time columns that
        ``time_before`` / ``time_after`` / ``time_between`` / ``time_recent`` filter on.

        A ``partition_timestamp`` (or a ``timestamp``) that is a date key of ``partition_format``
        selects files by their path; other columns are filtered in the ``pyarrow.dataset`` scan.
        ``validate=True`` reads the schema now and checks both columns are timestamps.
        """
        if partition_timestamp and not timestamp:
            raise DatasetError("partition_timestamp needs timestamp too (Azure's rule)")
        keys = self.partition_keys
        dates = parse_format(self.partition_format).dates if self.partition_format else {}
        for column in (timestamp, partition_timestamp):
            if column in keys and column not in dates:
                raise DatasetError(
                    f"timestamp column {column!r} is not a timestamp: it is the partition key "
                    f"{{{column}}} of partition_format {self.partition_format!r}, a string; give it a "
                    "date format such as {" + str(column) + ":yyyy/MM/dd}"
                )
        if partition_timestamp and partition_timestamp not in dates:
            raise DatasetError(
                f"partition_timestamp {partition_timestamp!r} must be a date key of partition_format "
                f"{self.partition_format!r}"
            )
        stamps = {"timestamp": timestamp, "partition_timestamp": partition_timestamp} if timestamp else None
        dataset = self._derive(timestamp_columns=stamps)
        if validate and timestamp:
            dataset._check_timestamp_types()
        return dataset  # type: ignore[no-any-return]

    def _check_timestamp_types(self) -> None:
        import pyarrow as pa

        schema = self.take(1).to_arrow_table(validate=False).schema
        for column in self.timestamp_columns:
            if column is None:
                continue
            if column not in schema.names:
                raise DatasetError(
                    f"timestamp column {column!r} is not in the dataset: it has {schema.names}"
                )
            kind = schema.field(column).type
            if not (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
                raise DatasetError(f"timestamp column {column!r} is not a timestamp: its type is {kind}")

    def time_before(self, end_time: datetime, include_boundary: bool = True) -> TabularDataset:
        return self._time_filter(None, end_time, include_boundary)

    def time_after(self, start_time: datetime, include_boundary: bool = True) -> TabularDataset:
        return self._time_filter(start_time, None, include_boundary)

    def time_between(
        self, start_time: datetime, end_time: datetime, include_boundary: bool = True
    ) -> TabularDataset:
        if naive_utc(_moment(start_time, "start_time")) > naive_utc(_moment(end_time, "end_time")):
            raise DatasetError(f"time_between: start_time {start_time} is after end_time {end_time}")
        return self._time_filter(start_time, end_time, include_boundary)

    def time_recent(self, time_delta: timedelta, include_boundary: bool = True) -> TabularDataset:
        """Rows of the last ``time_delta``, counted back from now (when this is called)."""
        if not isinstance(time_delta, timedelta):
            raise DatasetError(f"time_recent takes a datetime.timedelta, not {time_delta!r}")
        return self._time_filter(datetime.now(UTC) - time_delta, None, include_boundary)

    def _time_filter(
        self, start: datetime | None, end: datetime | None, include_boundary: bool
    ) -> TabularDataset:
        timestamp, _ = self.timestamp_columns
        if timestamp is None:
            raise DatasetTimestampMissingError(
                "this dataset has no timestamp column: call with_timestamp_columns(timestamp=...) first"
            )
        start = _moment(start, "start_time") if start is not None else None
        end = _moment(end, "end_time") if end is not None else None
        return self._with_transform("filter", time_window(timestamp, start, end, include_boundary))

    # -- copies ------------------------------------------------------------------------------------

    def partition_by(
        self,
        partition_keys: list[str],
        target: Any,
        name: str | None = None,
        show_progress: bool = True,
        partition_as_file_dataset: bool = False,
    ) -> Any:
        """A Hive-style partitioned Parquet copy (``key=value/`` folders) at ``target`` (a
        ``DataPath``), registered as ``name`` when given; see ``conversions.partition_by``."""
        from airflow_mlw.datasets.conversions import partition_by

        return partition_by(self, partition_keys, target, name, show_progress, partition_as_file_dataset)

    def to_parquet_files(self) -> Any:
        """The rows as Parquet files on the default datastore, as a ``FileDataset``."""
        from airflow_mlw.datasets.conversions import convert

        return convert(self, "parquet")

    def to_csv_files(self, separator: str = ",") -> Any:
        """The rows as CSV files on the default datastore, as a ``FileDataset``."""
        from airflow_mlw.datasets.conversions import convert

        return convert(self, "csv", separator)

    def download(
        self,
        stream_column: str | None = None,
        target_path: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        ignore_not_found: bool = True,
    ) -> list[str]:
        """Copy the dataset's files into ``target_path``; with ``stream_column``, only the files
        that column names (``/relative/path`` values, as ``include_path=True`` gives them)."""
        if stream_column is None:
            return self._download(target_path, overwrite, validate=True)
        wanted = {str(v) for v in self.keep_columns([stream_column]).to_arrow_table().column(0).to_pylist()}
        missing = wanted - {"/" + entry.path for entry in self._selected_entries()}
        if missing and not ignore_not_found:
            raise DatasetError(
                f"stream_column {stream_column!r} names files not in the dataset: {sorted(missing)[:5]}"
            )
        return self._download(target_path, overwrite, True, keep=lambda e: "/" + e.path in wanted)

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


def _moment(value: Any, what: str) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise DatasetError(f"{what} must be a datetime, not {value!r}")
