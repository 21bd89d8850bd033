"""Azure-style façade (``azureml.core`` -> ``airflow_mlw.core``); re-exports only, lazily (submodules too: ``airflow_mlw.core.runconfig``)."""

from __future__ import annotations

from airflow_mlw import __version__ as VERSION
from airflow_mlw._lazy import lazy_exports

__all__ = [
    "VERSION",
    "ComputeTarget",
    "Datastore",
    "Dataset",
    "Environment",
    "Experiment",
    "Model",
    "Run",
    "RunConfiguration",
    "ScriptRun",
    "ScriptRunConfig",
    "Webservice",
    "Workspace",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Workspace": "airflow_mlw.workspace",
        "Datastore": "airflow_mlw.datastores",
        "Dataset": "airflow_mlw.datasets",
        "Environment": "airflow_mlw.environments.spec",
        "Experiment": "airflow_mlw.runs",
        "ScriptRunConfig": "airflow_mlw.runs",
        "ComputeTarget": "airflow_mlw.compute",
        "Run": "airflow_mlw.run",
        "RunConfiguration": "airflow_mlw.compute.runconfig",
        "ScriptRun": "airflow_mlw.runs.submitted:SubmittedRun",
        "Model": "airflow_mlw.models.model",
        "Webservice": "airflow_mlw.models.webservice",
    },
    submodules=True,
)
