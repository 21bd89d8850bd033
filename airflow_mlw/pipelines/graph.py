"""The pipeline graph: steps, their order and validation. It knows nothing about Airflow operators;
``to_dag`` hands the graph to ``airflow_mlw.dag_builder``.

Order comes from data edges (a step consumes another's output), ``run_after`` and
``StepSequence``; producers missing from ``steps`` are pulled in.
"""

from __future__ import annotations

from typing import Any

from airflow_mlw.exceptions import MlwError
from airflow_mlw.pipelines.data import PipelineParameter
from airflow_mlw.pipelines.steps import PipelineStep, StepSequence


class PipelineValidationError(MlwError):
    """A cycle, duplicate step names, an input no step produces, a parameter defined twice."""


class Pipeline:
    """Steps and their data (Azure's ``Pipeline``).

    :param workspace: the workspace
    :param steps: steps (or a ``StepSequence``); producers of their inputs are pulled in
    :param default_datastore: datastore of outputs that name none
    :param default_source_directory: source directory of steps that name none
    """

    def __init__(
        self,
        workspace: Any,
        steps: list[Any] | StepSequence,
        description: str | None = None,
        default_datastore: Any = None,
        default_source_directory: str | None = None,
        resolve_closure: bool = True,
        **_azure_only: Any,
    ) -> None:
        self.workspace = workspace
        self.description = description
        self.default_datastore = default_datastore
        self.default_source_directory = default_source_directory
        self._sequence_edges: list[tuple[PipelineStep, PipelineStep]] = []
        roots = self._flatten(steps)
        self.steps = self._closure(roots)
        self._dag_id: str | None = None

    def _flatten(self, steps: Any) -> list[PipelineStep]:
        if isinstance(steps, StepSequence):
            flat: list[PipelineStep] = []
            previous: list[PipelineStep] = []
            for element in steps.steps:
                group = self._flatten(element if isinstance(element, list | StepSequence) else [element])
                for before in previous:
                    for after in group:
                        self._sequence_edges.append((before, after))
                flat += group
                previous = group
            return flat
        flat = []
        for item in steps if isinstance(steps, list | tuple) else [steps]:
            if isinstance(item, StepSequence | list):
                flat += self._flatten(item)
            elif isinstance(item, PipelineStep):
                flat.append(item)
            else:
                raise PipelineValidationError(f"{item!r} is not a pipeline step")
        return flat

    @staticmethod
    def _closure(roots: list[PipelineStep]) -> list[PipelineStep]:
        """``roots`` plus every producer and run_after predecessor they need, in discovery order."""
        seen: dict[int, PipelineStep] = {}
        pending = list(roots)
        while pending:
            step = pending.pop(0)
            if id(step) in seen:
                continue
            seen[id(step)] = step
            for data in step.data_inputs():
                if data.origin._producer is not None:
                    pending.append(data.origin._producer)
            pending += step._run_after
        return list(seen.values())

    def edges(self) -> list[tuple[PipelineStep, PipelineStep]]:
        """(before, after) pairs from data, ``run_after`` and sequences."""
        found = list(self._sequence_edges)
        for step in self.steps:
            for data in step.data_inputs():
                if data.origin._producer is not None:
                    found.append((data.origin._producer, step))
            found += [(before, step) for before in step._run_after]
        unique: dict[tuple[int, int], tuple[PipelineStep, PipelineStep]] = {}
        for before, after in found:
            unique.setdefault((id(before), id(after)), (before, after))
        return list(unique.values())

    def parameters(self) -> dict[str, PipelineParameter]:
        found: dict[str, PipelineParameter] = {}
        for step in self.steps:
            for parameter in step.parameters():
                other = found.setdefault(parameter.name, parameter)
                if other is not parameter and other.default_value != parameter.default_value:
                    raise PipelineValidationError(
                        f"pipeline parameter {parameter.name!r} is defined twice with different defaults"
                    )
        return found

    def validate(self) -> list[str]:
        """Problems as messages; raises :class:`PipelineValidationError` naming the first."""
        problems: list[str] = []
        names: dict[str, PipelineStep] = {}
        for step in self.steps:
            if step.name in names:
                problems.append(f"two steps are named {step.name!r}")
            names[step.name] = step
        for step in self.steps:
            for data in step.data_inputs():
                if data.origin._producer is None:
                    problems.append(f"step {step.name!r} consumes {data.name!r}, which no step produces")
        outputs: dict[str, str] = {}
        for step in self.steps:
            for output in step.outputs:
                name = getattr(output, "name", str(output))
                if name in outputs and outputs[name] != step.name:
                    problems.append(
                        f"output {name!r} is written by steps {outputs[name]!r} and {step.name!r}"
                    )
                outputs[name] = step.name
        cycle = self._find_cycle()
        if cycle:
            problems.append("cycle: " + " -> ".join(cycle))
        try:
            self.parameters()
        except PipelineValidationError as exc:
            problems.append(str(exc))
        if problems:
            raise PipelineValidationError("; ".join(problems))
        return problems

    def _find_cycle(self) -> list[str]:
        following: dict[int, list[PipelineStep]] = {id(s): [] for s in self.steps}
        for before, after in self.edges():
            following.setdefault(id(before), []).append(after)
        state: dict[int, int] = {}
        path: list[PipelineStep] = []

        def visit(step: PipelineStep) -> list[str]:
            state[id(step)] = 1
            path.append(step)
            for nxt in following.get(id(step), []):
                if state.get(id(nxt)) == 1:
                    start = next(i for i, s in enumerate(path) if s is nxt)
                    return [s.name for s in path[start:]] + [nxt.name]
                if state.get(id(nxt)) is None:
                    found = visit(nxt)
                    if found:
                        return found
            path.pop()
            state[id(step)] = 2
            return []

        for step in self.steps:
            if state.get(id(step)) is None:
                found = visit(step)
                if found:
                    return found
        return []

    def submit(
        self,
        experiment_name: str,
        pipeline_parameters: dict[str, Any] | None = None,
        regenerate_outputs: bool = False,
        **kwargs: Any,
    ) -> Any:
        from airflow_mlw.runs import Experiment

        return Experiment(self.workspace, experiment_name).submit(
            self, pipeline_parameters=pipeline_parameters, regenerate_outputs=regenerate_outputs
        )

    def to_dag(self, dag_id: str, schedule: Any = None, **dag_kwargs: Any) -> Any:
        """An Airflow DAG: one task per step, parameters as ``Param`` in the trigger form. No I/O."""
        from airflow_mlw.dag_builder import pipeline_dag

        dag = pipeline_dag(self, dag_id, schedule, **dag_kwargs)
        self._dag_id = dag_id
        return dag

    def publish(
        self,
        name: str,
        description: str | None = None,
        version: str | None = None,
        continue_on_step_failure: bool | None = None,
        dag_id: str | None = None,
    ) -> Any:
        """Record this pipeline as published (Azure's ``publish``); returns a ``PublishedPipeline``.

        Its DAG is ``dag_id``, else the one ``to_dag`` made of it in this process, else a DAG file
        written into Airflow's DAGs folder (``mlw_published/``) with a snapshot of the sources.
        """
        from airflow_mlw.pipelines.publish import PublishedPipeline

        return PublishedPipeline.create(
            self.workspace, self, name, description, version, continue_on_step_failure, dag_id
        )

    def as_task_group(self, group_id: str) -> Any:
        """The steps as a TaskGroup inside the DAG being defined (``with DAG(...):``)."""
        from airflow_mlw.dag_builder import pipeline_task_group

        return pipeline_task_group(self, group_id)

    def __repr__(self) -> str:
        return f"Pipeline(steps={[s.name for s in self.steps]!r})"
