"""The plugin's REST app, mounted on Airflow's api-server under ``/mlw``; every route needs an
authenticated Airflow user (the api-server's own JWT, as for ``/api/v2``)."""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, FastAPI


def create_app() -> FastAPI:
    app = FastAPI(title="airflow_mlw", description="ML Workspace API", dependencies=[Depends(get_user)])

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        """The configured workspace and its registry's schema revision."""
        from airflow_mlw.workspace import Workspace

        ws = Workspace.from_config()
        return {"workspace": ws.name, "registry": ws.registry_url, "revision": ws.store.upgrade()}

    @app.get("/api/datasets")
    def datasets() -> list[dict[str, Any]]:
        """Latest version of every registered dataset."""
        from airflow_mlw.datasets import Dataset
        from airflow_mlw.workspace import Workspace

        return [
            {"name": ds.name, "version": ds.version, "fingerprint": ds.fingerprint, "id": ds.id}
            for ds in Dataset.get_all(Workspace.from_config()).values()
        ]

    from airflow_mlw.plugins.pipelines_api import create_router

    app.include_router(create_router())
    return app
