"""The page routes: each reads what its page shows (``queries``) and renders its template.

Pages render inside the registry session, so templates may follow the rows' attributes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from airflow_mlw.plugins.ui import queries
from airflow_mlw.plugins.ui.rendering import Urls, render

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_mlw.registry.rows import RunRow

router = APIRouter(default_response_class=HTMLResponse)

#: Recent runs listed on the runs page, and on the overview.
RUN_LIMIT = 100
LATEST_RUNS = 10
#: Lineage entries per direction shown in the datasets table (the dataset's page shows all).
LINEAGE_SHOWN = 3
#: Last runs shown for each published pipeline and endpoint.
LAST_RUNS = 5


@router.get("/")
def overview(request: Request) -> HTMLResponse:
    with queries.registry() as (ws, session, ws_id):
        recent = queries.latest_runs(session, ws_id, LATEST_RUNS)
        return render(
            request,
            "overview.html",
            ws=ws,
            workspace=queries.workspace_row(session, ws_id),
            contents=queries.contents(session, ws_id),
            runs=queries.summarize_runs(session, recent),
        )


@router.get("/datastores")
def datastores(request: Request) -> HTMLResponse:
    with queries.registry() as (_, session, ws_id):
        rows, default = queries.datastores(session, ws_id)
        return render(request, "datastores.html", datastores=rows, default=default)


@router.get("/datasets")
def datasets(request: Request) -> HTMLResponse:
    with queries.registry() as (_, session, ws_id):
        versions = queries.dataset_versions(session, ws_id)
        lineage = queries.lineage_of(session, (version.id for _, version, _ in versions))
        return render(
            request, "datasets.html", versions=versions, lineage=lineage, lineage_limit=LINEAGE_SHOWN
        )


@router.get("/datasets/{name}")
def dataset(request: Request, name: str) -> HTMLResponse:
    with queries.registry() as (_, session, ws_id):
        row = queries.dataset(session, ws_id, name)
        if row is None:
            raise HTTPException(status_code=404, detail=f"no dataset {name!r} in this workspace")
        versions = queries.dataset_versions(session, ws_id, name)
        return render(
            request,
            "dataset.html",
            dataset=row,
            latest=queries.latest_version(session, row.id),
            versions=versions,
            version_ids=[f"v{version.version}" for _, version, _ in versions],
            lineage=queries.lineage_of(session, (version.id for _, version, _ in versions)),
        )


@router.get("/environments")
def environments(request: Request) -> HTMLResponse:
    with queries.registry() as (ws, session, ws_id):
        return render(
            request,
            "environments.html",
            versions=queries.environment_versions(session, ws_id),
            default_base_image=ws.settings.default_base_image,
        )


@router.get("/compute")
def compute(request: Request) -> HTMLResponse:
    with queries.registry() as (_, session, ws_id):
        return render(request, "compute.html", targets=list(queries.compute_targets(session, ws_id)))


@router.get("/pipelines")
def pipelines(request: Request, user: GetUserDep) -> HTMLResponse:
    """Published pipelines and endpoints, each with its last runs and a Submit action (the REST
    submit routes; offered to users with Airflow's permission to run the DAG, which they check)."""
    from airflow_mlw.plugins.pipelines_api import may_trigger

    with queries.registry() as (ws, session, ws_id):
        published = queries.published_pipelines(session, ws_id)
        by_id = {row.id: row for row in published}
        endpoints = queries.pipeline_endpoints(session, ws_id)
        runs = queries.pipeline_runs_by_dag(session, ws_id, (row.dag_id for row in published), LAST_RUNS)
        allowed = {dag_id: may_trigger(dag_id, user) for dag_id in {row.dag_id for row in published}}
        return render(
            request,
            "pipelines.html",
            workspace_name=ws.name,
            published=published,
            published_by_id=by_id,
            endpoints=endpoints,
            experiments=[name for name, _, _ in queries.experiments(session, ws_id)],
            runs=runs,
            endpoint_runs={
                endpoint.id: endpoint_runs(versions, by_id, runs) for endpoint, versions in endpoints
            },
            allowed=allowed,
        )


def endpoint_runs(versions: list[Any], published: dict[str, Any], runs: dict[str, list[Any]]) -> list[Any]:
    """An endpoint's last runs: those of the DAGs its versions' pipelines run, newest first."""
    dag_ids = {
        published[v.published_pipeline_id].dag_id for v in versions if v.published_pipeline_id in published
    }
    found = {run.id: run for dag_id in dag_ids for run in runs.get(dag_id, [])}
    return sorted(found.values(), key=lambda run: run.created_at, reverse=True)[:LAST_RUNS]


@router.get("/models")
def models(request: Request) -> HTMLResponse:
    """Model versions (run, datasets) and scoring services, as the registry records them."""
    with queries.registry() as (_, session, ws_id):
        versions = queries.model_versions(session, ws_id)
        datasets = queries.dataset_names(
            session, (i for _, row in versions for i in row.dataset_version_ids or [])
        )
        services = queries.webservices(session, ws_id)
        names_by_id = {row.id: f"{name}:{row.version}" for name, row in versions}
        return render(
            request,
            "models.html",
            versions=versions,
            version_ids=[f"{name}-v{row.version}" for name, row in versions],
            trained_on={
                row.id: [
                    {"name": datasets[i][0], "version": datasets[i][1]}
                    for i in row.dataset_version_ids or []
                    if i in datasets
                ]
                for _, row in versions
            },
            services=services,
            service_models={
                row.id: [names_by_id.get(i, i) for i in row.model_version_ids or []] for row in services
            },
        )


@router.get("/datadrift")
def datadrift(request: Request) -> HTMLResponse:
    """Drift monitors: each one's magnitude over time with its threshold, and the per-feature
    contribution of every window, as charts (``drift``)."""
    from airflow_mlw.plugins.ui.drift import contribution_spec, magnitude_spec

    with queries.registry() as (_, session, ws_id):
        monitors = queries.drift_monitors(session, ws_id)
        windows = queries.drift_windows(session, (row.id for row in monitors))
        charts = {
            row.id: (magnitude_spec(row, windows[row.id]), contribution_spec(row, windows[row.id]))
            for row in monitors
        }
        return render(request, "datadrift.html", monitors=monitors, charts=charts, windows=windows)


@router.get("/experiments")
def experiments(request: Request) -> HTMLResponse:
    with queries.registry() as (_, session, ws_id):
        return render(request, "experiments.html", experiments=queries.experiments(session, ws_id))


@router.get("/experiments/{name}")
def experiment(request: Request, name: str, metric: str | None = None) -> HTMLResponse:
    """An experiment's runs side by side: a metric (``metric``, else the first by name) across the
    runs as a bar per run and a line per run (charts fed by ``chart_data``), and a table with each
    run's tags, properties (``add_properties``), duration, reuse and last metric values."""
    from airflow_mlw.plugins.ui.chart_data import EXPERIMENT_RUN_LIMIT
    from airflow_mlw.plugins.ui.rendering import metric_value

    with queries.registry() as (_, session, ws_id):
        rows = queries.experiment_runs(session, ws_id, name, EXPERIMENT_RUN_LIMIT)
        if not rows:
            raise HTTPException(status_code=404, detail=f"no experiment {name!r} in this workspace")
        by_source = queries.last_scalars(session, (queries.metrics_source(row) for row in rows))
        last = {row.id: by_source.get(queries.metrics_source(row), {}) for row in rows}
        names = sorted({metric_name for values in last.values() for metric_name in values})
        return render(
            request,
            "experiment.html",
            name=name,
            runs=rows,
            limit=EXPERIMENT_RUN_LIMIT,
            durations={row.id: queries.duration(row) for row in rows},
            last={
                run_id: [f"{k}={metric_value(v)}" for k, v in sorted(values.items())]
                for run_id, values in last.items()
            },
            metrics=names,
            metric=metric if metric in names else (names[0] if names else None),
            properties={row.id: (row.properties or {}).get("user") or {} for row in rows},
        )


@router.get("/runs")
def runs(request: Request, kind: str | None = None, experiment: str | None = None) -> HTMLResponse:
    with queries.registry() as (_, session, ws_id):
        rows = queries.latest_runs(session, ws_id, RUN_LIMIT, kind, experiment)
        summaries = queries.summarize_runs(session, rows)
        steps = [summary for summary in summaries if summary.row.kind == "step"]
        hits = [summary for summary in steps if summary.row.reused_from_id]
        return render(
            request,
            "runs.html",
            kind=kind,
            runs=summaries,
            steps=len(steps),
            hits=len(hits),
            saved=sum(hit.saved or 0.0 for hit in hits),
        )


@router.get("/runs/{run_id}")
def run(request: Request, run_id: str) -> HTMLResponse:
    with queries.registry() as (_, session, ws_id):
        row = queries.run(session, ws_id, run_id)
        if row is None:
            raise HTTPException(status_code=404, detail=f"no run {run_id!r} in this workspace")
        return run_page(request, session, row)


@router.get("/task-run")
def task_run(request: Request, dag_id: str, dag_run_id: str, task_id: str) -> HTMLResponse:
    """The registry run of an Airflow task instance (what the task's extra links open)."""
    with queries.registry() as (_, session, ws_id):
        row = queries.task_run(session, ws_id, dag_id, dag_run_id, task_id)
        if row is None:
            raise HTTPException(
                status_code=404,
                detail=f"task {task_id!r} of DAG run {dag_id}/{dag_run_id} has no run in this workspace",
            )
        return run_page(request, session, row)


@router.get("/runs/{run_id}/files/{name:path}", response_class=StreamingResponse)
def run_file(run_id: str, name: str) -> StreamingResponse:
    """A file kept with a run (``run.upload_file``, ``log_image``, its outputs), streamed from the
    workspace's default datastore: how the run page shows logged images."""
    from airflow_mlw.datastores.paths import join_path, normalize_path
    from airflow_mlw.exceptions import MlwError

    with queries.registry() as (ws, session, ws_id):
        if queries.run(session, ws_id, run_id) is None:
            raise HTTPException(status_code=404, detail=f"no run {run_id!r} in this workspace")
        try:
            path = join_path(f"mlw/run-files/{run_id}", normalize_path(name, what="file name"))
            backend = ws.get_default_datastore().backend
            info = backend.info(path)
        except MlwError as exc:
            raise HTTPException(status_code=404, detail=f"run {run_id!r}: file {name!r}: {exc}") from None
    if info is None:
        raise HTTPException(status_code=404, detail=f"run {run_id!r} has no file {name!r}")
    media_type = MEDIA_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream")
    headers = {"X-Content-Type-Options": "nosniff"}
    return StreamingResponse(backend.open_read(path), media_type=media_type, headers=headers)


#: Media types of the images a run page shows inline (``log_image``); any other file (SVG too, which
#: could carry script) is a download.
MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif"}


def run_page(request: Request, session: Session, row: RunRow) -> HTMLResponse:
    """A run: what it is, its outputs, the dataset versions it read and wrote, metrics and their
    charts, steps, and a sweep's trials."""
    origin = queries.origins_of(session, [row]).get(row.reused_from_id or "")
    source = queries.metrics_source(row)
    outputs = sorted((row.outputs or {}).items())
    datasets: list[tuple[str, str, dict[str, Any]]] = [
        ("output", name, output["dataset"]) for name, output in outputs if output.get("dataset")
    ]
    datasets += [("input", name, used) for name, used in queries.input_datasets(row)]
    from airflow_mlw.plugins.ui.chart_data import sweep_of
    from airflow_mlw.plugins.ui.metric_charts import run_charts

    metrics = queries.metrics_of(session, [source]).get(source, [])
    sweep = sweep_of(session, row)
    steps = children = graph = None
    if row.kind == "pipeline":
        from airflow_mlw.plugins.ui.step_graph import step_graph

        step_rows = queries.step_runs(session, row.id)
        steps = queries.summarize_runs(session, step_rows)
        graph = step_graph(session, row, step_rows, Urls(request))
    else:
        children = queries.summarize_runs(session, queries.step_runs(session, row.id)) or None
    return render(
        request,
        "run.html" if graph is None else "pipeline_run.html",  # a pipeline run: its step graph first
        graph=graph,
        row=row,
        duration=queries.duration(row),
        origin=origin,
        origin_duration=queries.duration(origin),
        outputs=outputs,
        datasets=datasets,
        metrics_source=source,
        metrics=metrics,
        charts=run_charts(metrics),
        sweep=sweep,
        steps=steps,
        children=children,
        batches=mini_batches(row, children or []),
    )


def mini_batches(row: RunRow, children: list[Any]) -> dict[str, Any] | None:
    """A ParallelRunStep's progress: each mapped task's latest try (its ``progress`` property, as
    the driver counts), and the totals (the step's own once its gather task has run)."""
    latest: dict[Any, Any] = {}
    for child in children:  # oldest first: a retried task's later try replaces the earlier
        properties = child.row.properties or {}
        if "progress" in properties:
            latest[properties.get("map_index")] = child
    shards = [latest[key] for key in sorted(latest, key=str)]
    total = (row.properties or {}).get("progress")
    if total is None and not shards:
        return None
    if total is None:
        counts = [s.row.properties["progress"] for s in shards]
        total = {k: sum(c.get(k, 0) for c in counts) for k in ("done", "failed", "of")}
    return {"total": total, "shards": shards}
