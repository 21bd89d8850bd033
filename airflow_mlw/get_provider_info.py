"""Provider entry point (``apache_airflow_provider``): what Airflow's ProvidersManager shows."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    from airflow_mlw import __version__
    from airflow_mlw.config import DEFAULT_BASE_IMAGE, DEFAULT_DATASTORE_NAME, OPTIONS

    defaults = {
        "workspace_name": "default",
        "default_datastore": DEFAULT_DATASTORE_NAME,
        "default_base_image": DEFAULT_BASE_IMAGE,
        "conda_packages_via": "auto",
    }
    return {
        "package-name": "airflow-mlw",
        "name": "ML Workspace (airflow_mlw)",
        "description": "Azure Machine Learning (SDK v1) workspaces: datastores, versioned datasets, "
        "environments, compute targets and pipelines with step reuse, on Airflow.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "mlw_local",
                "hook-class-name": "airflow_mlw.hooks.local.LocalDatastoreHook",
                "hook-name": "ML Workspace local folder",
            }
        ],
        "asset-uris": [
            {"schemes": ["mlw-dataset"], "handler": None},
        ],
        "config": {
            "mlw": {
                "description": "airflow_mlw workspace settings (registry, datastores, image builds).",
                "options": {
                    key: {
                        "description": description,
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": example,
                        "default": defaults.get(key),
                    }
                    for key, (description, example) in OPTIONS.items()
                },
            }
        },
        "plugins": [{"name": "mlw", "plugin-class": "airflow_mlw.plugins.MlwPlugin"}],
    }
