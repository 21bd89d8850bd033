"""Pipeline steps: ``PythonScriptStep``, ``EstimatorStep``, ``CommandStep`` (Azure's names and arguments).

A step only records what to run; the DAG builder turns it into one operator. Building a step does
no I/O.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_mlw._lazy import loaded_class
from airflow_mlw.exceptions import MlwError
from airflow_mlw.pipelines.data import INPUT_MARK, OUTPUT_MARK, DataPathInput, PipelineData, PipelineParameter


class PipelineStep:
    """Shared by every step: name, inputs, outputs, compute, environment, reuse switches, order."""

    def __init__(
        self,
        name: str,
        inputs: list[Any] | None = None,
        outputs: list[Any] | None = None,
        arguments: list[Any] | None = None,
        compute_target: Any = None,
        runconfig: Any = None,
        params: dict[str, Any] | None = None,
        source_directory: str | None = None,
        allow_reuse: bool = True,
        version: str | None = None,
    ) -> None:
        if not name:
            raise MlwError("a step needs a name")
        self.name = name
        self.inputs = [DataPathInput.wrap(i) for i in inputs or []]
        self.outputs = list(outputs or [])
        self.arguments = [DataPathInput.wrap(a) for a in arguments or []]
        for argument in self.arguments:
            if isinstance(argument, DataPathInput) and all(
                getattr(i, "name", None) != argument.name for i in self.inputs
            ):
                self.inputs.append(argument)
        self.compute_target = (
            compute_target if compute_target is not None else getattr(runconfig, "target", None)
        )
        self.environment = getattr(runconfig, "environment", None)
        self.params = dict(params or {})
        self.source_directory = source_directory
        self.allow_reuse = allow_reuse
        self.version = version
        self._run_after: list[PipelineStep] = []
        # A dataset passed as an argument is an input too; the argument becomes its path.
        consumption = loaded_class("airflow_mlw.datasets.consumption", "DatasetConsumptionConfig")
        for argument in self.arguments:
            if isinstance(argument, consumption) and all(
                getattr(i, "name", None) != argument.name for i in self.inputs
            ):
                self.inputs.append(argument)
        for output in self.outputs:
            if isinstance(output, PipelineData):
                if output.origin._producer is not None and output.origin._producer is not self:
                    raise MlwError(
                        f"output {output.name!r} is written by two steps: {output.origin._producer.name!r} and {name!r}"
                    )
                output.origin._producer = self
        # An OutputFileDatasetConfig named only in arguments is an output too (Azure orders steps by it).
        for argument in self.arguments:
            if (
                isinstance(argument, PipelineData)
                and argument.origin._producer is None
                and argument not in self.inputs
            ):
                argument.origin._producer = self
                self.outputs.append(argument.origin)

    def run_after(self, step: PipelineStep) -> None:
        """Run this step after ``step`` even without a data edge."""
        self._run_after.append(step)

    # -- what the DAG builder needs ------------------------------------------------------------------

    def data_inputs(self) -> list[PipelineData]:
        """PipelineData this step reads (from ``inputs`` and from ``arguments``)."""
        found = [i for i in self.inputs if isinstance(i, PipelineData)]
        found += [a for a in self.arguments if isinstance(a, PipelineData) and a.origin._producer is not self]
        unique: dict[int, PipelineData] = {}
        for item in found:
            unique.setdefault(id(item.origin), item)
        return list(unique.values())

    def rendered_arguments(self) -> list[str]:
        """Arguments as strings: data become ``@mlw:input/output:<name>@`` marks, parameters Jinja."""
        rendered = []
        for argument in self.arguments:
            if isinstance(argument, PipelineData):
                mark = OUTPUT_MARK if argument.origin._producer is self else INPUT_MARK
                rendered.append(
                    mark.format(argument.input_name if mark is INPUT_MARK else argument.origin.name)
                )
            elif isinstance(argument, PipelineParameter):
                rendered.append(str(argument))
            elif isinstance(argument, DataPathInput) or type(argument).__name__ == "DatasetConsumptionConfig":
                rendered.append(INPUT_MARK.format(argument.name))
            else:
                rendered.append(str(argument))
        return rendered

    def parameters(self) -> list[PipelineParameter]:
        found = [a for a in self.arguments if isinstance(a, PipelineParameter)]
        found += [i.parameter for i in self.inputs if isinstance(i, DataPathInput)]
        found += [
            i.dataset for i in self.inputs if isinstance(getattr(i, "dataset", None), PipelineParameter)
        ]
        found += [v for v in self.params.values() if isinstance(v, PipelineParameter)]
        return found

    def command(self) -> tuple[str, list[str]]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class PythonScriptStep(PipelineStep):
    """``python <script_name> <arguments>`` from a snapshot of ``source_directory``."""

    def __init__(
        self,
        script_name: str,
        name: str | None = None,
        arguments: list[Any] | None = None,
        compute_target: Any = None,
        runconfig: Any = None,
        runconfig_pipeline_params: Any = None,
        inputs: list[Any] | None = None,
        outputs: list[Any] | None = None,
        params: dict[str, Any] | None = None,
        source_directory: str | None = None,
        allow_reuse: bool = True,
        version: str | None = None,
        hash_paths: Any = None,
    ) -> None:
        self.script_name = script_name
        super().__init__(
            name or script_name,
            inputs,
            outputs,
            arguments,
            compute_target,
            runconfig,
            params,
            source_directory,
            allow_reuse,
            version,
        )

    def command(self) -> tuple[str, list[str]]:
        return self.script_name, self.rendered_arguments()


class EstimatorStep(PythonScriptStep):
    """An ``Estimator`` as a step: its entry script, environment and script parameters."""

    def __init__(
        self,
        name: str | None = None,
        estimator: Any = None,
        estimator_entry_script_arguments: list[Any] | None = None,
        runconfig_pipeline_params: Any = None,
        inputs: list[Any] | None = None,
        outputs: list[Any] | None = None,
        compute_target: Any = None,
        allow_reuse: bool = True,
        version: str | None = None,
    ) -> None:
        if estimator is None:
            raise MlwError("EstimatorStep needs an estimator")
        super().__init__(
            estimator.script,
            name=name,
            arguments=list(estimator.arguments) + list(estimator_entry_script_arguments or []),
            compute_target=compute_target or estimator.compute_target,
            inputs=inputs,
            outputs=outputs,
            source_directory=estimator.source_directory,
            allow_reuse=allow_reuse,
            version=version,
        )
        self.environment = estimator.environment


class CommandStep(PipelineStep):
    """A command run in the snapshot of ``source_directory`` (Azure SDK v1.x ``CommandStep``).

    ``command`` is a shell line or a list (whose items may be data, wired as a script step's
    arguments). As in Azure, ``runconfig`` may be a ``ScriptRunConfig``: its command, source
    directory, environment and compute target are the step's.
    """

    def __init__(
        self,
        command: str | list[Any] | None = None,
        name: str | None = None,
        compute_target: Any = None,
        runconfig: Any = None,
        runconfig_pipeline_params: Any = None,
        inputs: list[Any] | None = None,
        outputs: list[Any] | None = None,
        params: dict[str, Any] | None = None,
        source_directory: str | None = None,
        allow_reuse: bool = True,
        version: str | None = None,
    ) -> None:
        script_run = runconfig if hasattr(runconfig, "run_config") else None
        if script_run is not None:
            command = command if command is not None else script_run.command
            source_directory = source_directory or script_run.source_directory
            runconfig = script_run.run_config
        if not command:
            raise MlwError("CommandStep needs a command (or a ScriptRunConfig with one as runconfig)")
        self.command_line = command if isinstance(command, str) else None
        listed = [] if isinstance(command, str) else list(command)
        first = command.split()[0] if isinstance(command, str) else str(listed[0])
        super().__init__(
            name or Path(first).name,
            inputs,
            outputs,
            listed,
            compute_target,
            runconfig,
            params,
            source_directory,
            allow_reuse,
            version,
        )

    def command(self) -> tuple[str, list[str]]:
        if self.command_line is not None:
            return "", ["/bin/sh", "-c", self.command_line]
        return "", self.rendered_arguments()


class StepSequence:
    """Steps that run one after another; an element may be a list of steps that run in parallel."""

    def __init__(self, steps: list[Any]) -> None:
        self.steps = list(steps)
