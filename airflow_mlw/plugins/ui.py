"""The "ML Workspace" pages of the Airflow UI: server-rendered HTML under ``/mlw/ui``.

Airflow's React UI shows them in an iframe (the plugin's ``external_views`` entry). Like every
``/mlw`` route they need an Airflow user; inside the UI the ``_token`` cookie proves it. Pages read
the configured workspace's registry through the SQLAlchemy models, imported inside the routes so
importing the plugin (every DAG file imports airflow_mlw) stays free of I/O.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from airflow.api_fastapi.core_api.security import get_user
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_mlw.registry.models import RunRow
    from airflow_mlw.workspace import Workspace

router = APIRouter(
    prefix="/ui",
    dependencies=[Depends(get_user)],
    default_response_class=HTMLResponse,
    include_in_schema=False,  # pages, not part of the REST API
)

#: Recent runs listed on the runs page.
RUN_LIMIT = 100
#: Lineage entries per direction shown in the datasets table (the dataset's page shows all).
LINEAGE_SHOWN = 3

SECTIONS = (
    ("", "Overview"),
    ("datastores", "Datastores"),
    ("datasets", "Datasets"),
    ("environments", "Environments"),
    ("compute", "Compute"),
    ("pipelines", "Pipelines"),
    ("models", "Models"),
    ("runs", "Runs"),
)

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1f2328;background:#fff}
nav{display:flex;gap:2px;padding:8px 16px;border-bottom:1px solid #d0d7de;background:#f6f8fa}
nav a{padding:4px 10px;border-radius:6px;color:#1f2328;text-decoration:none}
nav a.current{background:#0969da;color:#fff}
main{padding:12px 16px}
h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:20px 0 8px}
table{border-collapse:collapse;width:100%;margin-bottom:8px}
th,td{border-bottom:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
tr:target td{background:#fff8c5}
code{font:12px ui-monospace,monospace;background:#f6f8fa;padding:1px 4px;border-radius:4px}
a{color:#0969da}.muted{color:#656d76}.tag{display:inline-block;background:#ddf4ff;border-radius:10px;
padding:0 8px;margin:1px;font-size:12px}.hit{color:#1a7f37;font-weight:600}
.Failed{color:#cf222e}.Finished{color:#1a7f37}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}
dt{color:#656d76}dd{margin:0}
"""

#: Airflow shows these pages in a sandboxed iframe that may not navigate the window, but its router
#: follows the window's history: links to Airflow's own pages push there (opened alone, they just load).
TOP_LINKS = """
document.addEventListener("click", function (event) {
  var link = event.target.closest("a[data-airflow]");
  if (!link || window.top === window || event.ctrlKey || event.metaKey || event.shiftKey) return;
  try {
    window.top.history.pushState(null, "", link.href);
    window.top.dispatchEvent(new PopStateEvent("popstate", {state: null}));
    event.preventDefault();
  } catch (error) {}
});
"""


# -- HTML ----------------------------------------------------------------------------------------------


class Html(str):
    """Markup that is already escaped; everything else is escaped on the way into a page."""


def esc(value: Any) -> Html:
    if isinstance(value, Html):
        return value
    if value is None or value == "":
        return Html('<span class="muted">—</span>')
    return Html(html.escape(str(value)))


def join(parts: Iterable[Any], separator: str = " ") -> Html:
    """Escaped parts joined by ``separator`` (markup); empty parts are left out."""
    return Html(separator.join(esc(part) for part in parts if part not in (None, "")))


def link(href: str, label: Any, airflow: bool = False) -> Html:
    """A link; ``airflow`` marks a page of Airflow's own UI, opened in the whole window (``TOP_LINKS``)."""
    marker = " data-airflow" if airflow else ""
    return Html(f'<a href="{html.escape(href)}"{marker}>{esc(label)}</a>')


def code(value: str | None, length: int = 12) -> Html:
    """A hash or id shortened to ``length`` characters; the whole value in the tooltip."""
    if not value:
        return esc(None)
    return Html(f'<code title="{html.escape(value)}">{html.escape(value[:length])}</code>')


def tags(values: dict[str, Any] | None) -> Html:
    if not values:
        return esc(None)
    return join(Html(f'<span class="tag">{esc(f"{k}={v}")}</span>') for k, v in (values or {}).items())


def settings(values: dict[str, Any] | None) -> Html:
    return join((f"{k}={v}" for k, v in (values or {}).items() if v not in (None, "", [], {})), ", ")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str, ids: Sequence[str] = ()) -> Html:
    """A table of escaped cells; ``ids`` gives rows an anchor (``#v2`` highlights version 2)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        anchor = f' id="{html.escape(ids[index])}"' if index < len(ids) else ""
        body.append(f"<tr{anchor}>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}" class="muted">{html.escape(empty)}</td></tr>')
    return Html(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def details(pairs: Iterable[tuple[str, Any]]) -> Html:
    return Html("<dl>" + "".join(f"<dt>{html.escape(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs) + "</dl>")


def section(title: str, body: Html, anchor: str = "") -> Html:
    id_attr = f' id="{html.escape(anchor)}"' if anchor else ""
    return Html(f"<h2{id_attr}>{html.escape(title)}</h2>{body}")


def when(value: datetime | None) -> Html:
    return esc(value.strftime("%Y-%m-%d %H:%M:%S") if value else None)


def seconds(value: float | None) -> Html:
    if value is None:
        return esc(None)
    if value < 60:
        return esc(f"{value:.1f} s")
    minutes, rest = divmod(int(round(value)), 60)
    return esc(f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min {rest} s")


def size(count: int | None) -> Html:
    if count is None:
        return esc(None)
    amount = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return esc(f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}")
        amount /= 1024
    raise AssertionError("unreachable")


class Urls:
    """Paths of these pages and of Airflow's own UI, under the root the api-server serves at."""

    def __init__(self, request: Request) -> None:
        mount = str(request.scope.get("root_path", "")).rstrip("/")  # <api root>/mlw
        self.ui_root = f"{mount}/ui"
        self.airflow_root = mount.rsplit("/", 1)[0]

    def ui(self, *parts: str, **query: Any) -> str:
        path = "/".join(quote(part, safe="") for part in parts)
        params = {k: v for k, v in query.items() if v is not None}
        return f"{self.ui_root}/{path}" + (f"?{urlencode(params)}" if params else "")

    def dataset(self, name: str, version: int | None = None) -> str:
        return self.ui("datasets", name) + (f"#v{version}" if version is not None else "")

    def run(self, run_id: str) -> str:
        return self.ui("runs", run_id)

    def airflow(self, dag_id: str, dag_run_id: str | None = None, task_id: str | None = None) -> str:
        path = f"{self.airflow_root}/dags/{quote(dag_id, safe='')}"
        if dag_run_id:
            path += f"/runs/{quote(dag_run_id, safe='')}"
            if task_id:
                path += f"/tasks/{quote(task_id, safe='')}"
        return path

    def dag_run_link(self, dag_id: str | None, dag_run_id: str | None, task_id: str | None = None) -> Html:
        if not dag_id:
            return esc(None)
        label = " / ".join(part for part in (dag_id, dag_run_id, task_id) if part)
        return link(self.airflow(dag_id, dag_run_id, task_id), label, airflow=True)


def page(request: Request, current: str, title: str, *blocks: Html) -> HTMLResponse:
    urls = Urls(request)
    nav = "".join(
        f'<a href="{html.escape(urls.ui(key) if key else urls.ui_root + "/")}"'
        + (' class="current"' if key == current else "")
        + f">{html.escape(label)}</a>"
        for key, label in SECTIONS
    )
    head = (
        f'<meta charset="utf-8"><title>{html.escape(title)} · ML Workspace</title>'
        f"<style>{STYLE}</style><script>{TOP_LINKS}</script>"
    )
    body = f"<nav>{nav}</nav><main><h1>{html.escape(title)}</h1>{''.join(blocks)}</main>"
    return HTMLResponse(f'<!doctype html><html lang="en"><head>{head}</head><body>{body}</body></html>')


# -- registry access ------------------------------------------------------------------------------------


@contextmanager
def registry() -> Iterator[tuple[Workspace, Session, int]]:
    """The configured workspace, a read session and the workspace's row id; registry trouble is a 503."""
    from airflow_mlw.exceptions import MlwError
    from airflow_mlw.workspace import Workspace

    ws = Workspace.from_config()
    try:
        ws_id = ws._workspace_id()
        with ws.store.session() as session:
            yield ws, session, ws_id
    except MlwError as exc:
        raise HTTPException(status_code=503, detail=f"ML Workspace registry: {exc}") from None


def duration(row: RunRow | None) -> float | None:
    if row is None or row.started_at is None or row.finished_at is None:
        return None
    return (row.finished_at - row.started_at).total_seconds()


def origins_of(session: Session, rows: Sequence[RunRow]) -> dict[str, RunRow]:
    """The runs reused steps were handed, by id: their duration is the time a reuse saved."""
    from sqlalchemy import select

    from airflow_mlw.registry.models import RunRow

    ids = {row.reused_from_id for row in rows if row.reused_from_id}
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(RunRow).where(RunRow.id.in_(ids)))}


def metrics_of(session: Session, run_ids: Iterable[str]) -> dict[str, list[Any]]:
    """Metric rows by run id, in logging order."""
    from sqlalchemy import select

    from airflow_mlw.registry.models import MetricRow

    ids = set(run_ids)
    found: dict[str, list[Any]] = defaultdict(list)
    if ids:
        rows = session.scalars(select(MetricRow).where(MetricRow.run_id.in_(ids)).order_by(MetricRow.id))
        for row in rows:
            found[row.run_id].append(row)
    return found


def metrics_source(row: RunRow) -> str:
    """A reused step reports the metrics its origin logged."""
    return row.reused_from_id or row.id


def scalar_summary(metric_rows: Sequence[Any]) -> Html:
    """Last value of each scalar metric, ``name=value``."""
    last = {m.name: m.value for m in metric_rows if m.kind == "scalar"}
    return join((f"{name}={value}" for name, value in last.items()), ", ")


# -- pages ----------------------------------------------------------------------------------------------


@router.get("/")
def overview(request: Request) -> HTMLResponse:
    from sqlalchemy import func, select

    from airflow_mlw.registry.models import (
        ComputeTargetRow,
        DatasetRow,
        DatastoreRow,
        EnvironmentRow,
        PipelineEndpointRow,
        PublishedPipelineRow,
        RunRow,
        WorkspaceRow,
    )

    urls = Urls(request)
    with registry() as (ws, session, ws_id):
        workspace = session.get(WorkspaceRow, ws_id)
        counted = (
            ("datastores", "Datastores", DatastoreRow),
            ("datasets", "Datasets", DatasetRow),
            ("environments", "Environments", EnvironmentRow),
            ("compute", "Compute targets (besides local)", ComputeTargetRow),
            ("pipelines", "Published pipelines", PublishedPipelineRow),
            ("pipelines", "Pipeline endpoints", PipelineEndpointRow),
            ("runs", "Runs", RunRow),
        )
        counts = [
            (
                label,
                link(
                    urls.ui(key),
                    session.scalar(
                        select(func.count()).select_from(model).where(model.workspace_id == ws_id)
                    ),
                ),
            )
            for key, label, model in counted
        ]
        recent = session.scalars(
            select(RunRow).where(RunRow.workspace_id == ws_id).order_by(RunRow.created_at.desc()).limit(10)
        ).all()
        runs = runs_table(urls, session, recent)
        about = details(
            [
                ("Workspace", ws.name),
                ("Registry", ws.registry_url),
                ("Default datastore", workspace.default_datastore if workspace else None),
                ("Description", workspace.description if workspace else None),
                ("Tags", tags(workspace.tags if workspace else None)),
            ]
        )
    return page(
        request,
        "",
        f"ML Workspace {ws.name}",
        about,
        section("Contents", details(counts)),
        section("Latest runs", runs),
    )


@router.get("/datastores")
def datastores(request: Request) -> HTMLResponse:
    from sqlalchemy import select

    from airflow_mlw.registry.models import DatastoreRow, WorkspaceRow

    with registry() as (ws, session, ws_id):
        default = session.scalar(select(WorkspaceRow.default_datastore).where(WorkspaceRow.id == ws_id))
        rows = session.scalars(
            select(DatastoreRow).where(DatastoreRow.workspace_id == ws_id).order_by(DatastoreRow.name)
        ).all()
        body = table(
            ["Name", "Kind", "Location", "Airflow connection", "Credentials", "Registered"],
            [
                (
                    join([row.name, Html('<span class="tag">default</span>') if row.name == default else ""]),
                    row.kind,
                    settings(row.config),
                    row.conn_id,
                    "stored encrypted" if row.secret else None,
                    when(row.created_at),
                )
                for row in rows
            ],
            "no datastores registered",
        )
    return page(request, "datastores", "Datastores", body)


def lineage_of(session: Session, version_ids: Iterable[str]) -> dict[tuple[str, str], list[Any]]:
    """Lineage rows by (dataset version id, direction), newest first."""
    from sqlalchemy import select

    from airflow_mlw.registry.models import LineageRow

    ids = set(version_ids)
    found: dict[tuple[str, str], list[Any]] = defaultdict(list)
    if ids:
        rows = session.scalars(
            select(LineageRow).where(LineageRow.dataset_version_id.in_(ids)).order_by(LineageRow.id.desc())
        )
        for row in rows:
            found[(row.dataset_version_id or "", row.direction)].append(row)
    return found


def lineage_cell(urls: Urls, rows: list[Any], limit: int | None, more_href: str) -> Html:
    shown = rows if limit is None else rows[:limit]
    parts = [urls.dag_run_link(r.dag_id, r.dag_run_id, r.task_id) for r in shown]
    if len(rows) > len(shown):
        parts.append(link(more_href, f"and {len(rows) - len(shown)} more"))
    return join(parts, "<br>")


def versions_table(
    urls: Urls, session: Session, name: str | None, workspace_id: int, lineage_limit: int | None
) -> Html:
    """Every version of every dataset (or of dataset ``name``), newest first, with its lineage."""
    from sqlalchemy import select

    from airflow_mlw.registry.models import DatasetRow, DatasetVersionRow, ManifestRow

    query = (
        select(DatasetRow, DatasetVersionRow, ManifestRow)
        .join(DatasetVersionRow, DatasetVersionRow.dataset_id == DatasetRow.id)
        .outerjoin(ManifestRow, ManifestRow.fingerprint == DatasetVersionRow.manifest_fingerprint)
        .where(DatasetRow.workspace_id == workspace_id)
        .order_by(DatasetRow.name, DatasetVersionRow.version.desc())
    )
    if name is not None:
        query = query.where(DatasetRow.name == name)
    rows = session.execute(query).all()
    lineage = lineage_of(session, (version.id for _, version, _ in rows))
    body = []
    for dataset, version, manifest in rows:
        more = urls.dataset(dataset.name, version.version)
        body.append(
            (
                link(urls.dataset(dataset.name), dataset.name),
                dataset.kind,
                link(urls.dataset(dataset.name, version.version), version.version),
                code(version.fingerprint),
                manifest.file_count if manifest else None,
                size(manifest.total_bytes if manifest else None),
                tags(version.tags),
                lineage_cell(urls, lineage[(version.id, "produced")], lineage_limit, more),
                lineage_cell(urls, lineage[(version.id, "consumed")], lineage_limit, more),
                when(version.created_at),
            )
        )
    return table(
        [
            "Dataset",
            "Kind",
            "Version",
            "Fingerprint",
            "Files",
            "Size",
            "Tags",
            "Produced by",
            "Consumed by",
            "Registered",
        ],
        body,
        "no datasets registered" if name is None else f"dataset {name!r} has no versions",
        ids=[f"v{version.version}" for _, version, _ in rows] if name is not None else (),
    )


@router.get("/datasets")
def datasets(request: Request) -> HTMLResponse:
    with registry() as (_, session, ws_id):
        body = versions_table(Urls(request), session, None, ws_id, LINEAGE_SHOWN)
    return page(request, "datasets", "Datasets", body)


@router.get("/datasets/{name}")
def dataset(request: Request, name: str) -> HTMLResponse:
    from sqlalchemy import select

    from airflow_mlw.registry.models import DatasetRow, DatasetVersionRow

    with registry() as (_, session, ws_id):
        row = session.scalar(
            select(DatasetRow).where(DatasetRow.workspace_id == ws_id, DatasetRow.name == name)
        )
        if row is None:
            raise HTTPException(status_code=404, detail=f"no dataset {name!r} in this workspace")
        latest = session.scalar(
            select(DatasetVersionRow)
            .where(DatasetVersionRow.dataset_id == row.id)
            .order_by(DatasetVersionRow.version.desc())
            .limit(1)
        )
        definition = latest.definition if latest else {}
        sources = [
            f"{source.get('datastore') or 'default datastore'}: {source.get('pattern')}"
            for source in definition.get("sources", [])
        ]
        about = details(
            [
                ("Kind", row.kind),
                ("Latest version", latest.version if latest else None),
                ("Description", latest.description if latest else None),
                ("Sources (latest)", join(sources, "<br>")),
                ("Format (latest)", settings(definition.get("format"))),
                ("Snapshot", "yes" if definition.get("snapshot") else "no"),
            ]
        )
        body = versions_table(Urls(request), session, name, ws_id, None)
    return page(request, "datasets", f"Dataset {name}", about, section("Versions", body))


@router.get("/environments")
def environments(request: Request) -> HTMLResponse:
    from sqlalchemy import select

    from airflow_mlw.registry.models import EnvironmentRow, EnvironmentVersionRow

    with registry() as (ws, session, ws_id):
        rows = session.execute(
            select(EnvironmentRow.name, EnvironmentVersionRow)
            .join(EnvironmentVersionRow, EnvironmentVersionRow.environment_id == EnvironmentRow.id)
            .where(EnvironmentRow.workspace_id == ws_id)
            .order_by(EnvironmentRow.name, EnvironmentVersionRow.version.desc())
        ).all()
        body = []
        for name, version in rows:
            python, docker = version.spec.get("python", {}), version.spec.get("docker", {})
            packages = [*python.get("conda_packages", []), *python.get("pip_packages", [])]
            image: Any = version.image_tag
            if image is None:
                image = (
                    Html('<span class="muted">built on first use</span>') if docker.get("enabled") else None
                )
            body.append(
                (
                    name,
                    version.version,
                    code(version.spec_hash),
                    image,
                    (docker.get("base_image") or f"{ws.settings.default_base_image} (default)")
                    if docker.get("enabled")
                    else "no (worker Python or virtualenv)",
                    python.get("python_version"),
                    join(packages, ", "),
                    when(version.created_at),
                )
            )
        content = table(
            [
                "Environment",
                "Version",
                "Spec hash",
                "Image tag",
                "Docker base",
                "Python",
                "Packages",
                "Registered",
            ],
            body,
            "no environments registered",
        )
    return page(request, "environments", "Environments", content)


@router.get("/compute")
def compute(request: Request) -> HTMLResponse:
    from sqlalchemy import select

    from airflow_mlw.registry.models import ComputeTargetRow

    with registry() as (_, session, ws_id):
        rows = session.scalars(
            select(ComputeTargetRow)
            .where(ComputeTargetRow.workspace_id == ws_id)
            .order_by(ComputeTargetRow.name)
        ).all()
        body = table(
            ["Name", "Kind", "Settings", "Registered"],
            [("local", "local", "a subprocess on the Airflow worker (built in)", None)]
            + [(row.name, row.kind, settings(row.config), when(row.created_at)) for row in rows],
            "",
        )
    return page(request, "compute", "Compute targets", body)


@router.get("/pipelines")
def pipelines(request: Request) -> HTMLResponse:
    from sqlalchemy import select

    from airflow_mlw.registry.models import (
        PipelineEndpointRow,
        PipelineEndpointVersionRow,
        PublishedPipelineRow,
    )

    urls = Urls(request)
    with registry() as (_, session, ws_id):
        published = session.scalars(
            select(PublishedPipelineRow)
            .where(PublishedPipelineRow.workspace_id == ws_id)
            .order_by(PublishedPipelineRow.name, PublishedPipelineRow.created_at.desc())
        ).all()
        by_id = {row.id: row for row in published}
        pipelines_body = table(
            ["Name", "Version", "Id", "Status", "Airflow DAG", "Parameters", "Description", "Published"],
            [
                (
                    row.name,
                    row.version,
                    Html(f'<span id="p-{html.escape(row.id)}">{code(row.id)}</span>'),
                    row.status,
                    link(urls.airflow(row.dag_id), row.dag_id, airflow=True),
                    join(sorted(row.parameters or {}), ", "),
                    row.description,
                    when(row.created_at),
                )
                for row in published
            ],
            "no pipelines published",
        )
        endpoints = session.scalars(
            select(PipelineEndpointRow)
            .where(PipelineEndpointRow.workspace_id == ws_id)
            .order_by(PipelineEndpointRow.name)
        ).all()
        versions: dict[str, list[PipelineEndpointVersionRow]] = defaultdict(list)
        if endpoints:
            for version in session.scalars(
                select(PipelineEndpointVersionRow).where(
                    PipelineEndpointVersionRow.endpoint_id.in_([e.id for e in endpoints])
                )
            ):
                versions[version.endpoint_id].append(version)

        def version_label(endpoint: PipelineEndpointRow, version: PipelineEndpointVersionRow) -> Html:
            pipeline = by_id.get(version.published_pipeline_id)
            target = pipeline.name if pipeline else version.published_pipeline_id
            default = " (default)" if version.version == endpoint.default_version else ""
            return join([f"{version.version}{default}:", link(f"#p-{version.published_pipeline_id}", target)])

        endpoints_body = table(
            ["Name", "Status", "Default version", "Versions", "Description", "Created"],
            [
                (
                    endpoint.name,
                    endpoint.status,
                    endpoint.default_version,
                    join(
                        (
                            version_label(endpoint, v)
                            for v in sorted(versions[endpoint.id], key=lambda v: (len(v.version), v.version))
                        ),
                        "<br>",
                    ),
                    endpoint.description,
                    when(endpoint.created_at),
                )
                for endpoint in endpoints
            ],
            "no pipeline endpoints",
        )
    return page(
        request,
        "pipelines",
        "Pipelines",
        section("Published pipelines", pipelines_body),
        section("Pipeline endpoints", endpoints_body),
    )


@router.get("/models")
def models(request: Request) -> HTMLResponse:
    """Model versions (run, datasets) and scoring services, as the registry records them."""
    from sqlalchemy import select

    from airflow_mlw.registry.models import (
        DatasetRow,
        DatasetVersionRow,
        ModelRow,
        ModelVersionRow,
        WebserviceRow,
    )

    urls = Urls(request)
    with registry() as (_, session, ws_id):
        versions = session.execute(
            select(ModelRow.name, ModelVersionRow)
            .join(ModelVersionRow, ModelVersionRow.model_id == ModelRow.id)
            .where(ModelRow.workspace_id == ws_id)
            .order_by(ModelRow.name, ModelVersionRow.version.desc())
        ).all()
        ids = {i for _, row in versions for i in row.dataset_version_ids or []}
        datasets = {
            row.id: (name, row.version)
            for name, row in session.execute(
                select(DatasetRow.name, DatasetVersionRow)
                .join(DatasetVersionRow, DatasetVersionRow.dataset_id == DatasetRow.id)
                .where(DatasetVersionRow.id.in_(ids))
            )
        }
        names_by_id = {row.id: f"{name}:{row.version}" for name, row in versions}
        models_body = table(
            ["Model", "Version", "Fingerprint", "Tags", "Properties", "Run", "Trained on", "Registered"],
            [
                (
                    name,
                    row.version,
                    code(row.fingerprint),
                    tags(row.tags),
                    settings(row.location.get("properties")),
                    link(urls.run(row.run_id), row.run_id[:12]) if row.run_id else None,
                    join(
                        (
                            link(urls.dataset(*datasets[i]), f"{datasets[i][0]} v{datasets[i][1]}")
                            for i in row.dataset_version_ids or []
                            if i in datasets
                        ),
                        ", ",
                    ),
                    when(row.created_at),
                )
                for name, row in versions
            ],
            "no models registered",
            ids=[f"{name}-v{row.version}" for name, row in versions],
        )
        services = session.scalars(
            select(WebserviceRow).where(WebserviceRow.workspace_id == ws_id).order_by(WebserviceRow.name)
        ).all()
        services_body = table(
            ["Service", "State", "Scoring URI", "Models", "Compute target", "Updated"],
            [
                (
                    row.name,
                    Html(f'<span class="{html.escape(row.state)}">{html.escape(row.state)}</span>'),
                    row.scoring_uri,
                    join((names_by_id.get(i, i) for i in row.model_version_ids or []), ", "),
                    row.compute_target or "this machine (local)",
                    when(row.updated_at),
                )
                for row in services
            ],
            "no scoring services",
        )
    return page(
        request,
        "models",
        "Models",
        section("Registered models", models_body),
        section("Scoring services", services_body),
    )


def runs_table(urls: Urls, session: Session, rows: Sequence[RunRow]) -> Html:
    origins = origins_of(session, rows)
    metrics = metrics_of(session, (metrics_source(row) for row in rows))
    body = []
    for row in rows:
        origin = origins.get(row.reused_from_id or "")
        reuse: Any = None
        if row.reused_from_id:
            reuse = join(
                [
                    Html('<span class="hit">reused</span> from'),
                    link(urls.run(row.reused_from_id), row.reused_from_id[:12]),
                ]
            )
        body.append(
            (
                link(urls.run(row.id), row.id[:12]),
                row.kind,
                row.name,
                Html(f'<span class="{html.escape(row.status)}">{html.escape(row.status)}</span>'),
                urls.dag_run_link(row.dag_id, row.dag_run_id, row.task_id),
                seconds(duration(row)),
                reuse,
                seconds(duration(origin)) if row.reused_from_id else None,
                scalar_summary(metrics.get(metrics_source(row), [])),
                when(row.created_at),
            )
        )
    return table(
        ["Run", "Kind", "Name", "Status", "Airflow", "Duration", "Reuse", "Time saved", "Metrics", "Created"],
        body,
        "no runs yet",
    )


@router.get("/runs")
def runs(request: Request, kind: str | None = None) -> HTMLResponse:
    from sqlalchemy import select

    from airflow_mlw.registry.models import RunRow

    urls = Urls(request)
    with registry() as (_, session, ws_id):
        query = select(RunRow).where(RunRow.workspace_id == ws_id)
        if kind:
            query = query.where(RunRow.kind == kind)
        rows = session.scalars(query.order_by(RunRow.created_at.desc()).limit(RUN_LIMIT)).all()
        steps = [row for row in rows if row.kind == "step"]
        hits = [row for row in steps if row.reused_from_id]
        origins = origins_of(session, hits)
        saved = sum(duration(origins.get(row.reused_from_id or "")) or 0.0 for row in hits)
        summary = Html(
            f"<p>{len(hits)} of {len(steps)} step runs listed were reuse hits; "
            f"they saved {seconds(saved) if hits else '0 s'} of origin run time.</p>"
        )
        filters = join(
            (
                link(urls.ui("runs", kind=key), label) if key != kind else esc(label)
                for key, label in (
                    (None, "all"),
                    ("step", "steps"),
                    ("pipeline", "pipelines"),
                    ("script", "scripts"),
                )
            ),
            " · ",
        )
        body = runs_table(urls, session, rows)
    return page(request, "runs", "Runs", Html(f"<p>Show: {filters}</p>"), summary, body)


@router.get("/runs/{run_id}")
def run(request: Request, run_id: str) -> HTMLResponse:
    from airflow_mlw.registry.models import RunRow

    with registry() as (_, session, ws_id):
        row = session.get(RunRow, run_id)
        if row is None or row.workspace_id != ws_id:
            raise HTTPException(status_code=404, detail=f"no run {run_id!r} in this workspace")
        return run_page(request, session, row)


@router.get("/task-run")
def task_run(request: Request, dag_id: str, dag_run_id: str, task_id: str) -> HTMLResponse:
    """The registry run of an Airflow task instance (what the task's extra links open)."""
    from sqlalchemy import select

    from airflow_mlw.registry.models import RunRow

    with registry() as (_, session, ws_id):
        row = session.scalar(
            select(RunRow)
            .where(
                RunRow.workspace_id == ws_id,
                RunRow.dag_id == dag_id,
                RunRow.dag_run_id == dag_run_id,
                RunRow.task_id == task_id,
            )
            .order_by(RunRow.created_at.desc())
            .limit(1)
        )
        if row is None:
            raise HTTPException(
                status_code=404,
                detail=f"task {task_id!r} of DAG run {dag_id}/{dag_run_id} has no run in this workspace",
            )
        return run_page(request, session, row)


def run_page(request: Request, session: Session, row: RunRow) -> HTMLResponse:
    urls = Urls(request)
    origins = origins_of(session, [row])
    origin = origins.get(row.reused_from_id or "")
    source = metrics_source(row)
    reuse: Any = "computed" if row.kind == "step" else None
    if row.reused_from_id:
        reuse = join(
            [
                Html('<span class="hit">reused</span> the outputs of'),
                link(urls.run(row.reused_from_id), row.reused_from_id),
                Html(f"(saved {seconds(duration(origin))})") if origin else None,
            ]
        )
    about = details(
        [
            ("Run id", row.id),
            ("Kind", row.kind),
            ("Name", row.name),
            ("Experiment", row.experiment_name),
            ("Status", row.status),
            ("Airflow", urls.dag_run_link(row.dag_id, row.dag_run_id, row.task_id)),
            ("Pipeline run", link(urls.run(row.parent_id), row.parent_id) if row.parent_id else None),
            ("Compute target", row.compute_target),
            ("Reuse", reuse),
            ("Reuse key", code(row.reuse_key, 16)),
            ("Created", when(row.created_at)),
            ("Started", when(row.started_at)),
            ("Finished", when(row.finished_at)),
            ("Duration", seconds(duration(row))),
            ("Tags", tags(row.tags)),
        ]
    )
    outputs = table(
        ["Output", "Datastore", "Path", "Fingerprint", "Files", "Size", "Registered as"],
        [
            (
                name,
                output.get("datastore"),
                output.get("path"),
                code(output.get("fingerprint")),
                output.get("files"),
                size(output.get("bytes")),
                dataset_link(urls, output.get("dataset")),
            )
            for name, output in sorted((row.outputs or {}).items())
        ],
        "no outputs",
    )
    dataset_rows = [
        ("output", name, dataset_link(urls, output["dataset"]), code(output["dataset"].get("fingerprint")))
        for name, output in sorted((row.outputs or {}).items())
        if output.get("dataset")
    ] + [
        ("input", name, dataset_link(urls, used), code(used.get("fingerprint")))
        for name, used in input_datasets(row)
    ]
    datasets_body = table(
        ["Direction", "Name in step", "Dataset version", "Fingerprint"],
        dataset_rows,
        "no registered dataset versions read or written",
    )
    metric_rows = metrics_of(session, [source]).get(source, [])
    metrics_note = (
        Html(f"<p class='muted'>Logged by the origin run {link(urls.run(source), source)}.</p>")
        if source != row.id
        else Html("")
    )
    metrics_body = table(
        ["Metric", "Kind", "Value", "Logged"],
        [(m.name, m.kind, format_value(m.value), when(m.created_at)) for m in metric_rows],
        "no metrics logged",
    )
    blocks = [
        about,
        section("Outputs", outputs, "outputs"),
        section("Dataset versions", datasets_body, "datasets"),
        section("Metrics", Html(metrics_note + metrics_body), "metrics"),
    ]
    if row.kind == "pipeline":
        from sqlalchemy import select

        from airflow_mlw.registry.models import RunRow

        children = session.scalars(
            select(RunRow).where(RunRow.parent_id == row.id).order_by(RunRow.created_at)
        ).all()
        blocks.append(section("Step runs", runs_table(urls, session, children), "steps"))
    return page(request, "runs", f"Run {row.name or row.id}", *blocks)


def dataset_link(urls: Urls, reference: dict[str, Any] | None) -> Html:
    """``{name, version}`` as "name vN", linked to that version's row on the dataset's page."""
    if not reference or not reference.get("name"):
        return esc(None)
    name, version = reference["name"], reference.get("version")
    return link(urls.dataset(name, version), f"{name} v{version}" if version else name)


def input_datasets(row: RunRow) -> list[tuple[str, dict[str, Any]]]:
    """``(input name, {name, version, fingerprint})`` of the registered dataset versions the run read:
    from the inputs an executed run recorded, else (a reused step) from its reuse key's document."""
    found = {}
    for name, spec in ((row.properties or {}).get("inputs") or {}).items():
        if not isinstance(spec, dict):
            continue
        if isinstance(spec.get("dataset"), dict):  # an upstream step's output, registered as a dataset
            found[name] = spec["dataset"]
        elif spec.get("dataset"):
            found[name] = {
                "name": spec["dataset"],
                "version": spec.get("version"),
                "fingerprint": spec.get("fingerprint"),
            }
    if not found:
        document = row.key_document or {}
        fingerprints = (document.get("key") or {}).get("inputs") or {}
        for name, info in ((document.get("info") or {}).get("inputs") or {}).items():
            if isinstance(info, dict) and info.get("dataset"):
                found[name] = {
                    "name": info["dataset"],
                    "version": info.get("version"),
                    "fingerprint": fingerprints.get(name),
                }
    return sorted(found.items())


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | dict):
        import json

        text = json.dumps(value)
        return text if len(text) <= 200 else text[:199] + "…"
    return str(value)
