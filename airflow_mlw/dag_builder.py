"""Turns a ``Pipeline`` graph into Airflow tasks: one script operator per step, no I/O.

Pipeline parameters become DAG ``Param``s (the trigger form shows them with their types, ``conf``
sets them, Airflow validates them); ``regenerate_outputs`` is a boolean Param of every pipeline DAG.
"""

from __future__ import annotations

import functools
import os
import re
from typing import TYPE_CHECKING, Any

from airflow_mlw._lazy import loaded_class
from airflow_mlw.exceptions import MlwError

if TYPE_CHECKING:
    from airflow_mlw.pipelines.graph import Pipeline
    from airflow_mlw.pipelines.steps import PipelineStep

TASK_ID_RE = re.compile(r"[^A-Za-z0-9_.-]+")


def task_id_for(step: PipelineStep) -> str:
    return TASK_ID_RE.sub("_", step.name)


def _input_specs(step: PipelineStep) -> list[dict[str, Any]]:
    from airflow_mlw.pipelines.data import DataPathInput, PipelineData

    # Only a loaded module's classes can have instances: unneeded modules stay unimported at parse.
    DatasetConsumptionConfig = loaded_class("airflow_mlw.datasets.consumption", "DatasetConsumptionConfig")
    DataReference = loaded_class("airflow_mlw.datastores.reference", "DataReference")

    specs: list[dict[str, Any]] = []
    for item in step.inputs + [
        a for a in step.arguments if isinstance(a, PipelineData) and a.origin._producer is not step
    ]:
        spec: dict[str, Any]
        if isinstance(item, PipelineData):
            spec = {
                "name": item.input_name,
                "type": "pipeline_data",
                "producer_task": task_id_for(item.origin._producer),
                "output": item.origin.name,
                "mode": item.mode,
            }
        elif isinstance(item, DatasetConsumptionConfig):
            dataset = item.dataset
            spec = {"name": item.name, "type": "dataset", "mode": item.mode, "kind": dataset.kind}
            if dataset.name:
                spec.update(dataset_name=dataset.name, version=dataset.version)
            else:
                spec["definition"] = dataset.definition
        elif isinstance(item, DataPathInput):
            spec = {
                "name": item.name,
                "type": "datapath_param",
                "param": item.parameter.name,
                "mode": item.binding.mode,
            }
        elif isinstance(item, DataReference):
            spec = {
                "name": item.data_reference_name or item.datastore._requested_name or "data",
                "type": "datastore_path",
                "datastore": item.datastore._requested_name,
                "path": item.path_on_datastore,
                "mode": item.mode,
            }
        else:
            raise MlwError(f"step {step.name!r}: unsupported input {item!r}")
        if spec not in specs and spec["name"] not in {s["name"] for s in specs}:
            specs.append(spec)
    return specs


def _output_specs(step: PipelineStep, pipeline: Pipeline) -> list[dict[str, Any]]:
    from airflow_mlw.pipelines.data import PipelineData, datastore_name

    specs = []
    for output in step.outputs:
        if not isinstance(output, PipelineData):
            raise MlwError(f"step {step.name!r}: unsupported output {output!r}")
        spec = output.output_spec()
        if spec["datastore"] is None:
            spec["datastore"] = datastore_name(pipeline.default_datastore)
        specs.append(spec)
    return specs


def step_operator(step: PipelineStep, pipeline: Pipeline, experiment_name: str | None = None) -> Any:
    """The operator of one step (inside an open DAG or TaskGroup context)."""
    from airflow_mlw.environments.spec import Environment
    from airflow_mlw.operators.script import script_operator_class

    script, arguments = step.command()
    source = step.source_directory or pipeline.default_source_directory
    if source is None:
        raise MlwError(
            f"step {step.name!r} has no source_directory and the pipeline no default_source_directory"
        )
    environment = step.environment or Environment("default")
    target = step.compute_target
    if isinstance(target, loaded_class("airflow_mlw.compute", "ComputeTarget")):
        kind, config, target_name = target.kind, target.config, target.name
    else:
        target_name = target or "local"
        kind, config = (
            ("local", {})
            if target_name == "local"
            else ("docker" if environment.docker.enabled else "local", {})
        )
    operator_class = script_operator_class(kind, environment)
    kwargs: dict[str, Any] = {
        "task_id": task_id_for(step),
        "source_directory": os.path.abspath(source),
        "script": script,
        "arguments": arguments,
        "environment_name": environment.name,
        "environment_spec": environment.spec(),
        "compute_target": target_name,
        "inputs": _input_specs(step),
        "outputs": _output_specs(step, pipeline),
        "step_params": {k: str(v) for k, v in step.params.items()},
        "step_name": step.name,
        "allow_reuse": step.allow_reuse,
        "step_version": step.version,
        "experiment_name": experiment_name,
        "workspace": pipeline.workspace,
    }
    if operator_class.in_container:
        kwargs["compute_options"] = config
    if kind == "cluster":
        kwargs["queue"] = config.get("queue") or target_name
        kwargs["pool"] = f"mlw-{target_name}"
    return operator_class(**kwargs)


def _wire(pipeline: Pipeline, experiment_name: str | None) -> dict[int, Any]:
    pipeline.validate()
    tasks = {id(step): step_operator(step, pipeline, experiment_name) for step in pipeline.steps}
    # Inside a TaskGroup task ids get the group's prefix: point inputs at the producers' real ids.
    by_plain_id = {task_id_for(step): tasks[id(step)].task_id for step in pipeline.steps}
    for task in tasks.values():
        for spec in task.inputs:
            if spec["type"] == "pipeline_data":
                spec["producer_task"] = by_plain_id[spec["producer_task"]]
    for before, after in pipeline.edges():
        tasks[id(before)] >> tasks[id(after)]
    return tasks


def dag_params(pipeline: Pipeline) -> dict[str, Any]:
    from airflow.sdk import Param

    params: dict[str, Any] = {
        name: Param(
            parameter.param_default, type=parameter.json_type, description=f"pipeline parameter {name}"
        )
        for name, parameter in pipeline.parameters().items()
    }
    params["regenerate_outputs"] = Param(False, type="boolean", description="run every step, reusing nothing")
    return params


def mark_pipeline_run(workspace: Any, status: str, context: Any) -> None:
    """DAG callback: the pipeline run's final status, for runs no ``submit`` waits for in-process."""
    from airflow_mlw.operators.script import pipeline_run_id
    from airflow_mlw.registry.models import RunRow

    dag_run = context["dag_run"]
    run_id = pipeline_run_id(workspace, dag_run.dag_id, dag_run.run_id)
    with workspace.store.session(write=True) as session:
        row = session.get(RunRow, run_id)
        if row is not None:
            row.status = status


def _checked_schedule(pipeline: Pipeline, schedule: Any) -> Any:
    """What Airflow gets for ``schedule``; a datastore schedule must name a pipeline parameter."""
    from airflow_mlw.pipelines.graph import PipelineValidationError
    from airflow_mlw.pipelines.schedule import Schedule, airflow_schedule

    for item in schedule if isinstance(schedule, list | tuple) else [schedule]:
        wanted = getattr(item, "data_path_parameter_name", None) if isinstance(item, Schedule) else None
        if wanted and wanted not in pipeline.parameters():
            raise PipelineValidationError(
                f"schedule data_path_parameter_name {wanted!r} is not a parameter of the pipeline "
                f"(it has {sorted(pipeline.parameters())})"
            )
    return airflow_schedule(schedule)


def pipeline_dag(
    pipeline: Pipeline,
    dag_id: str,
    schedule: Any = None,
    experiment_name: str | None = None,
    **dag_kwargs: Any,
) -> Any:
    from airflow.sdk import DAG

    if schedule is not None:
        schedule = _checked_schedule(pipeline, schedule)

    dag_kwargs.setdefault("tags", ["mlw", "pipeline"])
    dag_kwargs.setdefault(
        "on_success_callback", functools.partial(mark_pipeline_run, pipeline.workspace, "Finished")
    )
    dag_kwargs.setdefault(
        "on_failure_callback", functools.partial(mark_pipeline_run, pipeline.workspace, "Failed")
    )
    if pipeline.description and "description" not in dag_kwargs:
        dag_kwargs["description"] = pipeline.description
    with DAG(
        dag_id,
        schedule=schedule,
        params={**dag_params(pipeline), **dag_kwargs.pop("params", {})},
        **dag_kwargs,
    ) as dag:
        _wire(pipeline, experiment_name)
    return dag


def pipeline_task_group(pipeline: Pipeline, group_id: str) -> Any:
    from airflow.sdk import TaskGroup

    with TaskGroup(group_id) as group:
        _wire(pipeline, None)
    return group
