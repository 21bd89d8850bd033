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
    #: What the script logged so far (scalars, name -> values): its live metrics.
    live: dict[str, list[Any]] = field(default_factory=dict)


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
            if record.get("kind") != "scalar" or record.get("run"):
                continue
            trial.live.setdefault(record["name"], []).append(record.get("value"))
            if record.get("name") == metric and isinstance(record.get("value"), int | float):
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


# -- on a deployment: each trial a DAG run of the step's trial DAG, placed by Airflow ----------------

#: Tag of a trial's run row that asks its task to stop (the task watches for it).
STOP_TAG = "mlw.stop"
#: Seconds between two reads of a trial DAG run's state from the api-server.
DAG_RUN_POLL_SECONDS = 2.0


def under_airflow_supervisor() -> bool:
    """Whether this task runs under a real Airflow supervisor (a worker), not ``dag.test()``:
    only then can it trigger DAG runs that a scheduler will run."""
    from airflow.sdk.execution_time import task_runner

    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    return comms is not None and type(comms).__name__ != "InProcessSupervisorComms"


class SupervisorLost(Exception):
    """The sweep's task lost its Airflow supervisor (its worker died): its trials go on, and the
    task's retry resumes the sweep from them, so they are not stopped."""


def _to_supervisor(message: Any) -> Any:
    """The supervisor's answer to ``message``; an error it reports is returned (``ErrorResponse``)."""
    from airflow.sdk.exceptions import AirflowRuntimeError
    from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS

    try:
        return SUPERVISOR_COMMS.send(message)
    except AirflowRuntimeError as error:
        return error.error
    except (OSError, EOFError) as error:
        raise SupervisorLost(f"the sweep's task lost its Airflow supervisor: {error}") from error


@dataclass
class PlacedTrial:
    """One trial's DAG run."""

    run_id: str
    dag_id: str
    values_seen: int = 0
    next_state_check: float = 0.0
    state: str | None = None


class AirflowTrials:
    """Trials as DAG runs of the trial DAG (``<dag>.<step>.trials``, one task: the script operator
    of the step's compute target, on its queue and pool), triggered by the sweep's task through
    its Airflow supervisor. A trial's live values of the primary metric come back through its run
    row (``properties["live"]``); stopping one is a tag on its row that its task watches."""

    def __init__(
        self, workspace: Any, template: TrialTemplate, experiment_name: str, trial_dag_id: str, metric: str
    ) -> None:
        self.workspace = workspace
        self.template = template
        self.experiment_name = experiment_name
        self.trial_dag_id = trial_dag_id
        self.metric = metric

    def start(self, run_id: str, number: int, hyperparameters: dict[str, Any]) -> PlacedTrial:
        from datetime import UTC, datetime

        from airflow.sdk.execution_time.comms import ErrorResponse, TriggerDagRun

        from airflow_mlw.exceptions import MlwError
        from airflow_mlw.execution import records

        records.update_run(
            self.workspace, run_id, dag_id=self.trial_dag_id, dag_run_id=run_id, task_id="trial"
        )
        answer = _to_supervisor(
            TriggerDagRun(
                dag_id=self.trial_dag_id,
                run_id=run_id,
                run_after=datetime.now(UTC),
                conf={
                    "trial_run_id": run_id,
                    "hyperparameters": hyperparameters,
                    "primary_metric": self.metric,
                },
            )
        )
        if isinstance(answer, ErrorResponse):
            raise MlwError(f"cannot start trial {run_id} as a run of DAG {self.trial_dag_id}: {answer.error}")
        return PlacedTrial(run_id, self.trial_dag_id)

    def attach(self, run_id: str, number: int, hyperparameters: dict[str, Any]) -> PlacedTrial:
        """A trial an earlier attempt of the sweep's task recorded; started now if that attempt
        was lost before it triggered its DAG run."""
        trial = PlacedTrial(run_id, self.trial_dag_id)
        if self._dag_run_state(trial) is None:
            return self.start(run_id, number, hyperparameters)
        return trial

    def _dag_run_state(self, trial: PlacedTrial) -> str | None:
        """The state of the trial's DAG run (``None``: there is none)."""
        from airflow.sdk.execution_time.comms import ErrorResponse, GetDagRunState

        from airflow_mlw.exceptions import MlwError

        answer = _to_supervisor(GetDagRunState(dag_id=trial.dag_id, run_id=trial.run_id))
        if isinstance(answer, ErrorResponse):
            if "not_found" in str(answer.detail) or "not found" in str(answer.detail):
                return None
            raise MlwError(f"trial {trial.run_id}: cannot read the state of its DAG run: {answer.detail}")
        return str(answer.state)

    def _row(self, trial: PlacedTrial) -> Any:
        from airflow_mlw.registry.rows import RunRow

        with self.workspace.store.session() as session:
            row = session.get(RunRow, trial.run_id)
            if row is not None:
                session.expunge(row)
            return row

    def new_values(self, trial: PlacedTrial, metric: str) -> list[float]:
        row = self._row(trial)
        live = ((row.properties or {}).get("live") or {}).get(metric, []) if row is not None else []
        fresh = [float(v) for v in live[trial.values_seen :] if isinstance(v, int | float)]
        trial.values_seen += len(fresh)
        return fresh

    def outcome(self, trial: PlacedTrial) -> tuple[str, str | None] | None:
        """The trial's end as its task recorded it, or its DAG run's end (a task that died
        before it could record one)."""
        import time

        row = self._row(trial)
        error = (row.properties or {}).get("error") if row is not None else None
        if row is not None and row.status in ("Finished", "Failed"):
            return row.status, error
        now = time.monotonic()
        if now >= trial.next_state_check:
            trial.next_state_check = now + DAG_RUN_POLL_SECONDS
            trial.state = self._dag_run_state(trial) or "gone"
        if trial.state == "gone":
            return "Failed", error or f"the DAG run of trial {trial.run_id} is gone"
        if trial.state in ("success", "failed"):
            return ("Finished" if trial.state == "success" else "Failed"), error
        return None

    def stop(self, trial: PlacedTrial) -> None:
        row = self._row(trial)
        if row is not None and STOP_TAG not in (row.tags or {}):
            from airflow_mlw.execution import records

            records.update_run(self.workspace, trial.run_id, tags={**(row.tags or {}), STOP_TAG: "1"})
