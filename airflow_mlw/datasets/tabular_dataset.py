"""``TabularDataset``: rows from delimited files, Parquet files or a SQL query, and its transformations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlw.datasets.base import AbstractDataset
from airflow_mlw.datasets.manifest import Manifest, ManifestEntry
from airflow_mlw.exceptions import DatasetError

if TYPE_CHECKING:
    import pandas
    import pyarrow

    from airflow_mlw.datastores.base import StorageBackend


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
