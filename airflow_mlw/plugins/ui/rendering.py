"""How the pages are rendered: the Jinja2 environment over ``templates/``, its filters, page paths.

The environment is made on the first page served, so importing the plugin reads no template.
Autoescaping is on: registry text reaches a page as text, never as markup.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from airflow_mlw.urls import UI_PREFIX

if TYPE_CHECKING:
    import jinja2

#: The nav bar: (page below the UI root, label); a template names its own with ``{% set section %}``.
SECTIONS = (
    ("", "Overview"),
    ("datastores", "Datastores"),
    ("datasets", "Datasets"),
    ("environments", "Environments"),
    ("compute", "Compute"),
    ("pipelines", "Pipelines"),
    ("models", "Models"),
    ("datadrift", "Data drift"),
    ("experiments", "Experiments"),
    ("runs", "Runs"),
)


class Urls:
    """Paths of these pages and of Airflow's own UI, under the root the api-server serves at."""

    def __init__(self, request: Request) -> None:
        mount = str(request.scope.get("root_path", "")).rstrip("/")  # <api root>/mlw
        self.ui_root = f"{mount}{UI_PREFIX}"
        self.api_root = f"{mount}/api"
        self.airflow_root = mount.rsplit("/", 1)[0]

    def ui(self, *parts: str, **query: Any) -> str:
        path = "/".join(quote(part, safe="") for part in parts)
        params = {k: v for k, v in query.items() if v is not None}
        return f"{self.ui_root}/{path}" + (f"?{urlencode(params)}" if params else "")

    def api(self, *parts: str, **query: Any) -> str:
        """A route of the plugin's REST API (``pipelines_api``), as the pages' scripts call it."""
        path = "/".join(quote(part, safe="") for part in parts)
        params = {k: v for k, v in query.items() if v is not None}
        return f"{self.api_root}/{path}" + (f"?{urlencode(params)}" if params else "")

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


def render(request: Request, template: str, **context: Any) -> HTMLResponse:
    """Page ``template`` of ``templates/``, with ``urls`` for this request and the nav's sections."""
    page = environment().get_template(template)
    return HTMLResponse(page.render(urls=Urls(request), sections=SECTIONS, **context))


@functools.cache
def environment() -> jinja2.Environment:
    import jinja2
    import markupsafe

    env = jinja2.Environment(
        loader=jinja2.PackageLoader(__package__ or "airflow_mlw.plugins.ui", "templates"),
        autoescape=True,
        # Block tags on lines of their own leave no blank lines or indentation in the page.
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(when=when, seconds=seconds, size=size, settings=settings, metric_value=metric_value)
    env.tests["markup"] = lambda value: isinstance(value, markupsafe.Markup)
    return env


# -- filters: values as the pages show them; None where the page shows a dash --------------------------


def when(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else None


def seconds(value: float | None) -> str | None:
    if value is None:
        return None
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(int(round(value)), 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min {rest} s"


def size(count: int | None) -> str | None:
    if count is None:
        return None
    amount = float(count)
    for unit in ("B", "KB", "MB"):
        if amount < 1024:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GB"


def settings(values: dict[str, Any] | None) -> list[str]:
    """``key=value`` of the settings that are set."""
    return [f"{k}={v}" for k, v in (values or {}).items() if v not in (None, "", [], {})]


def metric_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | dict):
        import json

        text = json.dumps(value)
        return text if len(text) <= 200 else text[:199] + "…"
    return str(value)
