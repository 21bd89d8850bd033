"""Extra links from a step's task to its pages in the "ML Workspace" UI, given by the plugin.

The api-server computes them (the plugin's ``operator_extra_links``), so the operators declare none:
a worker pushes no link XComs when a task ends (three requests to Airflow's API per task), DAG
files import no link classes, and a step the planning task reused — it never runs on a worker —
has its links too. A link is shown when the registry has a run of the task instance: a reused step
has one, a genuinely skipped step has none, so the UI tells them apart. The links name the task
instance, not a registry run: ``/mlw/ui/task-run`` finds the run. They open Airflow's UI at the
plugin's nav entry (``/plugin/<route>/<page>``), which shows the page in its frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperatorLink

from airflow_mlw.urls import task_run_url

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

#: Operators with a registry run per task instance, besides the script operator of each compute
#: kind (``operators.script.SCRIPT_OPERATORS``). Airflow gives a plugin's link to an operator whose
#: class name and module match exactly, so subclasses are named too.
OTHER_LINKED_OPERATORS = (
    "airflow_mlw.operators.hyperdrive.HyperDriveStepOperator",
    "airflow_mlw.operators.parallel.ParallelLocalOperator",
    "airflow_mlw.operators.docker.ParallelDockerOperator",
)


class _TaskRunLink(BaseOperatorLink):
    """The task instance's run page (at ``anchor``), when the registry holds a run of it."""

    anchor: ClassVar[str] = ""

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        try:
            if not _has_run(ti_key):
                return ""  # never ran and was not reused (skipped, upstream failed): no page to open
        except Exception:  # a registry the api-server cannot read: the page will say why
            pass
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


#: Task instances known to have a run (a recorded run stays): a task's three links read the registry
#: once. Oldest first, at most ``_KNOWN_RUNS_KEPT``.
_KNOWN_RUNS: dict[tuple[str, ...], None] = {}
_KNOWN_RUNS_KEPT = 10_000


def _has_run(ti_key: TaskInstanceKey) -> bool:
    from sqlalchemy import select

    from airflow_mlw.registry.rows import RunRow
    from airflow_mlw.workspace import Workspace

    ws = Workspace.from_config()
    known = (ws.settings.registry_url, ws.name, ti_key.dag_id, ti_key.run_id, ti_key.task_id)
    if known in _KNOWN_RUNS:
        return True
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
    if found is None:
        return False  # not cached: the step may still run
    _KNOWN_RUNS[known] = None
    if len(_KNOWN_RUNS) > _KNOWN_RUNS_KEPT:
        del _KNOWN_RUNS[next(iter(_KNOWN_RUNS))]
    return True


def _named_class(path: str) -> type:
    """A stand-in with the name and module of the operator class at ``path``: Airflow matches a
    plugin's link to operators by those two, and the plugin is loaded by every Airflow process (task
    processes too), which must not import Docker's or Kubernetes' SDK for it."""
    module, _, name = path.rpartition(".")
    return type(name, (), {"__module__": module})


def linked_operator_paths() -> list[str]:
    """``package.module.Class`` of every operator the links are given to."""
    from airflow_mlw.operators.script import SCRIPT_OPERATORS

    return sorted({entry["class"] for entry in SCRIPT_OPERATORS.values()} | set(OTHER_LINKED_OPERATORS))


def api_server_links() -> list[Any]:
    """The links as the plugin gives them (``AirflowPlugin.operator_extra_links``)."""
    operators = [_named_class(path) for path in linked_operator_paths()]
    links = []
    for link in (MlwRunLink, MlwOutputsLink, MlwDatasetsLink):
        linked = type(link.__name__, (link,), {"operators": operators, "__module__": __name__})
        links.append(linked())
    return links
