"""The Airflow plugin of airflow_mlw, registered through the provider's ``plugins`` entry."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin


class MlwPlugin(AirflowPlugin):
    """Registers airflow_mlw with Airflow; the workspace UI and REST routes hang off it."""

    name = "mlw"
