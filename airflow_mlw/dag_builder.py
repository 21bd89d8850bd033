"""Turns a ``Pipeline`` graph into Airflow tasks: one script operator per step, no I/O.

Pipeline parameters become DAG ``Param``s (the trigger form shows them with their types, ``conf``
sets them, Airflow validates them); ``regenerate_outputs`` is a boolean Param of every pipeline DAG.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from airflow_mlw._lazy import loaded_class
from airflow_mlw.exceptions import MlwError
from airflow_mlw.execution.inputs import (
    StepInput,
    input_name,
    inputs_of,
    is_input,
    typed_inputs,
)
from airflow_mlw.naming import safe_id

if TYPE_CHECKING:
    from airflow_mlw.pipelines.graph import Pipeline
    from airflow_mlw.pipelines.steps import PipelineStep


def task_id_for(step: PipelineStep) -> str:
    return safe_id(step.name, collapse=True)


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


def script_operator(
    *,
    task_id: str,
    source_directory: str,
    script: str,
    arguments: list[str],
    environment: Any,
    compute_kind: str,
    compute_config: dict[str, Any],
    compute_target: str,
    workspace: Any,
    partial: bool = False,
    **step: Any,
) -> Any:
    """The script operator of a compute kind, for a pipeline step or a submitted script run.

    :param partial: ``Operator.partial(...)`` instead, for a mapped task
    :param step: the rest of the operator's arguments (``inputs``, ``outputs``, ``step_name``,
        ``run_id``, ``experiment_name``...)
    """
    from airflow_mlw.operators.script import script_operator_class

    # A step with an operator of its own names it (HyperDriveStep); the rest go by compute kind.
    own_class = step.pop("operator_class", None)
    # A ParallelRunStep's tasks: the script operator of the kind, with their roles (``operator_path``).
    path = own_class or step.pop("operator_path", None)
    operator_class = loaded_class_path(path) if path else script_operator_class(compute_kind, environment)
    kwargs: dict[str, Any] = {
        "task_id": task_id,
        "source_directory": source_directory,
        "script": script,
        "arguments": arguments,
        "environment_name": environment.name if environment else "default",
        "environment_spec": environment.spec() if environment else None,
        "compute_target": compute_target,
        "workspace": workspace,
        **step,
    }
    if operator_class.in_container:
        kwargs["compute_options"] = compute_config
    if own_class:  # its trials run on the target (HyperDriveStep): it needs the target's kind
        kwargs.update(compute_kind=compute_kind, compute_config=compute_config)
    # A sweep's own task (HyperDriveStep) takes none of the nodes its trials run on.
    if compute_kind == "cluster" and not own_class:
        kwargs["queue"] = compute_config.get("queue") or compute_target
        kwargs["pool"] = f"mlw-{compute_target}"
    return operator_class.partial(**kwargs) if partial else operator_class(**kwargs)


def loaded_class_path(path: str) -> Any:
    """The class at ``package.module.Class``."""
    import importlib

    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def script_run_data(
    script: str, arguments: list[Any], inputs: list[Any]
) -> tuple[list[str], list[StepInput], list[dict[str, Any]]]:
    """A script run's data wired as a pipeline step's: (arguments as strings with inputs and outputs
    as path marks, typed inputs, output specs). Dataset consumptions, ``DataReference``s and
    ``(PipelineParameter(DataPath), DataPathComputeBinding)`` pairs are inputs; ``PipelineData`` /
    ``OutputFileDatasetConfig`` are outputs the script writes (committed and registered as in a step).
    """
    from airflow_mlw.pipelines.data import (
        INPUT_MARK,
        OUTPUT_MARK,
        DataPathInput,
        PipelineData,
        PipelineParameter,
    )

    rendered: list[str] = []
    readers = [DataPathInput.wrap(item) for item in inputs]
    outputs: list[dict[str, Any]] = []
    for argument in (DataPathInput.wrap(a) for a in arguments):
        if isinstance(argument, PipelineData):
            rendered.append(OUTPUT_MARK.format(argument.origin.name))
            if all(spec["name"] != argument.origin.name for spec in outputs):
                outputs.append(argument.output_spec())
        elif is_input(argument):
            rendered.append(INPUT_MARK.format(input_name(argument)))
            readers.append(argument)
        elif isinstance(argument, PipelineParameter | DataPathInput):
            raise MlwError(
                f"script {script!r}: PipelineParameter {argument.name!r} is for pipelines; pass its value"
            )
        else:
            rendered.append(str(argument))
    return rendered, typed_inputs(f"script {script!r}", readers), outputs


def step_operator(
    step: PipelineStep,
    pipeline: Pipeline,
    experiment_name: str | None = None,
    producer_id: Any = task_id_for,
) -> Any:
    """The operator of one step (inside an open DAG or TaskGroup context); a ParallelRunStep's
    three tasks (:func:`parallel_step_tasks`) give their last, the one consumers read.

    :param producer_id: step -> the task id its consumers pull from (with a TaskGroup's prefix)
    """
    from airflow_mlw.operators.script import kind_for

    script, arguments = step.command()
    source = step.source_directory or pipeline.default_source_directory
    if source is None:
        raise MlwError(
            f"step {step.name!r} has no source_directory and the pipeline no default_source_directory"
        )
    environment = step.environment  # None: the default environment (the operators' default spec)
    target = step.compute_target
    if isinstance(target, loaded_class("airflow_mlw.compute", "ComputeTarget")):
        kind, config, target_name = target.kind, target.config, target.name
    else:
        # A target named by string is resolved (and checked) when the step runs: no I/O at parse.
        target_name = target or "local"
        kind, config = ("local", {}) if target_name == "local" else (kind_for("local", environment), {})
    # A step with an operator of its own (HyperDriveStep) adds that operator's arguments.
    extra = step.operator_arguments() if hasattr(step, "operator_arguments") else {}
    arguments_of_step = {
        "source_directory": os.path.abspath(source),
        "script": script,
        "arguments": arguments,
        "environment": environment,
        "compute_kind": kind,
        "compute_config": config,
        "compute_target": target_name,
        "workspace": pipeline.workspace,
        "inputs": inputs_of(step, producer_id),
        "outputs": _output_specs(step, pipeline),
        "step_params": extra.pop("step_params", None) or {k: str(v) for k, v in step.params.items()},
        "step_name": step.name,
        "allow_reuse": step.allow_reuse,
        "step_version": step.version,
        "experiment_name": experiment_name,
        **extra,
    }
    if hasattr(step, "parallel_run_config"):
        return parallel_step_tasks(task_id_for(step), step.parallel_run_config.node_count, arguments_of_step)
    return script_operator(task_id=task_id_for(step), **arguments_of_step)


def parallel_step_tasks(task_id: str, node_count: int, step: dict[str, Any]) -> Any:
    """A ParallelRunStep: ``<id>__plan`` >> ``<id>__batches`` (mapped over ``node_count`` shards, as
    many at once) >> ``<id>`` (gather; it runs whatever the batches did, to record the outcome).
    Returns the gather task, whose ``mlw_first`` is the plan task (upstream steps point there)."""
    from datetime import timedelta

    from airflow.sdk import TaskGroup
    from airflow.sdk.definitions._internal.contextmanager import TaskGroupContext

    group: TaskGroup = TaskGroupContext.get_current()  # type: ignore[call-arg,assignment]
    parallel = {"parallel_step": group.child_id(task_id)}
    step = {**step, "operator_path": _parallel_class(step["compute_kind"], step["environment"])}
    plan = script_operator(task_id=f"{task_id}__plan", parallel_role="plan", **parallel, **step)
    batches = script_operator(
        task_id=f"{task_id}__batches",
        parallel_role="batches",
        partial=True,
        max_active_tis_per_dagrun=node_count,
        retries=2,
        retry_delay=timedelta(seconds=1),
        **parallel,
        **{**step, "outputs": [{"name": "mlw_batches"}]},
    ).expand(mlw_shard=plan.output)
    gather = script_operator(
        task_id=task_id, parallel_role="gather", trigger_rule="all_done", **parallel, **step
    )
    plan >> batches >> gather
    gather.mlw_first = plan
    return gather


def _parallel_class(compute_kind: str, environment: Any) -> str:
    from airflow_mlw.operators.script import kind_for

    kind = kind_for(compute_kind, environment)
    if kind in ("docker", "attached"):
        return "airflow_mlw.operators.docker.ParallelDockerOperator"
    if kind in ("local", "cluster"):
        return "airflow_mlw.operators.parallel.ParallelLocalOperator"
    raise MlwError(
        f"ParallelRunStep runs on local, cluster, Docker or attached compute, not {compute_kind!r}"
    )


def _wire(pipeline: Pipeline, experiment_name: str | None) -> dict[int, Any]:
    from airflow.sdk.definitions._internal.contextmanager import TaskGroupContext

    pipeline.validate()
    group = TaskGroupContext.get_current()  # type: ignore[call-arg]
    assert group is not None, "a pipeline is wired inside a DAG or TaskGroup"
    # Inside a TaskGroup task ids get the group's prefix: inputs point at the producers' real ids.
    producer_id = lambda step: group.child_id(task_id_for(step))  # noqa: E731
    tasks = {id(step): step_operator(step, pipeline, experiment_name, producer_id) for step in pipeline.steps}
    for before, after in pipeline.edges():
        tasks[id(before)] >> getattr(tasks[id(after)], "mlw_first", tasks[id(after)])
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
    """DAG callback: the pipeline run's final status (``execution.records``, imported when called:
    DAG files import this module at parse time)."""
    from airflow_mlw.execution.records import mark_pipeline_run as record

    record(workspace, status, context)


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
    from airflow.sdk.definitions.param import ParamsDict

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
        # Each operator would deep-copy the DAG's Params (parsed every 30 s); tasks need no copy:
        # Airflow merges the DAG's Params into each task's when it runs (process_params).
        params, dag.params = dag.params, ParamsDict()
        _wire(pipeline, experiment_name)
        _plan_ahead(dag, pipeline.workspace)
        dag.params = params
    return dag


def _plan_ahead(dag: Any, workspace: Any) -> None:
    """The planning task first (``operators.planner``): it skips the steps it decides are reuse
    hits, so consumers of a script step run when it is skipped (``none_failed``: a failed producer
    still stops them), and root steps run when the planner itself dies (``all_done``)."""
    from airflow_mlw.operators.planner import PLANNER_TASK_ID, PipelinePlanOperator, plannable

    if PLANNER_TASK_ID in dag.task_dict:
        raise MlwError(f"a step's task id is {PLANNER_TASK_ID!r}, the id of the pipeline's planning task")
    roots = [task for task in dag.tasks if not task.upstream_task_ids]
    steps = {task.task_id for task in dag.tasks if plannable(task)}
    for task in dag.tasks:
        if task.trigger_rule == "all_success" and task.upstream_task_ids & steps:
            task.trigger_rule = "none_failed"
    planner = PipelinePlanOperator(workspace=workspace)
    # On a cluster the planning task goes to the queue of the pipeline's first step (its workers
    # may serve that queue only), taking none of the target's slots.
    queues = [task.queue for task in roots if task.queue != planner.queue]
    if queues and len(queues) == len(roots):
        planner.queue = queues[0]
    for task in roots:
        if task.trigger_rule == "all_success":
            task.trigger_rule = "all_done"
        planner >> task


def pipeline_task_group(pipeline: Pipeline, group_id: str) -> Any:
    from airflow.sdk import TaskGroup

    with TaskGroup(group_id) as group:
        _wire(pipeline, None)
    return group
