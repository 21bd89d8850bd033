"""The JSON the pages' charts are fed, under ``/mlw/ui/data`` behind the pages' Airflow auth:

- ``runs/{run_id}/metrics``: every chart, table and image of a run's logged values (``metric_charts``);
- ``experiments/{name}/compare?metric=M&view=last|steps``: the experiment's runs on one metric;
- ``runs/{run_id}/sweep?view=progress|parallel``: a HyperDrive sweep's trials.

Each answer is what a ``static/charts.js`` builder draws, so a page names the route as a chart's
``src`` and a script or notebook may read the same figures.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse

from airflow_mlw.plugins.ui import comparisons, queries
from airflow_mlw.plugins.ui.metric_charts import run_charts

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_mlw.registry.rows import RunRow

router = APIRouter(prefix="/data", default_response_class=JSONResponse)

#: Runs of an experiment a page lists and compares, newest first.
EXPERIMENT_RUN_LIMIT = 2000


def found_run(session: Session, ws_id: int, run_id: str) -> RunRow:
    row = queries.run(session, ws_id, run_id)
    if row is None:
        raise HTTPException(status_code=404, detail=f"no run {run_id!r} in this workspace")
    return row


@router.get("/runs/{run_id}/metrics")
def run_metrics(run_id: str) -> JSONResponse:
    with queries.registry() as (_, session, ws_id):
        source = queries.metrics_source(found_run(session, ws_id, run_id))
        charts = run_charts(queries.metrics_of(session, [source]).get(source, []))
        return JSONResponse({"run_id": run_id, "metrics_source": source, **asdict(charts)})


def experiment_series(
    session: Session, ws_id: int, name: str, metric: str, last_only: bool
) -> tuple[list[Any], dict[str, dict[str, list[Any]]]]:
    """The experiment's runs (``queries.experiment_run_keys``) and ``metric``'s values by run id (a reused run: its origin's); with
    ``last_only`` only each run's last value, read as such."""
    rows = list(queries.experiment_run_keys(session, ws_id, name, EXPERIMENT_RUN_LIMIT))
    if not rows:
        raise HTTPException(status_code=404, detail=f"no experiment {name!r} in this workspace")
    sources = {queries.metrics_source(r) for r in rows}
    if last_only:
        last = queries.last_scalars(session, sources, metric)
        by_source = {run_id: {k: [v] for k, v in values.items()} for run_id, values in last.items()}
    else:
        by_source = queries.scalar_series(session, sources, metric)
    return rows, {row.id: by_source.get(queries.metrics_source(row), {}) for row in rows}


@router.get("/experiments/{name}/compare")
def experiment_compare(name: str, metric: str, view: Literal["last", "steps"] = "last") -> JSONResponse:
    """Big answers (1,000 runs x their values) go out as they are built: no response model to check."""
    with queries.registry() as (_, session, ws_id):
        rows, series = experiment_series(session, ws_id, name, metric, last_only=view == "last")
        build = comparisons.compare_last if view == "last" else comparisons.compare_steps
        return JSONResponse(build(rows, series, metric))


def sweep_of(session: Session, row: RunRow) -> comparisons.SweepView | None:
    """The sweep a run holds (a reused HyperDrive step: the run it was handed over from)."""
    sweep_row = queries.run(session, row.workspace_id, row.reused_from_id) if row.reused_from_id else row
    if sweep_row is None or not (sweep_row.properties or {}).get("hyperdrive"):
        return None
    children = queries.step_runs(session, sweep_row.id)
    metric = ((sweep_row.properties or {}).get("hyperdrive", {}).get("definition") or {}).get(
        "primary_metric_name"
    )
    series = queries.scalar_series(session, (child.id for child in children), metric)
    return comparisons.sweep_view(sweep_row, children, series)


@router.get("/runs/{run_id}/sweep")
def sweep_trials(run_id: str, view: Literal["progress", "parallel"] = "progress") -> JSONResponse:
    with queries.registry() as (_, session, ws_id):
        sweep = sweep_of(session, found_run(session, ws_id, run_id))
        if sweep is None:
            raise HTTPException(status_code=404, detail=f"run {run_id!r} is no HyperDrive sweep")
        build = comparisons.sweep_progress if view == "progress" else comparisons.sweep_parallel
        return JSONResponse(build(sweep))
