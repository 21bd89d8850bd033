"""``HyperDriveRun`` (a sweep as ``experiment.submit(hd_config)`` returns it) and
``HyperDriveStepRun`` (the run of a ``HyperDriveStep`` in a pipeline run); and the in-process
submission of a sweep: its controller in a thread of this process, trials beside it.
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from typing import Any

from airflow_mlw.exceptions import MlwError
from airflow_mlw.execution import records
from airflow_mlw.hyperdrive.config import HyperDriveConfig
from airflow_mlw.hyperdrive.controller import Sweep
from airflow_mlw.hyperdrive.trials import InProcessTrials, TrialTemplate
from airflow_mlw.naming import safe_id
from airflow_mlw.runs.pipeline_run import StepRun
from airflow_mlw.runs.submitted import SubmittedRun

#: Controller threads of the sweeps this process drives, and the sweeps, by sweep run id.
_controllers: dict[str, threading.Thread] = {}
_sweeps: dict[str, Sweep] = {}


class HyperDriveRun(SubmittedRun):
    """A hyperparameter sweep: a run whose children are its trials (Azure's ``HyperDriveRun``)."""

    def _sweep_id(self) -> str:
        """The run that holds the trials (a reused step: the run it was handed over from)."""
        return self._row().reused_from_id or self.id

    def _sweep(self) -> dict[str, Any]:
        row = SubmittedRun(self.workspace, self._sweep_id())._row()
        return dict((row.properties or {}).get("hyperdrive", {}))

    @property
    def hyperdrive_config(self) -> dict[str, Any]:
        """The sweep's settings as recorded (sampling, seed, policy, primary metric, limits)."""
        return dict(self._sweep().get("definition", {}))

    def get_children(
        self, recursive: bool = False, tags: Any = None, properties: Any = None, **_: Any
    ) -> Any:
        if self._sweep_id() != self.id:
            return HyperDriveRun(self.workspace, self._sweep_id()).get_children(recursive, tags, properties)
        return super().get_children(recursive, tags, properties)

    def get_metrics(self, name: str | None = None, recursive: bool = False, **_: Any) -> dict[str, Any]:
        """Each trial's metrics, by trial run id (Azure's ``HyperDriveRun.get_metrics()``); a trial
        still running reports what its script logged so far."""
        metrics = {}
        for child in self.get_children():
            stored = child.get_metrics(name)
            if not stored and child.get_status() in ("Queued", "Running"):
                stored = records.fold_metrics(
                    (metric, "scalar", value)
                    for metric, values in self._live(child).items()
                    for value in values
                    if name is None or metric == name
                )
            metrics[child.id] = stored
        return metrics

    def _live(self, child: Any) -> dict[str, list[Any]]:
        """A running trial's scalars so far: from the controller when it runs in this process, else
        as its task recorded them (a deployment's trial)."""
        sweep = _sweeps.get(self._sweep_id())
        for trial in sweep.trials if sweep is not None else []:
            if trial.run_id == child.id and hasattr(trial.handle, "live"):
                return {k: list(v) for k, v in trial.handle.live.items()}
        return dict((child._row().properties or {}).get("live") or {})

    def get_hyperparameters(self) -> dict[str, str]:
        """Each trial's sampled values as a JSON string, by trial run id (as Azure gives them)."""
        trials = self._sweep().get("trials", {})
        return {run_id: json.dumps(trial["hyperparameters"]) for run_id, trial in trials.items()}

    def get_children_sorted_by_primary_metric(
        self, top: int = 0, reverse: bool = False, discard_no_metric: bool = False
    ) -> list[dict[str, Any]]:
        """The trials, best primary metric first (``reverse``: worst first), as Azure's dicts:
        ``run_id``, ``hyperparameters`` (JSON), ``best_primary_metric``, ``status``. Trials without
        the metric come last (left out with ``discard_no_metric``); ``top``: only the first N."""
        sweep = self._sweep()
        maximize = sweep.get("definition", {}).get("primary_metric_goal", "MAXIMIZE") == "MAXIMIZE"
        statuses = {child.id: child.get_status() for child in self.get_children()}
        items = [
            {
                "run_id": run_id,
                "hyperparameters": json.dumps(trial["hyperparameters"]),
                "best_primary_metric": trial.get("best_primary_metric"),
                "status": statuses.get(run_id, trial.get("status")),
            }
            for run_id, trial in sweep.get("trials", {}).items()
        ]
        with_metric = [i for i in items if i["best_primary_metric"] is not None]
        with_metric.sort(key=lambda i: i["best_primary_metric"], reverse=maximize != reverse)
        ordered = with_metric + (
            [] if discard_no_metric else [i for i in items if i["best_primary_metric"] is None]
        )
        return ordered[:top] if top else ordered

    def get_best_run_by_primary_metric(
        self,
        include_failed: bool = True,
        include_canceled: bool = True,
        include_resume_from_runs: bool = True,
    ) -> SubmittedRun | None:
        """The trial with the best value of the primary metric (``None`` before any has one)."""
        excluded = {"Failed"} if not include_failed else set()
        excluded |= {"Canceled"} if not include_canceled else set()
        for item in self.get_children_sorted_by_primary_metric(discard_no_metric=True):
            if item["status"] not in excluded:
                return SubmittedRun(self.workspace, item["run_id"])
        return None

    def cancel(self) -> None:
        """Stop the sweep: its controller cancels every running trial (process or container
        stopped) and starts no more; the sweep and those trials end ``Canceled``."""
        if self.get_status() in records.TERMINAL:
            return
        records.set_status(self.workspace, self.id, "Canceled")
        row = self._row()
        if row.dag_id and row.dag_run_id:
            from airflow_mlw.runs.submitted import stop_dag_run

            stop_dag_run(self.workspace, row.dag_id, row.dag_run_id)
        controller = _controllers.get(self.id)
        if controller is not None:
            controller.join()

    def wait_for_completion(
        self, show_output: bool = False, wait_post_processing: bool = False, raise_on_error: bool = True
    ) -> dict[str, Any]:
        controller = _controllers.get(self.id)
        if controller is not None:
            controller.join()
        if show_output:
            for item in self.get_children_sorted_by_primary_metric():
                print(
                    f"  {item['run_id']}: {item['status']}, best {item['best_primary_metric']}, {item['hyperparameters']}",
                    file=sys.stdout,
                )
        return super().wait_for_completion(show_output, wait_post_processing, raise_on_error)


class HyperDriveStepRun(HyperDriveRun, StepRun):
    """The run of a ``HyperDriveStep`` (Azure's ``HyperDriveStepRun(step_run=...)``)."""

    def __init__(self, step_run: Any = None, workspace: Any = None, run_id: str | None = None) -> None:
        if step_run is not None:
            workspace, run_id = step_run.workspace, step_run.id
        if workspace is None or run_id is None:
            raise MlwError("HyperDriveStepRun needs step_run= (a step run of a HyperDriveStep)")
        super().__init__(workspace, run_id)

    def get_metrics(self, name: str | None = None, recursive: bool = False, **_: Any) -> dict[str, Any]:
        return HyperDriveRun.get_metrics(self, name)


def new_sweep_id() -> str:
    """``HD_`` and 24 hex digits: room for ``_<trial number>`` in a 32-character run id."""
    return f"HD_{uuid.uuid4().hex[:24]}"


def submit_in_process(experiment: Any, config: HyperDriveConfig, tags: dict[str, str]) -> HyperDriveRun:
    """Start the sweep in this process: the controller in a thread, trials in threads beside it
    (up to ``max_concurrent_runs``); returns at once, as Azure's ``submit`` does."""
    workspace = experiment.workspace
    template = TrialTemplate.of_run_config(config.run_config)
    launcher = InProcessTrials(
        workspace, template, experiment.name, safe_id(f"mlw_hyperdrive_{experiment.name}")
    )
    run_id = records.create_run(
        workspace,
        id=new_sweep_id(),
        kind="hyperdrive",
        experiment_name=experiment.name,
        name=f"HyperDrive {template.script}",
        status="Running",
        started_at=records.utcnow(),
        compute_target=template.target_name,
        tags=dict(tags),
        properties={"hyperdrive": {"definition": config.sweep_definition(), "trials": {}}},
    )
    sweep = Sweep(workspace, run_id, config, launcher)
    thread = threading.Thread(target=sweep.run, name=f"mlw-sweep-{run_id}")
    _controllers[run_id], _sweeps[run_id] = thread, sweep
    thread.start()
    return HyperDriveRun(workspace, run_id)


def submit_sweep(
    experiment: Any, config: HyperDriveConfig, tags: dict[str, str] | None = None
) -> HyperDriveRun:
    """``experiment.submit(hd_config)``: in this process, or with ``[mlw] api_url`` on the
    deployment, as a one-step pipeline whose step is the sweep (its trials placed by Airflow)."""
    if experiment.workspace.settings.api_url:
        return submit_over_rest(experiment, config, tags or {})
    return submit_in_process(experiment, config, tags or {})


#: The step name of a sweep submitted over REST.
SWEEP_STEP = "hyperdrive"


def submit_over_rest(experiment: Any, config: HyperDriveConfig, tags: dict[str, str]) -> HyperDriveRun:
    from airflow_mlw.pipelines.graph import Pipeline
    from airflow_mlw.pipelines.hyperdrive_step import HyperDriveStep
    from airflow_mlw.runs.triggering import submit_over_rest as submit_pipeline

    step = HyperDriveStep(SWEEP_STEP, config, allow_reuse=False)
    run = submit_pipeline(Pipeline(experiment.workspace, [step]), experiment.name, {}, tags)
    return HyperDriveOverRestRun(experiment.workspace, run.id)


class HyperDriveOverRestRun(HyperDriveRun):
    """A sweep submitted over REST: the pipeline run of its one step; the sweep's methods read the
    step's run (its trials are that run's children), status and cancel are the pipeline run's."""

    def _sweep_id(self) -> str:
        from airflow_mlw.runs.pipeline_run import PipelineRun

        steps = [s for s in PipelineRun(self.workspace, self.id).get_steps() if s.name == SWEEP_STEP]
        return steps[-1].id if steps else self.id

    def get_status(self) -> str:
        from airflow_mlw.runs.pipeline_run import PipelineRun

        return PipelineRun(self.workspace, self.id).get_status()

    def wait_for_completion(
        self, show_output: bool = False, wait_post_processing: bool = False, raise_on_error: bool = True
    ) -> dict[str, Any]:
        from airflow_mlw.runs.pipeline_run import PipelineRun

        PipelineRun(self.workspace, self.id).wait_for_completion(
            show_output=False, raise_on_error=raise_on_error
        )
        return super().wait_for_completion(show_output, wait_post_processing, raise_on_error)
