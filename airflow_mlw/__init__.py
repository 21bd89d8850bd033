"""airflow_mlw: Azure Machine Learning (SDK v1) workspaces as an Apache Airflow 3 provider.

Short-style imports (``from airflow_mlw import Workspace``) resolve lazily, so importing the
package loads no Airflow, SQLAlchemy, pandas or Docker code. Every public subpackage is an
attribute too, imported on first access (``import airflow_mlw; airflow_mlw.pipeline.core.PipelineData``).

The package is built in floors, bottom to top (``tests/test_layering.py`` keeps the table):
L0 ``exceptions``, ``config``, ``naming``, ``run``, ``runtime``, ``urls``, ``hooks``, ``api_client``;
L1 ``registry``; L2 ``workspace``; L3 ``datastores``, ``environments``, ``compute``; L4 ``datasets``,
``triggers``; L5 ``pipelines`` (definitions), ``models``; L6 ``execution`` (one step on a worker);
L7 ``operators``, ``dag_builder``; L8 ``runs``, ``dags``; L9 ``plugins``, ``cli`` and the façades
``core``, ``pipeline``, ``data``, ``train`` (re-exports only).

A module-level import may only point down. An upward import is allowed only deferred (inside the
function), and only for the Azure convenience methods that must live on lower objects
(``Workspace.datastores/compute_targets/environments/experiments``, ``Pipeline.submit/to_dag/
as_task_group``, ``PublishedPipeline.submit``, ``Model.run``); heavy or optional third-party
packages are imported where used.
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
    submodules=True,
)
