"""Reading tabular datasets through ``pyarrow.dataset`` (multithreaded CSV and Parquet).

Errors name the file: a CSV whose columns differ from the first file's, a value that does not
convert, a malformed row (with its line number unless ``on_bad_lines`` says skip or warn).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw.exceptions import DatasetError

if TYPE_CHECKING:
    import pyarrow

    from airflow_mlw.workspace import Workspace

log = logging.getLogger(__name__)

DATE_TOKENS = {
    "yyyy": ("%Y", r"\d{4}"),
    "MM": ("%m", r"\d{2}"),
    "dd": ("%d", r"\d{2}"),
    "HH": ("%H", r"\d{2}"),
    "mm": ("%M", r"\d{2}"),
    "ss": ("%S", r"\d{2}"),
}


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


def partition_parser(partition_format: str) -> tuple[re.Pattern[str], dict[str, str]]:
    """Azure's ``/{Dept}/{Date:yyyy/MM/dd}/data.csv`` -> a regex and the strptime format of date columns."""
    regex, dates, position = [], {}, 0
    for match in re.finditer(r"\{(\w+)(?::([^}]*))?\}", partition_format):
        regex.append(re.escape(partition_format[position : match.start()]).replace(r"\*", "[^/]*"))
        name, date_format = match.group(1), match.group(2)
        if date_format:
            token_regex = re.escape(date_format)
            strptime = date_format
            for token, (directive, pattern) in DATE_TOKENS.items():
                token_regex = token_regex.replace(token, pattern)
                strptime = strptime.replace(token, directive)
            regex.append(f"(?P<{name}>{token_regex})")
            dates[name] = strptime
        else:
            regex.append(f"(?P<{name}>[^/]+)")
        position = match.end()
    regex.append(re.escape(partition_format[position:]).replace(r"\*", "[^/]*"))
    return re.compile("".join(regex)), dates


def _file_format(fmt: dict[str, Any], column_names: list[str] | None) -> Any:
    pa, pa_csv, pa_ds = _imports()
    if fmt["type"] == "parquet":
        return pa_ds.ParquetFileFormat()
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
        return DatasetError(f"cannot read parquet files: {error}")
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


def read_table(fmt: dict[str, Any], files: list[tuple[str, Path]]) -> pyarrow.Table:
    """Read ``files`` ((relative path, local path), in manifest order) into one Arrow table."""
    pa, _, pa_ds = _imports()
    if not files:
        raise DatasetError("the dataset has no files")
    column_names = check_same_columns(fmt, files) if fmt["type"] == "delimited" else None
    file_format = _file_format(fmt, column_names)
    try:
        dataset = pa_ds.dataset([str(p) for _, p in files], format=file_format)
        if fmt.get("partition_format") or fmt.get("include_path"):
            table = _read_with_path_columns(dataset, fmt, files)
        else:
            table = dataset.to_table()
    except DatasetError:
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise _explain_failure(fmt, files, exc) from None
    if fmt["type"] == "delimited" and not fmt.get("header", True):
        table = table.rename_columns([f"Column{i + 1}" for i in range(table.num_columns)])
    return table


def _read_with_path_columns(
    dataset: Any, fmt: dict[str, Any], files: list[tuple[str, Path]]
) -> pyarrow.Table:
    """Per-file reads that add ``partition_format`` columns (and ``Path`` with ``include_path``)."""
    pa, _, _ = _imports()
    relative = {str(local): name for name, local in files}
    parser = partition_parser(fmt["partition_format"]) if fmt.get("partition_format") else None
    tables = []
    for fragment in dataset.get_fragments():
        table = fragment.to_table(schema=dataset.schema)
        name = relative[fragment.path]
        if fmt.get("include_path"):
            table = table.append_column("Path", pa.array(["/" + name] * table.num_rows, pa.string()))
        if parser is not None:
            regex, dates = parser
            match = regex.fullmatch("/" + name) or regex.fullmatch(name)
            if match is None:
                raise DatasetError(f"file {name} does not match partition_format {fmt['partition_format']!r}")
            for column, value in match.groupdict().items():
                if column in dates:
                    stamp = datetime.strptime(value, dates[column])
                    table = table.append_column(
                        column, pa.array([stamp] * table.num_rows, pa.timestamp("us"))
                    )
                else:
                    table = table.append_column(column, pa.array([value] * table.num_rows, pa.string()))
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
    columns, rows = run_query(datastore.name, datastore.conn_id or "", fmt["query"])
    return pa.table({name: [row[i] for row in rows] for i, name in enumerate(columns)})
