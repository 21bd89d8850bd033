"""Charts that compare runs, as Azure ML Studio draws them: an experiment's runs on one metric, and
a HyperDrive sweep's trials (the primary metric of each over its reports, and the hyperparameters
against the metric as parallel coordinates, early-terminated trials dashed).

Each function returns the JSON a builder of ``static/charts.js`` draws (``{"rows": [...], options}``),
served by the JSON routes of ``chart_data`` and embedded by nothing: the pages fetch it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_mlw.plugins.ui.metric_charts import number

#: A chart names each series in its legend only up to this many (a 1,000-run legend is noise).
LEGEND_LIMIT = 20


def run_label(row: Any) -> str:
    """A run on a chart's axis: its id's first 8 characters (names repeat; ids do not)."""
    return str(row.id)[:8]


def compare_last(
    rows: Sequence[Any], series: Mapping[str, Mapping[str, list[Any]]], metric: str
) -> dict[str, Any]:
    """A bar per run (oldest left) of the last value of ``metric``; runs that never logged it are left out.

    :param series: run id -> metric name -> values (``queries.scalar_series``)
    """
    bars = []
    for row in sorted(rows, key=lambda r: (r.created_at, r.id)):
        values = [number(v) for v in series.get(row.id, {}).get(metric, [])]
        values = [v for v in values if v is not None]
        if values:
            bars.append(
                {"label": run_label(row), "value": values[-1], "run": row.name or row.id, "run_id": row.id}
            )
    return {
        "rows": bars,
        "metric": metric,
        "x_title": "run",
        "y_title": metric,
        "empty": f"no run logged {metric!r}",
    }


def compare_steps(
    rows: Sequence[Any], series: Mapping[str, Mapping[str, list[Any]]], metric: str
) -> dict[str, Any]:
    """A line per run of every value of ``metric`` it logged (x = the value's index, from 1)."""
    lines, shown = [], 0
    for row in sorted(rows, key=lambda r: (r.created_at, r.id)):
        values = series.get(row.id, {}).get(metric, [])
        if values:
            shown += 1
            lines += [
                {"series": run_label(row), "x": i, "y": number(v)} for i, v in enumerate(values, start=1)
            ]
    return {
        "rows": lines,
        "metric": metric,
        "x_title": "index",
        "y_title": metric,
        "series_title": "run",
        "legend": shown <= LEGEND_LIMIT,
        "empty": f"no run logged {metric!r}",
    }


# -- HyperDrive ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrialView:
    """A trial as the sweep's page shows it.

    :param terminated: canceled before it finished (by the early-termination policy, or the sweep's cancel)
    :param values: the primary metric's values it reported, in order
    """

    run_id: str
    number: int
    status: str
    hyperparameters: dict[str, Any]
    best: float | None
    terminated: bool
    reason: str | None
    values: list[float | None] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"trial {self.number}"


@dataclass(frozen=True)
class SweepView:
    metric: str
    maximize: bool
    definition: dict[str, Any]
    trials: list[TrialView]

    def ranked(self) -> list[TrialView]:
        """Best primary metric first; trials without one last, by number."""
        scored = sorted((t for t in self.trials if t.best is not None), key=lambda t: t.best or 0.0)
        if self.maximize:
            scored.reverse()
        return scored + [t for t in self.trials if t.best is None]


def sweep_view(
    sweep_row: Any, children: Sequence[Any], series: Mapping[str, Mapping[str, list[Any]]]
) -> SweepView | None:
    """The sweep recorded on ``sweep_row`` (``properties["hyperdrive"]``), its trials' status from
    their rows (``children``) and the primary metric's values from ``series``, else from what a
    running trial reported live. None when the row is no sweep."""
    recorded = (sweep_row.properties or {}).get("hyperdrive")
    if not isinstance(recorded, dict):
        return None
    definition = dict(recorded.get("definition") or {})
    metric = str(definition.get("primary_metric_name") or "")
    rows = {row.id: row for row in children}
    trials: list[TrialView] = []
    for run_id, trial in (recorded.get("trials") or {}).items():
        row = rows.get(run_id)
        status = row.status if row is not None else str(trial.get("status") or "NotStarted")
        values = list(series.get(run_id, {}).get(metric, []))
        if not values and row is not None:
            values = list(((row.properties or {}).get("live") or {}).get(metric) or [])
        reason = trial.get("canceled") or (
            (row.properties or {}).get("canceled") if row is not None else None
        )
        trials.append(
            TrialView(
                run_id=run_id,
                number=int(trial.get("number", len(trials))),
                status=status,
                hyperparameters=dict(trial.get("hyperparameters") or {}),
                best=number(trial.get("best_primary_metric")),
                terminated=status == "Canceled",
                reason=str(reason) if reason else None,
                values=[number(v) for v in values],
            )
        )
    trials.sort(key=lambda t: t.number)
    maximize = definition.get("primary_metric_goal", "MAXIMIZE") == "MAXIMIZE"
    return SweepView(metric, maximize, definition, trials)


def sweep_progress(sweep: SweepView) -> dict[str, Any]:
    """The primary metric of each trial over its reports; early-terminated trials dashed."""
    rows = [
        {"series": trial.label, "x": index, "y": value, "marked": trial.terminated, "status": trial.status}
        for trial in sweep.trials
        for index, value in enumerate(trial.values, start=1)
    ]
    return {
        "rows": rows,
        "x_title": "report",
        "y_title": sweep.metric,
        "series_title": "trial",
        "marked_title": "early-terminated",
        "legend": len(sweep.trials) <= LEGEND_LIMIT,
        "empty": f"no trial reported {sweep.metric!r} yet",
    }


def axis_label(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def sweep_parallel(sweep: SweepView) -> dict[str, Any]:
    """Parallel coordinates: an axis per hyperparameter (by name) and the primary metric's last;
    a line per trial through its values, each scaled to [0, 1] on its axis (numbers by their range,
    choices by their sorted order), coloured by the trial's best metric."""
    names = sorted({name for trial in sweep.trials for name in trial.hyperparameters})
    columns: dict[str, dict[str, Any]] = {
        name: {t.run_id: t.hyperparameters[name] for t in sweep.trials if name in t.hyperparameters}
        for name in names
    }
    metric_axis = f"{sweep.metric} (best)"
    columns[metric_axis] = {t.run_id: t.best for t in sweep.trials if t.best is not None}
    positions: dict[str, dict[str, float]] = {}
    axes = []
    for name, values in columns.items():
        numeric = {k: number(v) for k, v in values.items()}
        if values and all(v is not None for v in numeric.values()):
            low, high = min(numeric.values()), max(numeric.values())  # type: ignore[type-var]
            span = (high - low) or 1.0  # type: ignore[operator]
            positions[name] = {k: 0.5 if high == low else (v - low) / span for k, v in numeric.items()}  # type: ignore[operator]
            axes.append({"dimension": name, "low": axis_label(low), "high": axis_label(high)})
        elif values:
            choices = sorted({str(v) for v in values.values()})
            step = max(len(choices) - 1, 1)
            positions[name] = {
                k: 0.5 if len(choices) == 1 else choices.index(str(v)) / step for k, v in values.items()
            }
            axes.append({"dimension": name, "low": choices[0], "high": choices[-1]})
    rows = [
        {
            "trial": trial.label,
            "dimension": axis["dimension"],
            "position": positions[axis["dimension"]][trial.run_id],
            "value": axis_label(columns[axis["dimension"]][trial.run_id]),
            "metric": trial.best,
            "marked": trial.terminated,
            "status": trial.status,
        }
        for trial in sweep.trials
        for axis in axes
        if trial.run_id in positions[axis["dimension"]]
    ]
    return {
        "rows": rows,
        "axes": axes,
        "metric_title": sweep.metric,
        "maximize": sweep.maximize,
        "marked_title": "early-terminated",
        "empty": "no trial sampled yet",
    }
