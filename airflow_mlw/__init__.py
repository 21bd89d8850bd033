"""airflow_mlw: Azure Machine Learning (SDK v1) workspaces as an Apache Airflow 3 provider.

Short-style imports (``from airflow_mlw import Workspace``) resolve lazily, so importing the
package loads no Airflow, SQLAlchemy, pandas or Docker code.
"""

from __future__ import annotations

from airflow_mlw._lazy import lazy_exports

__version__ = "0.1.0"

__all__ = ["Workspace", "Datastore", "Dataset", "Pipeline", "PythonScriptStep", "MlwError", "__version__"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Workspace": "airflow_mlw.workspace",
        "Datastore": "airflow_mlw.datastores",
        "Dataset": "airflow_mlw.datasets",
        "Pipeline": "airflow_mlw.pipelines",
        "PythonScriptStep": "airflow_mlw.pipelines",
        "MlwError": "airflow_mlw.exceptions",
    },
)
