"""A DAG file published before the execution layer (issue 14) still loads, into the same DAG.

``data/published_before_issue14.json`` holds the pickled pipeline a generated DAG file of commit
7c9a2e8 carried (two steps: tabular and file datasets, a PipelineData edge, a pipeline parameter,
a data-path parameter, an OutputFileDatasetConfig registered on completion, a Docker environment)
and the DAG that code built from it. Today's code must unpickle it (classes moved, shims left) and
build the same tasks, order, arguments, inputs and outputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airflow_mlw.execution.inputs import DataPathParameter, DatasetInput, UpstreamOutput
from airflow_mlw.pipelines.publish import load_published_dag
from tests.airflow_harness import PLANNER

FIXTURE = Path(__file__).parent / "data" / "published_before_issue14.json"


def as_before(item: Any) -> dict[str, Any]:
    """A typed input in the dict shape the operators took before."""
    spec = item.to_spec()
    spec.pop("record", None)
    if spec.get("validate") is True:  # the default of a field added since (drift-checked reads)
        spec.pop("validate")
    if isinstance(item, DatasetInput):
        spec["kind"] = spec.pop("dataset_kind")
    return {key: value for key, value in spec.items() if value is not None}


def test_a_pipeline_pickled_before_issue_14_builds_the_same_dag() -> None:
    before = json.loads(FIXTURE.read_text())
    dag = load_published_dag("mlw_published_before", before["payload"])

    assert sorted(dag.params.keys()) == before["params"]
    steps = [task for task in dag.tasks if task.task_id != PLANNER]  # the planning task is newer
    assert {task.task_id for task in steps} == set(before["dag"])
    for task in steps:
        old = before["dag"][task.task_id]
        assert type(task).__name__ == old["class"]
        assert sorted(set(task.upstream_task_ids) - {PLANNER}) == old["upstream"]
        assert (task.script, list(task.arguments), task.step_params) == (
            old["script"],
            old["arguments"],
            old["params"],
        )
        assert (task.environment_name, task.compute_target) == (old["environment"], old["compute_target"])
        assert task.outputs == old["outputs"]
        assert [as_before(item) for item in task.inputs] == old["inputs"]

    kinds = {type(item) for task in steps for item in task.inputs}
    assert kinds == {DatasetInput, UpstreamOutput, DataPathParameter}
