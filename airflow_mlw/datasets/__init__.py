"""Versioned, fingerprinted datasets (``Dataset.Tabular`` / ``Dataset.File``); classes load lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlw._lazy import lazy_exports

if TYPE_CHECKING:
    from airflow_mlw.workspace import Workspace

ASSET_SCHEME = "mlw-dataset"

__all__ = [
    "AbstractDataset",
    "Dataset",
    "DatasetDriftError",
    "FileDataset",
    "TabularDataset",
    "dataset_asset",
    "dataset_asset_uri",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AbstractDataset": "airflow_mlw.datasets.dataset",
        "Dataset": "airflow_mlw.datasets.dataset",
        "FileDataset": "airflow_mlw.datasets.dataset",
        "TabularDataset": "airflow_mlw.datasets.dataset",
        "DatasetDriftError": "airflow_mlw.exceptions",
    },
)


def dataset_asset_uri(name: str, workspace: Workspace | str | None = None) -> str:
    """``mlw-dataset://<workspace>/<name>``; the workspace defaults to the configured one.

    The name is checked by the rule of every registered name, and its spaces are %-quoted.
    """
    from urllib.parse import quote

    from airflow_mlw.exceptions import DatasetError
    from airflow_mlw.naming import registered_name_problem

    problem = registered_name_problem(name, "dataset")
    if problem:
        raise DatasetError(problem)
    if workspace is None:
        from airflow_mlw.config import load_settings

        workspace_name = load_settings().workspace_name
    else:
        workspace_name = workspace if isinstance(workspace, str) else workspace.name
    return f"{ASSET_SCHEME}://{quote(workspace_name)}/{quote(name)}"


def dataset_asset(name: str, workspace: Workspace | str | None = None) -> Any:
    """The Airflow Asset that gets an event for every new version of dataset ``name``.

    ``schedule=[dataset_asset('csv_table')]`` runs a DAG whenever a new version lands.
    """
    from airflow.sdk import Asset

    return Asset(uri=dataset_asset_uri(name, workspace), name=f"mlw-dataset-{name}")
