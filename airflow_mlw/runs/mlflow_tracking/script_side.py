"""MLflow inside a submitted run: records through the run context (``airflow_mlw.run``), no registry.

The script's run is the MLflow run: ``mlflow.start_run()`` resumes it (``MLFLOW_RUN_ID``), and a
top-level ``start_run`` after ``end_run`` (autolog starts and ends runs of its own) comes back to
it, so everything a script logs lands in one run. Nested runs are child runs (``run.child_run``).
The script's own run ends with the script (its exit code), not with MLflow's ``end_run``. What the
script logged is also kept here, in memory, for MLflow to read back (``get_run``, params logged once).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mlflow.entities import (
    Metric,
    Param,
    Run,
    RunTag,
)
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_STATE

from airflow_mlw.run import CONTEXT_ENV
from airflow_mlw.run import Run as ContextRun
from airflow_mlw.runs.mlflow_tracking.entities import (
    DEFAULT_EXPERIMENT,
    PARAM_PREFIX,
    Experiments,
    experiment_id,
    not_found,
    param_changed,
    run_entity,
)


@dataclass
class ScriptRunState:
    """What this script logged to one run."""

    handle: ContextRun
    experiment_id: str
    name: str | None
    start_time: int = field(default_factory=lambda: int(time.time() * 1000))
    status: str = "RUNNING"
    end_time: int | None = None
    metrics: dict[str, list[Metric]] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    model_outputs: list[Any] = field(default_factory=list)


class ScriptSide:
    """The runs of a script: its own (from the run context) and the nested ones it started."""

    def __init__(self, context: ContextRun) -> None:
        self.context = context
        self.workspace = str(context._context.get("workspace") or "")
        self.experiment = context.experiment_name or DEFAULT_EXPERIMENT
        self.lock = threading.Lock()
        #: Experiments MLflow named in this script (``set_experiment`` makes them; nothing is recorded).
        self.experiment_names = {self.experiment, DEFAULT_EXPERIMENT}
        self.runs = {context.id: ScriptRunState(context, experiment_id(self.experiment), context.name)}

    def state(self, run_id: str) -> ScriptRunState:
        state = self.runs.get(run_id)
        if state is None:
            raise not_found(
                f"run {run_id!r} is not reachable from this script: inside a submitted run MLflow logs to "
                f"that run ({self.context.id}) and the nested runs it starts"
            )
        return state

    # -- experiments -------------------------------------------------------------------------------

    def experiments(self) -> Experiments:
        return {name: (False, None) for name in self.experiment_names}

    def create_experiment(self, name: str) -> None:
        self.experiment_names.add(name)

    def archive(self, name: str, archived: bool) -> None:
        raise MlflowException(
            "experiments cannot be deleted or restored inside a submitted run", INVALID_STATE
        )

    # -- runs --------------------------------------------------------------------------------------

    def create_run(
        self, experiment: str, parent: str | None, run_name: str | None, tags: dict[str, str]
    ) -> str:
        with self.lock:
            if parent is None:  # a top-level run inside a submitted run is that run
                state = self.runs[self.context.id]
                state.status, state.end_time = "RUNNING", None
                run_id = self.context.id
            else:
                handle = self.state(parent).handle.child_run(name=run_name)
                run_id = handle.id
                self.runs[run_id] = ScriptRunState(handle, experiment_id(experiment), run_name)
        self.log_batch(run_id, [], [], [RunTag(k, v) for k, v in tags.items()])
        return run_id

    def get_run(self, run_id: str) -> Run:
        state = self.state(run_id)
        return run_entity(
            workspace=self.workspace,
            run_id=run_id,
            experiment=state.experiment_id,
            status=state.status,
            start_time=state.start_time,
            end_time=state.end_time,
            name=state.name,
            tags=state.tags,
            params=state.params,
            metrics=state.metrics,
            model_outputs=list(state.model_outputs),
        )

    def runs_of(self, experiments: set[str]) -> list[Run]:
        ids = {experiment_id(name) for name in experiments}
        return [run for run in map(self.get_run, list(self.runs)) if run.info.experiment_id in ids]

    def update_run(self, run_id: str, status: str, end_time: int | None, run_name: str | None) -> None:
        with self.lock:
            state = self.state(run_id)
            state.status, state.end_time = status, (None if status == "RUNNING" else end_time)
            if run_name:
                state.name = run_name
        if run_id == self.context.id or status == "RUNNING":
            return  # the script's own run ends with the script
        if status == "FAILED":
            state.handle.fail()
        elif status == "KILLED":
            self.context._write("status", run_id, "Canceled")
        else:
            state.handle.complete()

    # -- logging -----------------------------------------------------------------------------------

    def log_batch(self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]) -> None:
        with self.lock:
            state = self.state(run_id)
            for param in params:
                value = str(param.value)
                if param.key in state.params and state.params[param.key] != value:
                    raise param_changed(run_id, param.key, state.params[param.key], value)
            for param in params:
                if param.key not in state.params:
                    state.params[param.key] = str(param.value)
                    state.handle._write("property", PARAM_PREFIX + param.key, str(param.value))
            for metric in metrics:
                series = state.metrics.setdefault(metric.key, [])
                series.append(Metric(metric.key, metric.value, metric.timestamp, metric.step, run_id=run_id))
                state.handle.log(metric.key, metric.value, step=metric.step)
            for tag in tags:
                state.tags[tag.key] = str(tag.value)
                state.handle.tag(tag.key, str(tag.value))

    def delete_tag(self, run_id: str, key: str) -> None:
        with self.lock:
            state = self.state(run_id)
            if key not in state.tags:
                raise not_found(f"run {run_id} has no tag {key!r}")
            del state.tags[key]
            state.handle.remove_tags([key])

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        return list(self.state(run_id).metrics.get(key, []))

    def log_outputs(self, run_id: str, models: list[Any]) -> None:
        with self.lock:
            self.state(run_id).model_outputs.extend(models)


@lru_cache(maxsize=4)
def _script_side(context_path: str) -> ScriptSide:
    return ScriptSide(ContextRun.get_context())


def script_side(workspace: str) -> ScriptSide | None:
    """The script's runs when this process runs inside a submitted run of ``workspace``."""
    path = os.environ.get(CONTEXT_ENV)
    if not path:
        return None
    side = _script_side(path)
    return side if side.workspace == workspace else None
