"""Where trials run: each trial is the script operator of the compute target's kind (a subprocess,
a container), run in a thread of the process that drives the sweep, up to ``max_concurrent_runs``
at once. Its metrics are read live from the file the script's ``run.log`` appends to; stopping a
trial is the operator's ``on_kill`` (the process group is killed, the container removed).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_mlw.compute import ComputeTarget
from airflow_mlw.dag_builder import script_operator, script_run_data
from airflow_mlw.execution.inputs import StepInput


def trial_arguments(base: list[str], hyperparameters: dict[str, Any]) -> list[str]:
    """The script's arguments with each sampled value as ``--name value`` (as Azure passes them);
    an argument of the same name in ``base`` is replaced."""
    flags = {name if name.startswith("-") else f"--{name}": value for name, value in hyperparameters.items()}
    kept: list[str] = []
    skip = False
    for position, argument in enumerate(base):
        if skip:
            skip = False
            continue
        if argument in flags:
            following = base[position + 1] if position + 1 < len(base) else None
            skip = following is not None and not following.startswith("--")
            continue
        kept.append(argument)
    for flag, value in flags.items():
        kept.extend([flag, str(value)])
    return kept


@dataclass
class TrialTask:
    """What a script operator reads of its task instance when a sweep runs it directly."""

    dag_id: str
    run_id: str
    task_id: str

    def xcom_pull(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class RunningTrial:
    """One trial's operator and the thread running it."""

    operator: Any
    thread: threading.Thread | None = None
    outcome: str | None = None
    error: str | None = None
    read_offset: int = 0
    seen: list[float] = field(default_factory=list)


@dataclass
class TrialTemplate:
    """What every trial runs: the script, its arguments (inputs and outputs as path marks), its
    typed inputs and outputs, environment and compute target."""

    source_directory: str
    script: str
    arguments: list[str]
    inputs: list[StepInput]
    outputs: list[dict[str, Any]]
    environment: Any
    compute_target: Any

    @classmethod
    def of_run_config(cls, config: Any) -> TrialTemplate:
        """The trial of a ``ScriptRunConfig`` / ``Estimator``."""
        script, command = config.script_and_command()
        arguments, inputs, outputs = script_run_data(script or command[0], command, config.inputs)
        return cls(
            source_directory=str(Path(config.source_directory).resolve()),
            script=script,
            arguments=arguments,
            inputs=inputs,
            outputs=outputs,
            environment=config.run_environment(),
            compute_target=config.compute_target or "local",
        )

    @property
    def target_name(self) -> str:
        target = self.compute_target
        return target if isinstance(target, str) else target.name


class InProcessTrials:
    """Trials as script operators in threads of this process (``Experiment.submit`` without
    ``[mlw] api_url``, and a ``HyperDriveStep`` running inside its task)."""

    def __init__(self, workspace: Any, template: TrialTemplate, experiment_name: str, dag_id: str) -> None:
        self.workspace = workspace
        self.template = template
        self.experiment_name = experiment_name
        self.dag_id = dag_id
        target = template.compute_target
        self.compute = (
            target if isinstance(target, ComputeTarget) else ComputeTarget(workspace, template.target_name)
        )

    def start(self, run_id: str, number: int, hyperparameters: dict[str, Any]) -> RunningTrial:
        template = self.template
        operator = script_operator(
            task_id=f"trial_{number}",
            source_directory=template.source_directory,
            script=template.script,
            arguments=trial_arguments(template.arguments, hyperparameters),
            environment=template.environment,
            compute_kind=self.compute.kind,
            compute_config=self.compute.config,
            compute_target=template.target_name,
            workspace=self.workspace,
            inputs=template.inputs,
            outputs=template.outputs,
            run_id=run_id,
            experiment_name=self.experiment_name,
        )
        context = {"ti": TrialTask(self.dag_id, run_id, operator.task_id), "params": {}}
        trial = RunningTrial(operator)

        # What Airflow's task runner passes: the operator runs as the task it stands for here.
        from airflow.sdk.bases.operator import ExecutorSafeguard

        runner = {f"{type(operator).__name__}__sentinel": ExecutorSafeguard.sentinel_value}

        def execute() -> None:
            try:
                operator.execute(context, **runner)
                trial.outcome = "Finished"
            except BaseException as error:  # noqa: BLE001 - a trial's failure is the sweep's data
                trial.error = str(error).splitlines()[0] if str(error) else type(error).__name__
                trial.outcome = "Failed"

        trial.thread = threading.Thread(target=execute, name=f"mlw-trial-{run_id}", daemon=True)
        trial.thread.start()
        return trial

    def new_values(self, trial: RunningTrial, metric: str) -> list[float]:
        """Values of ``metric`` the script logged since the last call (read from its metrics file)."""
        folder = getattr(trial.operator, "_run_folder", None)
        if folder is None:
            return []
        try:
            with open(Path(folder) / "metrics.jsonl", encoding="utf-8") as handle:
                handle.seek(trial.read_offset)
                chunk = handle.read()
        except OSError:  # not written yet, or the run's folder is already gone
            return []
        complete = chunk[: chunk.rfind("\n") + 1]  # a line being written is read next time
        trial.read_offset += len(complete.encode("utf-8"))
        values = []
        for line in complete.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("kind") == "scalar" and record.get("name") == metric and not record.get("run"):
                if isinstance(record.get("value"), int | float):
                    values.append(float(record["value"]))
        return values

    def outcome(self, trial: RunningTrial) -> tuple[str, str | None] | None:
        """``(status, error)`` once the trial's operator returned, else ``None``."""
        if trial.thread is not None and trial.thread.is_alive():
            return None
        return trial.outcome or "Failed", trial.error

    def stop(self, trial: RunningTrial) -> None:
        """Stop the trial's process or container (called again until it is gone: it may not
        have started yet)."""
        trial.operator.on_kill()

    def wait(self, trial: RunningTrial, timeout: float) -> None:
        if trial.thread is not None:
            trial.thread.join(timeout)
