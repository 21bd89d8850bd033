"""The Airflow plugin of airflow_mlw, registered through the provider's ``plugins`` entry."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_mlw.plugins.api import create_app


class MlwPlugin(AirflowPlugin):
    """Mounts the ML Workspace REST app on the api-server under ``/mlw``."""

    name = "mlw"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/mlw", "name": "ML Workspace"}]
