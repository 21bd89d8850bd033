"""The "ML Workspace" pages of the Airflow UI: server-rendered HTML under ``/mlw/ui``.

Airflow's React UI shows them in an iframe (the plugin's ``external_views`` entry). Like every
``/mlw`` route they need an Airflow user; inside the UI the ``_token`` cookie proves it. The routes
live in ``pages``, the registry reads in ``queries``, the markup in ``templates/`` (Jinja2, loaded
on the first page served, so importing the plugin reads no file); ``assets`` serves ``static/``
(the charts' script and the vendored Vega libraries) and ``chart_data`` the charts' JSON, behind
the same auth.
"""

from __future__ import annotations

from airflow.api_fastapi.core_api.security import get_user
from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from airflow_mlw.plugins.ui import assets, chart_data, pages
from airflow_mlw.urls import UI_PREFIX

router = APIRouter(
    prefix=UI_PREFIX,
    dependencies=[Depends(get_user)],
    default_response_class=HTMLResponse,
    include_in_schema=False,  # pages, not part of the REST API
)
router.include_router(pages.router)
router.include_router(assets.router)
router.include_router(chart_data.router)

__all__ = ["router"]
