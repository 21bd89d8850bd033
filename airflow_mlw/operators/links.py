"""Extra links from a script step's task to its pages in the "ML Workspace" UI.

Airflow 3 computes a task's links once, in the worker when the task ends, and keeps them in XCom.
The links name the task instance, not a registry run: ``/mlw/ui/task-run`` finds the run, so building
a link reads nothing (no registry, no XCom) and works for failed and reused steps alike. They open
Airflow's UI at the plugin's nav entry (``/plugin/<route>/<page>``), which shows the page in its frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from airflow.sdk import BaseOperatorLink

from airflow_mlw.urls import NAV_ROUTE, URL_PREFIX, api_base_url, task_run_url, ui_path

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

#: The links, and the paths they are built from (re-exported; airflow_mlw.urls decides them).
__all__ = [
    "NAV_ROUTE",
    "URL_PREFIX",
    "MlwDatasetsLink",
    "MlwOutputsLink",
    "MlwRunLink",
    "api_base_url",
    "task_run_url",
    "ui_path",
]


class _TaskRunLink(BaseOperatorLink):
    anchor: ClassVar[str] = ""

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return task_run_url(ti_key, self.anchor)


class MlwRunLink(_TaskRunLink):
    """The step's run: status, reuse origin and time saved, metrics."""

    name = "ML run"


class MlwOutputsLink(_TaskRunLink):
    """The step's committed outputs: datastore paths, fingerprints, file counts."""

    name = "ML outputs"
    anchor = "outputs"


class MlwDatasetsLink(_TaskRunLink):
    """The dataset versions the step read and registered, linked to their lineage."""

    name = "ML dataset versions"
    anchor = "datasets"
