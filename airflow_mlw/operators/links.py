"""Extra links from a script step's task to its pages in the "ML Workspace" UI.

Airflow 3 computes a task's links once, in the worker when the task ends, and keeps them in XCom.
The links name the task instance, not a registry run: ``/mlw/ui/task-run`` finds the run, so building
a link reads nothing (no registry, no XCom) and works for failed and reused steps alike. They open
Airflow's UI at the plugin's nav entry (``/plugin/<route>/<page>``), which shows the page in its frame.

A step the planning task reused never runs, so no worker pushes its links; and pushing them for it
costs a request to Airflow's API per step. So the plugin also gives the script operators the same
links computed by the api-server (:func:`api_server_links`; a plugin's link wins over the XCom one):
shown when the registry has a run of the task instance — a reused step has one, a genuinely skipped
step has none, so the UI tells them apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

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
    "api_server_links",
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


class _RegistryRunLink(_TaskRunLink):
    """A link the api-server computes: the page, when the registry holds a run of the task instance."""

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        try:
            if not _has_run(ti_key):
                return ""  # never ran and was not reused (skipped, upstream failed): no page to open
        except Exception:  # a registry the api-server cannot read: the page will say why
            pass
        return super().get_link(operator, ti_key=ti_key)


def _has_run(ti_key: TaskInstanceKey) -> bool:
    from sqlalchemy import select

    from airflow_mlw.registry.rows import RunRow
    from airflow_mlw.workspace import Workspace

    ws = Workspace.from_config()
    with ws.store.session() as session:
        found = session.scalar(
            select(RunRow.id)
            .where(
                RunRow.workspace_id == ws._workspace_id(),
                RunRow.dag_id == ti_key.dag_id,
                RunRow.dag_run_id == ti_key.run_id,
                RunRow.task_id == ti_key.task_id,
            )
            .limit(1)
        )
    return found is not None


def _named_class(path: str) -> type:
    """A stand-in with the name and module of the operator class at ``path``: Airflow matches a
    plugin's link to operators by those two, and the plugin is loaded by every Airflow process (task
    processes too), which must not import Docker's or Kubernetes' SDK for it."""
    module, _, name = path.rpartition(".")
    return type(name, (), {"__module__": module})


def api_server_links() -> list[Any]:
    """The script operators' links as the plugin gives them (``AirflowPlugin.operator_extra_links``)."""
    from airflow_mlw.operators.script import SCRIPT_OPERATORS

    paths = sorted({entry["class"] for entry in SCRIPT_OPERATORS.values()})
    operators = [
        _named_class(path) for path in [*paths, "airflow_mlw.operators.hyperdrive.HyperDriveStepOperator"]
    ]
    links = []
    for link in (MlwRunLink, MlwOutputsLink, MlwDatasetsLink):
        computed = type(
            f"{link.__name__}FromRegistry", (_RegistryRunLink,), {"name": link.name, "anchor": link.anchor}
        )
        computed.operators = operators  # type: ignore[attr-defined]
        computed.__module__ = __name__
        links.append(computed())
    return links
