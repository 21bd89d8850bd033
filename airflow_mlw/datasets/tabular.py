"""Reading tabular datasets through ``pyarrow.dataset`` (multithreaded CSV and Parquet).

Errors name the file: a CSV whose columns differ from the first file's, a value that does not
convert, a malformed row (with its line number unless ``on_bad_lines`` says skip or warn).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw.datasets.partitions import arrow_expression, parse_format
from airflow_mlw.exceptions import DatasetError

if TYPE_CHECKING:
    import pyarrow

    from airflow_mlw.datasets.manifest import ManifestEntry
    from airflow_mlw.workspace import Workspace

log = logging.getLogger(__name__)


def _imports() -> tuple[Any, Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.csv as pa_csv
        import pyarrow.dataset as pa_ds
    except ImportError:
        raise DatasetError(
            "tabular datasets need pyarrow and pandas: pip install 'airflow-mlw[tabular]'"
        ) from None
    return pa, pa_csv, pa_ds


def _file_format(fmt: dict[str, Any], column_names: list[str] | None) -> Any:
    pa, pa_csv, pa_ds = _imports()
    if fmt["type"] == "parquet":
        return pa_ds.ParquetFileFormat()
    if fmt["type"] == "json_lines":
        import pyarrow.json as pa_json

        types = {name: pa.type_for_alias(t) for name, t in (fmt.get("set_column_types") or {}).items()}
        return pa_ds.JsonFileFormat(
            parse_options=pa_json.ParseOptions(explicit_schema=pa.schema(types) if types else None)
        )
    handler = None
    if fmt.get("on_bad_lines", "error") != "error":
        warn = fmt["on_bad_lines"] == "warn"

        def handler(row: Any) -> str:
            if warn:
                log.warning(
                    "skipping malformed row %s: expected %d columns, got %d: %r",
                    row.number,
                    row.expected_columns,
                    row.actual_columns,
                    row.text[:200],
                )
            return "skip"

    read = pa_csv.ReadOptions(
        encoding=fmt.get("encoding") or "utf8",
        autogenerate_column_names=not fmt.get("header", True),
    )
    parse = pa_csv.ParseOptions(
        delimiter=fmt.get("separator") or ",",
        newlines_in_values=bool(fmt.get("multi_line")),
        invalid_row_handler=handler,
    )
    types = {
        name: pa.type_for_alias(type_name) for name, type_name in (fmt.get("set_column_types") or {}).items()
    }
    if not fmt.get("infer_column_types", True) and column_names:
        types = {name: types.get(name, pa.string()) for name in column_names}
    convert = pa_csv.ConvertOptions(column_types=types, strings_can_be_null=True)
    return pa_ds.CsvFileFormat(read_options=read, parse_options=parse, convert_options=convert)


def _header(path: Path, fmt: dict[str, Any]) -> list[str]:
    """Column names of one delimited file: its first row, or Column1..N without a header."""
    import csv

    try:
        with open(path, encoding=fmt.get("encoding") or "utf8", newline="") as handle:
            first = next(csv.reader(handle, delimiter=fmt.get("separator") or ","), [])
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read the header of {path}: {exc}") from None
    if fmt.get("header", True):
        return [name.lstrip("\ufeff") for name in first]
    return [f"f{i}" for i in range(len(first))]


def check_same_columns(fmt: dict[str, Any], files: list[tuple[str, Path]]) -> list[str]:
    """Every delimited file must have the first file's columns; the error names file and columns."""
    first_name, first_path = files[0]
    expected = _header(first_path, fmt)
    for name, path in files[1:]:
        columns = _header(path, fmt)
        if columns != expected:
            missing = [c for c in expected if c not in columns]
            extra = [c for c in columns if c not in expected]
            parts = [
                f"missing column(s) {missing}" if missing else "",
                f"unexpected column(s) {extra}" if extra else "",
            ]
            detail = ", ".join(p for p in parts if p) or "its columns in another order"
            raise DatasetError(f"mixed schemas: file {name} has {detail} compared with {first_name}")
    return expected


def _explain_failure(fmt: dict[str, Any], files: list[tuple[str, Path]], error: Exception) -> DatasetError:
    """Find the file behind a pyarrow error and name it (and the line of a malformed row)."""
    _, _, pa_ds = _imports()
    if fmt["type"] != "delimited":
        return _explain_per_file(fmt, files, error)
    columns = _header(files[0][1], fmt)
    schema = pa_ds.dataset([str(p) for _, p in files], format=_file_format(fmt, columns)).schema
    for name, path in files:
        try:
            pa_ds.dataset(str(path), format=_file_format(fmt, columns), schema=schema).to_table()
        except Exception as exc:
            bad_line = _first_bad_line(path, fmt)
            where = f"file {name}" + (f" line {bad_line}" if bad_line else "")
            return DatasetError(f"{where}: {str(exc).splitlines()[0]}")
    return DatasetError(f"cannot read delimited files: {error}")


def _explain_per_file(fmt: dict[str, Any], files: list[tuple[str, Path]], error: Exception) -> DatasetError:
    """Parquet and JSON Lines: read file by file to name the one that fails."""
    _, _, pa_ds = _imports()
    for name, path in files:
        try:
            pa_ds.dataset(str(path), format=_file_format(fmt, None)).to_table()
        except Exception as exc:
            return DatasetError(f"file {name}: {str(exc).splitlines()[0]}")
    kind = "parquet" if fmt["type"] == "parquet" else "JSON Lines"
    return DatasetError(f"cannot read {kind} files: {error}")


def _first_bad_line(path: Path, fmt: dict[str, Any]) -> int | None:
    """Line number of the first row with the wrong number of columns (single-threaded re-read)."""
    _, pa_csv, _ = _imports()
    found: list[int] = []

    def handler(row: Any) -> str:
        found.append(row.number)
        return "error"

    read = pa_csv.ReadOptions(
        encoding=fmt.get("encoding") or "utf8",
        use_threads=False,
        autogenerate_column_names=not fmt.get("header", True),
    )
    parse = pa_csv.ParseOptions(delimiter=fmt.get("separator") or ",", invalid_row_handler=handler)
    try:
        pa_csv.read_csv(path, read_options=read, parse_options=parse)
    except Exception:
        pass
    return found[0] if found and found[0] is not None else None


def read_table(
    fmt: dict[str, Any],
    entries: list[tuple[ManifestEntry, Path]],
    row_filters: list[list[Any]] | None = None,
) -> pyarrow.Table:
    """Read ``entries`` ((manifest entry, local path), in manifest order) into one Arrow table.

    :param row_filters: filter trees (``partitions.py``) on the rows; columns inside the files
        are pushed into the ``pyarrow.dataset`` scan
    """
    pa, _, pa_ds = _imports()
    if not entries:
        raise DatasetError("the dataset has no files (or none in the filtered window)")
    files = [(entry.path, local) for entry, local in entries]
    column_names = check_same_columns(fmt, files) if fmt["type"] == "delimited" else None
    file_format = _file_format(fmt, column_names)
    try:
        dataset = pa_ds.dataset([str(p) for _, p in files], format=file_format)
        if fmt.get("partition_format") or fmt.get("include_path"):
            table = _read_with_path_columns(dataset, fmt, entries)
            for tree in row_filters or ():
                table = table.filter(arrow_expression(tree, table.schema))
        else:
            expression = None
            for tree in row_filters or ():
                part = arrow_expression(tree, dataset.schema)
                expression = part if expression is None else expression & part
            table = dataset.to_table(filter=expression)
    except DatasetError:
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise _explain_failure(fmt, files, exc) from None
    if fmt["type"] == "delimited" and not fmt.get("header", True):
        table = table.rename_columns([f"Column{i + 1}" for i in range(table.num_columns)])
    return table


def _read_with_path_columns(
    dataset: Any, fmt: dict[str, Any], files: list[tuple[ManifestEntry, Path]]
) -> pyarrow.Table:
    """Per-file reads that add ``partition_format`` columns (and ``Path`` with ``include_path``)."""
    pa, _, _ = _imports()
    relative = {str(local): entry for entry, local in files}
    parser = parse_format(fmt["partition_format"]) if fmt.get("partition_format") else None
    tables = []
    for fragment in dataset.get_fragments():
        table = fragment.to_table(schema=dataset.schema)
        entry = relative[fragment.path]
        if fmt.get("include_path"):
            table = table.append_column("Path", pa.array(["/" + entry.path] * table.num_rows, pa.string()))
        if parser is not None:
            values = parser.values(entry)
            if values is None:
                parser.check([entry])
            for column, value in (values or {}).items():
                kind = pa.timestamp("us") if column in parser.dates else pa.string()
                table = table.append_column(column, pa.array([value] * table.num_rows, kind))
        tables.append(table)
    return pa.concat_tables(tables)


def apply_transforms(table: pyarrow.Table, transforms: list[list[Any]]) -> pyarrow.Table:
    """take / skip / keep_columns / drop_columns / split, in the order they were chained."""
    for name, *args in transforms:
        if name == "take":
            table = table.slice(0, args[0])
        elif name == "skip":
            table = table.slice(args[0])
        elif name in ("keep_columns", "drop_columns"):
            unknown = [c for c in args[0] if c not in table.column_names]
            if unknown:
                raise DatasetError(
                    f"{name}: unknown column(s) {unknown}; the dataset has {table.column_names}"
                )
            table = table.select(args[0]) if name == "keep_columns" else table.drop_columns(args[0])
        elif name == "filter":
            table = table.filter(arrow_expression(args[0], table.schema))
        elif name == "split":
            import numpy as np

            seed, percentage, first = args
            mask = np.random.default_rng(seed).random(table.num_rows) < percentage
            table = table.filter(mask if first else ~mask)
        else:
            raise DatasetError(f"unknown transformation {name!r}")
    return table


def read_sql(workspace: Workspace, fmt: dict[str, Any]) -> pyarrow.Table:
    """Rows of a SQL datastore query as an Arrow table."""
    pa, _, _ = _imports()
    from airflow_mlw.datastores import Datastore
    from airflow_mlw.datastores.sql import run_query

    datastore = Datastore.get(workspace, fmt["datastore"])
    columns, rows = run_query(datastore, fmt["query"], timeout=fmt.get("query_timeout"))
    table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(columns)})
    for name, type_name in (fmt.get("set_column_types") or {}).items():
        if name not in table.column_names:
            raise DatasetError(f"set_column_types: the query has no column {name!r}; it has {columns}")
        index = table.column_names.index(name)
        table = table.set_column(index, name, table[name].cast(pa.type_for_alias(type_name)))
    return table
