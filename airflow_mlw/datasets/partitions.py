"""Partitions and time windows of datasets: which files a read needs, decided before any is opened.

A ``partition_format`` such as ``/{Dept}/{PartitionDate:yyyy/MM/dd}/data.csv`` gives each file
values for its partition keys (date keys as timestamps). Filters on those keys — ``filter()`` on
partition keys, ``time_between`` and friends on a partition timestamp — select files from the
manifest, so the files outside the window are neither fetched nor read. Conditions on columns
inside the files become ``pyarrow.dataset`` filter expressions instead.

Filters are stored in the definition as JSON (``["cmp", op, column, value]``, ``["and", a, b]``,
``["or", a, b]``, ``["not", a]``), so a registered dataset and its transformations keep them.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from airflow_mlw.exceptions import DatasetError

if TYPE_CHECKING:
    from airflow_mlw.datasets.manifest import ManifestEntry

#: Azure's date tokens -> (strptime directive, regex, the period it stands for).
DATE_TOKENS = {
    "yyyy": ("%Y", r"\d{4}", "year"),
    "MM": ("%m", r"\d{2}", "month"),
    "dd": ("%d", r"\d{2}", "day"),
    "HH": ("%H", r"\d{2}", "hour"),
    "mm": ("%M", r"\d{2}", "minute"),
    "ss": ("%S", r"\d{2}", "second"),
}
PERIODS = ("year", "month", "day", "hour", "minute", "second")
OPERATORS = ("==", "!=", "<", "<=", ">", ">=")


@dataclass(frozen=True)
class PartitionFormat:
    """A compiled ``partition_format``: its keys, a regex over file paths, and its date keys."""

    text: str
    regex: re.Pattern[str]
    keys: tuple[str, ...]
    #: date key -> (strptime format, the finest period it names: ``day`` for ``yyyy/MM/dd``)
    dates: dict[str, tuple[str, str]]

    def values(self, entry: ManifestEntry) -> dict[str, Any] | None:
        """The file's partition values, or ``None`` when its path does not match the format.

        The format may be written from the dataset's base folder (``/{Dept}/...``) or from the
        datastore root (``folder/{Dept}/...``), as Azure's examples do both.
        """
        for candidate in (entry.path, entry.location):
            match = self.regex.fullmatch("/" + candidate.lstrip("/")) or self.regex.fullmatch(candidate)
            if match is None:
                match = re.search(f"(?:^|/){self.regex.pattern.lstrip('/')}$", candidate)
            if match is not None:
                return {key: self._convert(key, value) for key, value in match.groupdict().items()}
        return None

    def _convert(self, key: str, value: str) -> Any:
        if key not in self.dates:
            return value
        return datetime.strptime(value, self.dates[key][0])

    def check(self, entries: list[ManifestEntry]) -> None:
        """Every file must match; the error names the first that does not."""
        for entry in entries:
            if self.values(entry) is None:
                raise DatasetError(
                    f"file {entry.path} does not match partition_format {self.text!r}: the format must "
                    "describe every file's path (from the dataset's folder or the datastore root)"
                )

    def period_end(self, key: str, start: datetime) -> datetime:
        """End (exclusive) of the period a date key's value starts: the next day for ``yyyy/MM/dd``."""
        period = self.dates[key][1]
        if period == "year":
            return start.replace(year=start.year + 1)
        if period == "month":
            days = calendar.monthrange(start.year, start.month)[1]
            return start + timedelta(days=days)
        return (
            start
            + {
                "day": timedelta(days=1),
                "hour": timedelta(hours=1),
                "minute": timedelta(minutes=1),
                "second": timedelta(seconds=1),
            }[period]
        )


@lru_cache(maxsize=128)
def parse_format(text: str) -> PartitionFormat:
    """Azure's ``/{Dept}/{Date:yyyy/MM/dd}/data.csv`` -> a :class:`PartitionFormat`."""
    if not isinstance(text, str) or "{" not in text:
        raise DatasetError(
            f"partition_format {text!r} names no partition key: use '{{Key}}' or '{{Key:yyyy/MM/dd}}'"
        )
    regex, keys, dates, position = [], [], {}, 0
    for match in re.finditer(r"\{(\w+)(?::([^}]*))?\}", text):
        regex.append(re.escape(text[position : match.start()]).replace(r"\*", "[^/]*"))
        name, date_format = match.group(1), match.group(2)
        if name in keys:
            raise DatasetError(f"partition_format {text!r} names key {name!r} twice")
        keys.append(name)
        if date_format:
            token_regex, strptime, finest = re.escape(date_format), date_format, None
            for token, (directive, pattern, period) in DATE_TOKENS.items():
                if token in date_format:
                    token_regex = token_regex.replace(token, pattern)
                    strptime = strptime.replace(token, directive)
                    finest = period
            if finest is None:
                raise DatasetError(
                    f"partition_format {text!r}: {date_format!r} has no date token (yyyy, MM, dd, HH, mm, ss)"
                )
            regex.append(f"(?P<{name}>{token_regex})")
            dates[name] = (strptime, finest)
        else:
            regex.append(f"(?P<{name}>[^/]+)")
        position = match.end()
    regex.append(re.escape(text[position:]).replace(r"\*", "[^/]*"))
    return PartitionFormat(text, re.compile("".join(regex)), tuple(keys), dates)


# -- filter expressions ----------------------------------------------------------------------------


class ColumnExpression:
    """``dataset['Dept'] == 'HR'``: a filter on a column, combined with ``&``, ``|`` and ``~``."""

    def __init__(self, tree: list[Any]) -> None:
        self.tree = tree

    def __and__(self, other: ColumnExpression) -> ColumnExpression:
        return ColumnExpression(["and", self.tree, _tree(other)])

    def __or__(self, other: ColumnExpression) -> ColumnExpression:
        return ColumnExpression(["or", self.tree, _tree(other)])

    def __invert__(self) -> ColumnExpression:
        return ColumnExpression(["not", self.tree])

    def __bool__(self) -> bool:
        raise DatasetError("combine dataset filter expressions with &, | and ~, not and/or/not")

    def __repr__(self) -> str:
        return f"ColumnExpression({self.tree!r})"


class Column:
    """``dataset['name']``: comparisons make :class:`ColumnExpression` filters."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _cmp(self, op: str, value: Any) -> ColumnExpression:
        return ColumnExpression(["cmp", op, self.name, to_json_value(value)])

    def __eq__(self, value: Any) -> ColumnExpression:  # type: ignore[override]
        return self._cmp("==", value)

    def __ne__(self, value: Any) -> ColumnExpression:  # type: ignore[override]
        return self._cmp("!=", value)

    def __lt__(self, value: Any) -> ColumnExpression:
        return self._cmp("<", value)

    def __le__(self, value: Any) -> ColumnExpression:
        return self._cmp("<=", value)

    def __gt__(self, value: Any) -> ColumnExpression:
        return self._cmp(">", value)

    def __ge__(self, value: Any) -> ColumnExpression:
        return self._cmp(">=", value)

    __hash__ = None  # type: ignore[assignment]


def _tree(expression: Any) -> list[Any]:
    if not isinstance(expression, ColumnExpression):
        raise DatasetError(
            f"a dataset filter takes an expression such as dataset['Dept'] == 'HR', not {expression!r}"
        )
    return expression.tree


def to_json_value(value: Any) -> Any:
    """A comparison value as JSON: datetimes as ``{"datetime": iso}`` (UTC, naive)."""
    if isinstance(value, datetime):
        return {"datetime": naive_utc(value).isoformat()}
    if isinstance(value, date):
        return {"datetime": datetime(value.year, value.month, value.day).isoformat()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise DatasetError(f"cannot filter on a value of type {type(value).__name__}: {value!r}")


def from_json_value(value: Any) -> Any:
    if isinstance(value, dict) and "datetime" in value:
        return datetime.fromisoformat(value["datetime"])
    return value


def naive_utc(moment: datetime) -> datetime:
    """Aware datetimes in UTC without tzinfo (partition timestamps are naive)."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def columns_of(tree: list[Any]) -> set[str]:
    if tree[0] == "cmp":
        return {tree[2]}
    return set().union(*(columns_of(part) for part in tree[1:]))


def time_window(
    column: str, start: datetime | None, end: datetime | None, include_boundary: bool
) -> list[Any]:
    """The filter tree of ``start <= column <= end`` (``<`` without the boundaries)."""
    parts = []
    if start is not None:
        parts.append(["cmp", ">=" if include_boundary else ">", column, to_json_value(start)])
    if end is not None:
        parts.append(["cmp", "<=" if include_boundary else "<", column, to_json_value(end)])
    if not parts:
        raise DatasetError("a time filter needs a start or an end")
    return parts[0] if len(parts) == 1 else ["and", parts[0], parts[1]]


def evaluate(tree: list[Any], values: dict[str, Any]) -> bool:
    """``tree`` on one file's partition values (every column must be a partition key)."""
    kind = tree[0]
    if kind == "and":
        return evaluate(tree[1], values) and evaluate(tree[2], values)
    if kind == "or":
        return evaluate(tree[1], values) or evaluate(tree[2], values)
    if kind == "not":
        return not evaluate(tree[1], values)
    _, op, column, raw = tree
    left, right = values[column], from_json_value(raw)
    if isinstance(left, datetime) and isinstance(right, str):
        right = datetime.fromisoformat(right)
    try:
        return {
            "==": left == right,
            "!=": left != right,
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[op]
    except TypeError:
        raise DatasetError(
            f"cannot compare partition key {column!r} (value {left!r}) with {right!r}"
        ) from None


def may_overlap(tree: list[Any], fmt: PartitionFormat, values: dict[str, Any]) -> bool:
    """Can a file whose coarse date key starts a period contain rows ``tree`` keeps?

    Used to prune by a partition timestamp when the filter is on a finer timestamp column: a
    ``yyyy/MM/dd`` file holds that whole day, so it is skipped only if the day misses the window.
    ``tree`` compares one column; the file's period is [value, period end).
    """
    kind = tree[0]
    if kind == "and":
        return may_overlap(tree[1], fmt, values) and may_overlap(tree[2], fmt, values)
    if kind != "cmp":
        return True
    _, op, key, raw = tree
    start = values[key]
    end = fmt.period_end(key, start)
    bound = from_json_value(raw)
    if op in (">", ">="):
        return end > bound
    if op == "<":
        return start < bound
    if op == "<=":
        return start <= bound
    return True


def rename_column(tree: list[Any], old: str, new: str) -> list[Any]:
    if tree[0] == "cmp":
        return ["cmp", tree[1], new if tree[2] == old else tree[2], tree[3]]
    return [tree[0], *(rename_column(part, old, new) for part in tree[1:])]


def arrow_expression(tree: list[Any], schema: Any) -> Any:
    """The ``pyarrow.dataset`` expression of ``tree``; a timestamp filter on a non-timestamp column
    is refused naming the column and the type found."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = tree[0]
    if kind == "and":
        return arrow_expression(tree[1], schema) & arrow_expression(tree[2], schema)
    if kind == "or":
        return arrow_expression(tree[1], schema) | arrow_expression(tree[2], schema)
    if kind == "not":
        return ~arrow_expression(tree[1], schema)
    _, op, column, raw = tree
    if column not in schema.names:
        raise DatasetError(f"filter: unknown column {column!r}; the dataset has {schema.names}")
    value = from_json_value(raw)
    column_type = schema.field(column).type
    if isinstance(value, datetime):
        if pa.types.is_timestamp(column_type):
            if column_type.tz is not None:
                value = value.replace(tzinfo=UTC)
            scalar = pa.scalar(value, type=pa.timestamp("us", tz=column_type.tz))
        elif pa.types.is_date(column_type):
            scalar = pa.scalar(value, type=pa.timestamp("us"))
            return _compare(op, pc.field(column).cast(pa.timestamp("us")), scalar)
        else:
            raise DatasetError(f"timestamp column {column!r} is not a timestamp: its type is {column_type}")
    else:
        scalar = pa.scalar(value)
    return _compare(op, pc.field(column), scalar)


def _compare(op: str, field: Any, scalar: Any) -> Any:
    return {
        "==": field == scalar,
        "!=": field != scalar,
        "<": field < scalar,
        "<=": field <= scalar,
        ">": field > scalar,
        ">=": field >= scalar,
    }[op]


def check_operator(op: str) -> None:
    if op not in OPERATORS:
        raise DatasetError(f"unknown comparison {op!r}")


def select_files(
    definition: dict[str, Any], entries: list[ManifestEntry]
) -> tuple[list[ManifestEntry], list[list[Any]]]:
    """Files the definition's leading filters keep, and the filters left for the rows.

    A filter whose columns are all partition keys selects files exactly. A filter on the fine
    timestamp column also skips the files whose partition timestamp's period misses it. The rest
    (columns inside the files, or filters after ``take``/``skip``) is applied to rows.
    """
    fmt_text = (definition.get("format") or {}).get("partition_format")
    leading, _ = split_transforms(definition.get("transforms", []))
    if not fmt_text or not leading:
        return entries, [t[1] for t in leading]
    fmt = parse_format(fmt_text)
    stamps = definition.get("timestamp_columns") or {}
    coarse = stamps.get("partition_timestamp")
    exact, approximate, row_filters = [], [], []
    for _, tree in leading:
        columns = columns_of(tree)
        if columns <= set(fmt.keys):
            exact.append(tree)
            continue
        row_filters.append(tree)
        if coarse in fmt.dates and columns == {stamps.get("timestamp")}:
            approximate.append(rename_column(tree, stamps["timestamp"], coarse))
    kept = []
    for entry in entries:
        values = fmt.values(entry)
        if values is None:
            fmt.check([entry])
            continue
        if all(evaluate(tree, values) for tree in exact) and all(
            may_overlap(tree, fmt, values) for tree in approximate
        ):
            kept.append(entry)
    return kept, row_filters


def split_transforms(transforms: list[list[Any]]) -> tuple[list[list[Any]], list[list[Any]]]:
    """Leading ``filter`` transforms (read-time) and the rest (applied in order after reading)."""
    position = 0
    while position < len(transforms) and transforms[position][0] == "filter":
        position += 1
    return transforms[:position], transforms[position:]
