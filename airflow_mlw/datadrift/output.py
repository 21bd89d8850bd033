"""What a drift monitor computed, read back: ``get_output`` (Azure's ``(results, metrics)``) and
``show`` (a matplotlib figure of the magnitude over time and each feature's contribution)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from airflow_mlw.datadrift.runs import as_utc
from airflow_mlw.exceptions import MlwError
from airflow_mlw.registry.rows import DriftWindowRow, RunRow

#: Bar width (days) of one window in ``show``.
BAR_DAYS = {"Day": 1.0, "Week": 7.0, "Month": 30.0}


def window_rows(
    detector: Any, start_time: datetime | None, end_time: datetime | None, run_id: str | None = None
) -> list[DriftWindowRow]:
    """The monitor's windows inside ``[start_time, end_time]`` (of run ``run_id`` or its children)."""
    workspace = detector.workspace
    with workspace.store.session() as session:
        rows = list(
            session.scalars(
                select(DriftWindowRow)
                .where(DriftWindowRow.monitor_id == detector.id)
                .order_by(DriftWindowRow.window_start)
            )
        )
        if run_id is not None:
            parents = {
                row.id: row.parent_id
                for row in session.scalars(select(RunRow).where(RunRow.id.in_([r.run_id for r in rows])))
            }
            rows = [row for row in rows if run_id in (row.run_id, parents.get(row.run_id or ""))]
        session.expunge_all()
    # SQLite gives naive datetimes back: every bound is compared in UTC.
    if start_time is not None:
        rows = [row for row in rows if as_utc(row.window_start) >= as_utc(start_time)]
    if end_time is not None:
        rows = [row for row in rows if as_utc(row.window_end) <= as_utc(end_time)]
    return rows


def get_output(
    detector: Any, start_time: datetime | None, end_time: datetime | None, run_id: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    results, metrics = [], []
    for row in window_rows(detector, start_time, end_time, run_id):
        start, end = as_utc(row.window_start), as_utc(row.window_end)
        results.append(
            {
                "drift_type": "DatasetBased",
                "monitor": detector.name,
                "start_date": start,
                "end_date": end,
                "drift_magnitude": row.magnitude,
                "drift_threshold": row.drift_threshold,
                "has_drift": row.magnitude is not None and row.magnitude > row.drift_threshold,
                "features": row.features,
                "target_rows": row.target_rows,
                "run_id": row.run_id,
                "dag_run_id": row.dag_run_id,
                "baseline_dataset_id": detector._baseline_id,
                "target_dataset_id": detector._target_id,
            }
        )
        metrics.append(
            {
                "start_date": start,
                "end_date": end,
                "dataset_metrics": [{"name": "drift_magnitude", "value": row.magnitude}],
                "column_metrics": [
                    {name: [{"name": key, "value": value} for key, value in stats.items() if key != "kind"]}
                    for name, stats in row.features.items()
                ],
            }
        )
    return results, metrics


def figure(detector: Any, start_time: datetime | None, end_time: datetime | None, figsize: Any) -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise MlwError("DataDriftDetector.show() draws with matplotlib: pip install matplotlib") from None
    results, _ = get_output(detector, start_time, end_time, None)
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=figsize or (9, 6))
    dates = [r["start_date"] for r in results]
    top.plot(dates, [r["drift_magnitude"] for r in results], marker="o", label="drift magnitude")
    top.axhline(detector.drift_threshold, color="tab:red", linestyle="--", label="threshold")
    top.set_ylabel("magnitude")
    top.set_title(f"Data drift: {detector.name}")
    top.legend()
    below = [0.0] * len(results)
    for feature in detector.feature_list:
        shares = [(r["features"].get(feature) or {}).get("contribution", 0.0) for r in results]
        bottom.bar(dates, shares, bottom=below, label=feature, width=0.8 * BAR_DAYS[detector.frequency])
        below = [a + b for a, b in zip(below, shares, strict=True)]
    bottom.set_ylabel("contribution")
    bottom.legend(fontsize="small")
    fig.autofmt_xdate()
    return fig
