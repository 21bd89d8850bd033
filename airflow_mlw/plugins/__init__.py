"""The Airflow plugin of airflow_mlw, registered through the provider's ``plugins`` entry."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from fastapi import FastAPI

from airflow_mlw.operators.links import api_server_links
from airflow_mlw.plugins.api import create_app
from airflow_mlw.plugins.ui import router as ui_router
from airflow_mlw.urls import NAV_ROUTE, URL_PREFIX, ui_path


def create_plugin_app() -> FastAPI:
    """The REST routes (``/mlw/api``) and the "ML Workspace" pages (``/mlw/ui``) in one app."""
    app = create_app()
    app.include_router(ui_router)
    return app


class MlwPlugin(AirflowPlugin):
    """Mounts the ML Workspace app on the api-server under ``/mlw`` and its pages in Airflow's nav."""

    name = "mlw"
    fastapi_apps = [{"app": create_plugin_app(), "url_prefix": URL_PREFIX, "name": "ML Workspace"}]
    external_views = [
        {"name": "ML Workspace", "href": ui_path(), "destination": "nav", "url_route": NAV_ROUTE}
    ]
    # The script steps' links, computed by the api-server: a step the planner reused pushed none.
    operator_extra_links = api_server_links()
