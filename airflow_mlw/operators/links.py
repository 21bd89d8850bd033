"""Extra links from a script step's task to its pages in the "ML Workspace" UI.

Airflow 3 computes a task's links once, in the worker when the task ends, and keeps them in XCom.
The links name the task instance, not a registry run: ``/mlw/ui/task-run`` finds the run, so building
a link reads nothing (no registry, no XCom) and works for failed and reused steps alike. They open
Airflow's UI at the plugin's nav entry (``/plugin/<route>/<page>``), which shows the page in its frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlencode, urlsplit

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey


#: Where the plugin's app is mounted on the api-server, and its nav entry's route in Airflow's UI.
URL_PREFIX = "/mlw"
NAV_ROUTE = "mlw"


def api_base_url() -> str:
    """The api-server's ``[api] base_url`` without a trailing slash (empty when unset)."""
    from airflow.configuration import conf

    return (conf.get("api", "base_url", fallback="") or "").rstrip("/")


def ui_path(page: str = "") -> str:
    """Path of an ML Workspace page on the api-server, below the path of ``[api] base_url``."""
    return f"{urlsplit(api_base_url()).path}{URL_PREFIX}/ui/{page}"


def task_run_url(ti_key: TaskInstanceKey, anchor: str = "") -> str:
    """The ML Workspace page of the run a task instance made, inside Airflow's UI."""
    query = urlencode({"dag_id": ti_key.dag_id, "dag_run_id": ti_key.run_id, "task_id": ti_key.task_id})
    page = ui_path(f"task-run?{query}")
    return f"{api_base_url()}/plugin/{NAV_ROUTE}{page}" + (f"#{anchor}" if anchor else "")


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
