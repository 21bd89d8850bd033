"""Reuse decided ahead: at the start of a pipeline DAG run, which steps are hits, for whole chains.

The planner keys every step it can with the same document a step computes when it runs
(:meth:`MlwScriptOperator.reuse_document`): registered inputs, datastore paths and parameters are
bound to the run, and an upstream output is known when its producer is a hit itself (the hit's
committed record), so a chain of hits is decided at once. A step is left to decide when it runs
(today's in-task path) when reuse is off for it (``allow_reuse=False``, ``regenerate_outputs``), an
input comes from a step that really runs, its key cannot be computed (a drifted pinned version: the
task raises the run's ``DatasetDriftError`` itself), or no finished run has its key (single flight
is then the task's business).

For each hit the step's registry row is written as a step would write it (handed over, with its
origin), and the step's result — exactly what the task would return — is given back. The planning
task pushes all of them in its own XCom (``results``, one request for the whole run: a request to
Airflow's API costs about as much as planning a step); ``inputs.step_result`` is how a consumer reads
a step's result, whether the step ran or was reused ahead.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from airflow_mlw.execution import records, reuse
from airflow_mlw.execution.inputs import PLANNER_TASK_ID, UpstreamOutput, step_result

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlw.workspace import Workspace

log = logging.getLogger(__name__)
__all__ = ["PLANNER_TASK_ID", "plan_hits", "step_result"]


def plan_hits(
    ws: Workspace, context: Context, steps: list[Any], regenerate: bool
) -> dict[str, dict[str, Any]]:
    """task id -> the handed-over result of each step that is a reuse hit in this DAG run.

    :param steps: the run's script-step operators (``task_id``, ``inputs``, ``allow_reuse``,
        ``reuse_document``), producers before consumers or in any order
    :param regenerate: the run's ``regenerate_outputs``: nothing is a hit
    """
    if regenerate:
        return {}
    by_id = {step.task_id: step for step in steps}
    found: dict[str, tuple[Any, str, dict[str, Any]]] = {}  # task id -> (hit, key, document)
    settled: set[str] = set()
    datastores: dict[Any, Any] = {}  # looked up once for the whole run

    def decide(task_id: str) -> None:
        if task_id in settled:
            return
        settled.add(task_id)
        step = by_id[task_id]
        if not step.allow_reuse:
            return
        bound = []
        for item in step.inputs:
            if isinstance(item, UpstreamOutput):
                if item.producer_task in by_id:
                    decide(item.producer_task)
                producer = found.get(item.producer_task)
                produced = (producer[0].outputs or {}).get(item.output) if producer else None
                if produced is None:
                    return  # produced by a step that runs (or not a script step): decided in-task
                bound.append(item.replace(record=produced))
            else:
                bound.append(item.bind(context))
        try:
            document = step.reuse_document(ws, bound, datastores)
        except Exception as error:  # the task meets the same error and records it
            log.info("%s is decided when it runs: %s", step.step_name, str(error).splitlines()[0])
            return
        key = reuse.reuse_key(document)
        hit = reuse.find_hit(ws, key, datastores)
        if hit is not None:
            found[task_id] = (hit, key, document)

    for task_id in by_id:
        decide(task_id)
    return _record_hits(ws, context, by_id, found)


def _record_hits(
    ws: Workspace, context: Context, by_id: dict[str, Any], found: dict[str, tuple[Any, str, dict[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """Each hit's row written as its task would (handed over, marked planned), all in one
    transaction; the results the tasks would have returned."""
    if not found:
        return {}
    ti = context["ti"]
    parent = records.pipeline_run_id(ws, ti.dag_id, ti.run_id)
    new, ids = [], {}
    for task_id, (hit, key, document) in found.items():
        step = by_id[task_id]
        fields = records.handover_fields(hit)
        fields["properties"] = {**fields["properties"], "planned": True}
        if step.run_id is not None:  # made at submission
            records.update_run(ws, step.run_id, reuse_key=key, key_document=document, **fields)
            ids[task_id] = step.run_id
            continue
        own = SimpleNamespace(dag_id=ti.dag_id, run_id=ti.run_id, task_id=task_id)
        new.append(
            (task_id, step.new_run_fields(own, parent, reuse_key=key, key_document=document, **fields))
        )
    ids.update(zip([t for t, _ in new], records.create_runs(ws, [f for _, f in new]), strict=True))
    return {
        task_id: by_id[task_id]._handed_over(ids[task_id], hit, key)
        for task_id, (hit, key, _) in found.items()
    }
