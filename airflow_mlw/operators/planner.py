"""The first task of a pipeline DAG run: decide the reuse hits ahead, so hit steps never launch.

Hits (``execution.planning``) reach a terminal state without a worker slot: the planner pushes, in
its own XCom, the result each would have pushed (``results``: their outputs, which consumers read
through ``execution.inputs.step_result`` as from a step that ran), then skips them through Airflow's
own skip of downstream tasks. Their "ML run" links are computed by the api-server
(``operators.links``): shown because the registry has their runs (the run page says *reused*, with
its origin), which tells a reused step from a genuinely skipped one in Airflow's UI. Each XCom is a
request to Airflow's API (~25 ms on a SQLite metadata DB, a commit each), so the whole plan travels
in one. Consumers of skipped steps have trigger rule ``none_failed`` (set by the DAG builder), so
they still run. Whatever goes wrong while planning is logged and leaves every step to decide when it runs;
a planner task that dies outright does the same (root steps have trigger rule ``all_done``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlw.execution.inputs import PLANNER_TASK_ID
from airflow_mlw.operators.lean import LeanOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlw.workspace import Workspace

__all__ = ["PLANNER_TASK_ID", "PipelinePlanOperator", "plannable"]


def plannable(task: Any) -> bool:
    """A step the planner may decide: a script step of one task (a ParallelRunStep's tasks decide
    their reuse themselves)."""
    from airflow_mlw.operators.script import MlwScriptOperator

    return (
        isinstance(task, MlwScriptOperator)
        and bool(task.step_name)
        and not getattr(task, "parallel_role", None)
    )


class PipelinePlanOperator(LeanOperator):
    """Decide which steps of this pipeline DAG run are reuse hits, hand their outputs over, skip them.

    :param workspace: the pipeline's workspace (default: ``Workspace.from_config()`` at run time)
    """

    #: In-process runs announce the pipeline run on this task (``runs.inprocess``).
    plans_pipeline = True
    ui_color = "#e8f4ea"

    def __init__(self, *, workspace: Workspace | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("task_id", PLANNER_TASK_ID)
        super().__init__(**kwargs)
        self.workspace = workspace

    def script_steps(self) -> list[Any]:
        return [task for task in self.dag.tasks if plannable(task)]

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import DownstreamTasksSkipped

        from airflow_mlw.execution.planning import plan_hits
        from airflow_mlw.operators.datastore import workspace_or_configured
        from airflow_mlw.operators.script import MlwScriptOperator

        steps = self.script_steps()
        try:
            ws = workspace_or_configured(self.workspace)
            hits = plan_hits(ws, context, steps, MlwScriptOperator._regenerate(context))
        except Exception:
            self.log.exception("planning failed: every step decides about reuse when it runs")
            return {"reused": [], "planned": False}
        summary: dict[str, Any] = {"reused": sorted(hits), "planned": True}
        self.log.info("%d of %d steps reused without running: %s", len(hits), len(steps), sorted(hits))
        if not hits:
            return summary
        context["ti"].xcom_push(key="return_value", value={**summary, "results": hits})
        raise DownstreamTasksSkipped(tasks=sorted(hits))
