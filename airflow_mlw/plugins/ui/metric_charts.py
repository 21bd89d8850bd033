"""What a run's logged values look like as charts, as Azure ML Studio draws them: the rows each
chart of ``static/charts.js`` is given (its ``kind`` and ``{"rows": [...], options}``).

- ``log`` logged more than once, ``log_list``: a line, x = the index of the value (from 1);
- ``log_row`` logged repeatedly: a line per numeric column, x = the row's index, and a table;
- ``log_table``: a table; ``log_image``: the image; single scalars: the metrics table;
- ``log_confusion_matrix``: a heatmap; ``log_accuracy_table``: ROC and precision-recall curves per
  class; ``log_residuals``: a histogram; ``log_predictions``: predicted against true, with error bars.

Values are made JSON-safe (NaN and infinities become null). A value that does not follow Azure's
schema for its kind is not drawn: the page says why (``RunCharts.problems``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_mlw.naming import safe_id


@dataclass(frozen=True)
class Chart:
    """One chart: ``name`` unique on its page, ``kind`` a builder of charts.js, ``data`` its JSON."""

    name: str
    kind: str
    title: str
    data: dict[str, Any]


@dataclass
class RunCharts:
    """A run's logged values grouped as its page shows them."""

    charts: list[Chart] = field(default_factory=list)
    #: ``(name, columns, rows)`` of ``log_table`` and ``log_row`` values.
    tables: list[tuple[str, list[str], list[list[Any]]]] = field(default_factory=list)
    #: ``(name, file name among the run's files)`` of ``log_image`` values.
    images: list[tuple[str, str]] = field(default_factory=list)
    #: ``(name, kind, why it was not drawn)``.
    problems: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, chart: Chart) -> None:
        """Keep ``chart``, its name made unique on the page (``a b`` and ``a_b`` are both ``a_b``)."""
        taken = {c.name for c in self.charts}
        name, count = chart.name, 1
        while name in taken:
            count += 1
            name = f"{chart.name}-{count}"
        self.charts.append(Chart(name, chart.kind, chart.title, chart.data))


def number(value: Any) -> float | None:
    """A finite float, else None (JSON has no NaN; strings and booleans are not drawn)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def chart_name(prefix: str, name: str) -> str:
    return f"{prefix}-{safe_id(name)}"


def run_charts(metrics: Iterable[Any]) -> RunCharts:
    """The charts, tables and images of a run's metric rows (``name``, ``kind``, ``value``, ``step``; in
    logging order). A name logged again with a non-scalar kind: its last value is drawn."""
    grouped: dict[tuple[str, str], list[Any]] = {}
    for row in metrics:
        grouped.setdefault((row.name, row.kind), []).append(row)
    found = RunCharts()
    for (name, kind), rows in grouped.items():
        try:
            draw_values(found, name, kind, [row.value for row in rows], [row.step for row in rows])
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            found.problems.append((name, kind, f"not in Azure's {kind} schema ({type(exc).__name__}: {exc})"))
    return found


def draw_values(found: RunCharts, name: str, kind: str, values: list[Any], steps: list[int | None]) -> None:
    """``steps``: where each scalar was logged (``run.log(..., step=)``): the x axis when they differ
    (MLflow logs step 0 unless told: a series all at one step is drawn by position)."""
    last = values[-1]
    if kind == "scalar":
        points = [number(value) for value in values]
        if len(values) > 1 and any(p is not None for p in points):
            data = series_data(name, points)
            if len({step for step in steps if step is not None}) > 1:
                for row, step in zip(data["rows"], steps, strict=True):
                    row["x"] = row["x"] if step is None else step
                data["x_title"] = "step"
            found.add(Chart(chart_name("metric", name), "line", name, data))
    elif kind == "list":
        points = [number(value) for value in last]
        found.add(Chart(chart_name("list", name), "line", name, series_data(name, points)))
    elif kind == "row":
        columns = list(dict.fromkeys(key for value in values for key in value))
        found.tables.append((name, columns, [[value.get(c) for c in columns] for value in values]))
        numeric = [c for c in columns if any(number(value.get(c)) is not None for value in values)]
        if len(values) > 1 and numeric:
            rows = [
                {"series": column, "x": index, "y": number(value.get(column))}
                for column in numeric
                for index, value in enumerate(values, start=1)
            ]
            data = {"rows": rows, "x_title": "row", "y_title": name, "series_title": "column"}
            found.add(Chart(chart_name("rows", name), "line", name, data))
    elif kind == "table":
        columns = list(last)
        length = max((len(last[c]) for c in columns), default=0)
        rows_of = [[last[c][i] if i < len(last[c]) else None for c in columns] for i in range(length)]
        found.tables.append((name, columns, rows_of))
    elif kind == "image":
        found.images.append((name, str(last)))
    elif kind == "confusion_matrix":
        found.add(Chart(chart_name("confusion", name), "heatmap", name, confusion_matrix(last)))
    elif kind == "accuracy_table":
        roc, precision_recall = accuracy_curves(last)
        found.add(Chart(chart_name("roc", name), "curve", f"{name}: ROC", roc))
        found.add(Chart(chart_name("pr", name), "curve", f"{name}: precision-recall", precision_recall))
    elif kind == "residuals":
        found.add(Chart(chart_name("residuals", name), "histogram", name, residuals(last)))
    elif kind == "predictions":
        found.add(Chart(chart_name("predictions", name), "scatter", name, predictions(last)))


def series_data(name: str, points: Sequence[float | None]) -> dict[str, Any]:
    rows = [{"series": name, "x": index, "y": y} for index, y in enumerate(points, start=1)]
    return {"rows": rows, "x_title": "index", "y_title": name, "series_title": "metric", "legend": False}


def payload(value: dict[str, Any]) -> dict[str, Any]:
    """Azure's ``{"schema_type": ..., "data": {...}}``, or the bare data."""
    data = value.get("data", value)
    if not isinstance(data, dict):
        raise TypeError(f"data is a {type(data).__name__}, not an object")
    return data


def confusion_matrix(value: dict[str, Any]) -> dict[str, Any]:
    """``data.matrix[true][predicted]`` counts, ``data.class_labels`` (default ``0..n-1``)."""
    data = payload(value)
    matrix = data["matrix"]
    labels = [str(label) for label in data.get("class_labels") or range(len(matrix))]
    if len(labels) != len(matrix) or any(len(line) != len(labels) for line in matrix):
        raise ValueError(f"a {len(labels)}-class matrix must be {len(labels)}x{len(labels)}")
    rows = [
        {"actual": labels[i], "predicted": labels[j], "count": number(count)}
        for i, line in enumerate(matrix)
        for j, count in enumerate(line)
    ]
    return {"rows": rows, "labels": labels}


def ratio(top: float, bottom: float, empty: float) -> float:
    return top / bottom if bottom else empty


def accuracy_curves(value: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """ROC (false against true positive rate) and precision-recall, one curve per class, from
    ``data.probability_tables[class][threshold] = [TP, FP, TN, FN]`` at ``data.probability_thresholds``."""
    data = payload(value)
    tables = data["probability_tables"]
    thresholds = data.get("probability_thresholds") or [None] * len(tables[0])
    labels = [str(label) for label in data.get("class_labels") or range(len(tables))]
    roc, pr = [], []
    for label, table in zip(labels, tables, strict=True):
        for order, (threshold, counts) in enumerate(zip(thresholds, table, strict=True)):
            tp, fp, tn, fn = (float(c) for c in counts)
            recall = ratio(tp, tp + fn, 0.0)
            common = {"series": label, "threshold": number(threshold), "order": order}
            roc.append({**common, "x": ratio(fp, fp + tn, 0.0), "y": recall})
            pr.append({**common, "x": recall, "y": ratio(tp, tp + fp, 1.0)})
    return (
        {"rows": roc, "x_title": "false positive rate", "y_title": "true positive rate", "diagonal": True},
        {"rows": pr, "x_title": "recall", "y_title": "precision"},
    )


def residuals(value: dict[str, Any]) -> dict[str, Any]:
    """``data.bin_edges`` (n + 1) and ``data.bin_counts`` (n)."""
    data = payload(value)
    edges, counts = data["bin_edges"], data["bin_counts"]
    if len(edges) != len(counts) + 1:
        raise ValueError(f"{len(counts)} bins need {len(counts) + 1} edges, not {len(edges)}")
    rows = [
        {"start": number(edges[i]), "end": number(edges[i + 1]), "count": number(count)}
        for i, count in enumerate(counts)
    ]
    return {"rows": rows, "x_title": "residual", "y_title": "count"}


def predictions(value: dict[str, Any]) -> dict[str, Any]:
    """Azure's regression predictions: per bin of true values (``data.bin_edges``) the average
    prediction (``bin_averages``) and its error (``bin_errors``), drawn at the bin's centre."""
    data = payload(value)
    edges, averages = data["bin_edges"], data["bin_averages"]
    errors = data.get("bin_errors") or [0.0] * len(averages)
    if len(edges) != len(averages) + 1 or len(errors) != len(averages):
        raise ValueError(f"{len(averages)} bins need {len(averages) + 1} edges and {len(averages)} errors")
    rows = []
    for i, (average, error) in enumerate(zip(averages, errors, strict=True)):
        centre = number((float(edges[i]) + float(edges[i + 1])) / 2)
        y, spread = number(average), number(error) or 0.0
        rows.append(
            {
                "x": centre,
                "y": y,
                "low": None if y is None else y - spread,
                "high": None if y is None else y + spread,
            }
        )
    return {
        "rows": rows,
        "x_title": "true value (bin centre)",
        "y_title": "mean predicted value",
        "error_bars": True,
        "identity": True,
    }
