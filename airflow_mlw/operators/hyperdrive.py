"""``HyperDriveStepOperator``: the task of a ``HyperDriveStep``. It drives the sweep; the trials
are script operators of the step's compute target, each a child run of the step run.

Everything a script step does around its script is inherited (reuse decided before anything
runs, inputs bound and fingerprinted, outputs committed atomically); in place of the script it
runs the sweep, then writes the trials' metrics and the best trial's model file into the outputs.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw.exceptions import MlwError
from airflow_mlw.operators.script import MlwScriptOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlw.execution.process import ScriptExecution
    from airflow_mlw.workspace import Workspace


class HyperDriveStepOperator(MlwScriptOperator):
    """Run a sweep of the step's script as its task (trials on the step's compute target).

    :param hyperdrive_config: the sweep (``HyperDriveConfig``)
    :param metrics_output: the output that gets every trial's metrics (``metrics_data``)
    :param model_outputs: output name -> the best trial's file it gets (``outputs/model.pkl``)
    """

    # The sweep itself needs no container: its trials run on the compute target.
    runs_on = ("local", "cluster", "docker", "attached")

    def __init__(
        self,
        *,
        hyperdrive_config: Any,
        metrics_output: str | None = None,
        model_outputs: dict[str, str] | None = None,
        compute_kind: str = "local",
        compute_config: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.hyperdrive_config = hyperdrive_config
        self.metrics_output = metrics_output
        self.model_outputs = model_outputs or {}
        self.trial_dag_id: str | None = None
        if self.has_dag():
            self.trial_dag_id = trial_dag(self, compute_kind, compute_config or {}).dag_id

    def execute(self, context: Context) -> dict[str, Any]:
        self._context = context
        return super().execute(context)

    def run_script(
        self, ws: Workspace, execution: ScriptExecution, environ: dict[str, str], arguments: list[str]
    ) -> None:
        from airflow_mlw.execution import records
        from airflow_mlw.hyperdrive.controller import Sweep
        from airflow_mlw.hyperdrive.trials import (
            AirflowTrials,
            InProcessTrials,
            TrialTemplate,
            under_airflow_supervisor,
        )
        from airflow_mlw.registry.rows import RunRow

        ti = self._context["ti"]
        with ws.store.session() as session:
            row = session.get(RunRow, execution.run_id)
            experiment = (row.experiment_name if row is not None else None) or ti.dag_id
        template = TrialTemplate(
            source_directory=self.source_directory,
            script=self.script,
            arguments=list(self.arguments),
            inputs=list(self._bound_inputs),
            outputs=[],
            environment=self.mlw_environment,
            compute_target=self.compute_target,
        )
        definition = {"definition": self.hyperdrive_config.sweep_definition(), "trials": {}}
        records.set_status(ws, execution.run_id, "Running", properties={"hyperdrive": definition})
        launcher: Any
        if self.trial_dag_id and under_airflow_supervisor():
            # On a deployment: each trial a DAG run on the target's queue and pool, placed by Airflow.
            metric = self.hyperdrive_config.primary_metric_name
            launcher = AirflowTrials(ws, template, experiment, self.trial_dag_id, metric)
        else:
            launcher = InProcessTrials(ws, template, experiment, ti.dag_id)
        self._sweep = Sweep(
            ws,
            execution.run_id,
            self.hyperdrive_config,
            launcher,
            ends_run=False,
            recorded=earlier_attempt_trials(ws, execution.run_id, ti)
            if isinstance(launcher, AirflowTrials)
            else None,
        )
        status = self._sweep.run()
        if status != "Finished":
            raise MlwError(f"sweep {execution.run_id} {status.lower()}: {self._sweep.error or 'canceled'}")
        self._write_outputs(ws, execution)

    def _write_outputs(self, ws: Workspace, execution: ScriptExecution) -> None:
        from airflow_mlw.execution import records
        from airflow_mlw.pipelines.hyperdrive_step import METRICS_FILE
        from airflow_mlw.registry.rows import RunRow

        staging = execution.folder / "outputs-staging"
        trials = list(self._sweep.trials)
        if self.metrics_output:
            metrics = {}
            for trial in trials:
                logged = records.fold_metrics(records.load_metrics(ws, trial.run_id))
                metrics[trial.run_id] = {k: v if isinstance(v, list) else [v] for k, v in logged.items()}
            (staging / self.metrics_output / METRICS_FILE).write_text(json.dumps(metrics, default=str))
        if not self.model_outputs:
            return
        ranked = [(t.best, t.run_id) for t in trials if t.best is not None]
        if not ranked:
            metric = self.hyperdrive_config.primary_metric_name
            raise MlwError(f"sweep {execution.run_id}: no trial logged {metric!r}")
        best_value, best_id = (max if self.hyperdrive_config.maximize else min)(ranked)
        with ws.store.session() as session:
            row = session.get(RunRow, best_id)
            kept = list((row.properties or {}).get("files", [])) if row is not None else []
        datastore = ws.get_default_datastore()
        for name, model_file in self.model_outputs.items():
            info = (
                datastore.backend.info(f"mlw/run-files/{best_id}/{model_file}")
                if model_file in kept
                else None
            )
            if info is None:
                raise MlwError(
                    f"output {name!r}: the best trial {best_id} kept no {model_file!r} (it kept {kept})"
                )
            datastore.backend.get_file(info, (staging / name / Path(model_file).name).resolve())
        self.log.info(
            "best trial %s (%s=%s): its %s went to %s",
            best_id,
            self.hyperdrive_config.primary_metric_name,
            best_value,
            ", ".join(self.model_outputs.values()),
            ", ".join(self.model_outputs),
        )

    def on_kill(self) -> None:
        """The task was killed: every running trial is stopped (processes, containers)."""
        sweep = getattr(self, "_sweep", None)
        if sweep is not None:
            sweep.stop("the sweep's task was killed")


def earlier_attempt_trials(ws: Workspace, run_id: str, ti: Any) -> dict[str, Any]:
    """The trials recorded by an earlier attempt of this task in this DAG run (its process was
    lost: the task is retried and the sweep goes on from them); that attempt's row is marked so."""
    from sqlalchemy import select

    from airflow_mlw.execution import records
    from airflow_mlw.registry.rows import RunRow

    with ws.store.session() as session:
        rows = session.scalars(
            select(RunRow)
            .where(RunRow.dag_id == ti.dag_id, RunRow.dag_run_id == ti.run_id, RunRow.task_id == ti.task_id)
            .where(RunRow.id != run_id, RunRow.kind == "step")
            .order_by(RunRow.created_at.desc())
        ).all()
        earlier = [
            (r.id, r.status, (r.properties or {}).get("hyperdrive", {}).get("trials", {})) for r in rows
        ]
    trials: dict[str, Any] = {}
    for earlier_id, status, recorded in earlier:
        for trial_id, record in recorded.items():
            trials.setdefault(trial_id, record)
        if status not in records.TERMINAL:
            records.set_status(
                ws, earlier_id, "Failed", properties={"error": f"the sweep went on in {run_id}"}
            )
    return trials


class HyperDriveTrialMixin:
    """One trial as a task of the trial DAG: the run id and sampled values come with the DAG run's
    ``conf``; while the script runs, what it logged goes to the trial's run row (``properties[
    "live"]``: the sweep's policy reads it), and a stop asked on the row stops the script."""

    #: Seconds between two looks at the script's metrics file and the trial's row.
    WATCH_SECONDS = 0.25
    arguments: list[str]
    run_id: str | None

    def execute(self, context: Any) -> Any:
        from airflow_mlw.hyperdrive.trials import trial_arguments

        conf = getattr(context.get("dag_run"), "conf", None) or {}
        if "trial_run_id" not in conf:
            raise MlwError(
                "a HyperDrive trial DAG runs only when its sweep starts it (conf has no trial_run_id)"
            )
        self.run_id = conf["trial_run_id"]
        self.arguments = trial_arguments(list(self.arguments), conf.get("hyperparameters") or {})
        done = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(done,), daemon=True)
        watcher.start()
        try:
            return super().execute(context)  # type: ignore[misc]
        finally:
            done.set()
            watcher.join(5)

    def _watch(self, done: threading.Event) -> None:
        from airflow_mlw.hyperdrive.trials import STOP_TAG
        from airflow_mlw.operators.datastore import workspace_or_configured
        from airflow_mlw.registry.rows import RunRow

        ws = workspace_or_configured(self.workspace)  # type: ignore[attr-defined]
        sent = 0
        while not done.wait(self.WATCH_SECONDS):
            with ws.store.session() as session:
                row = session.get(RunRow, self.run_id)
                stop = row is not None and STOP_TAG in (row.tags or {})
            if stop:
                self.on_kill()  # type: ignore[attr-defined]
                continue
            live = self._logged()
            count = sum(len(values) for values in live.values())
            if count > sent:
                sent = count
                with ws.store.session(write=True) as session:
                    row = session.get(RunRow, self.run_id)
                    if row is not None and row.status == "Running":
                        row.properties = {**(row.properties or {}), "live": live}

    def _logged(self) -> dict[str, list[Any]]:
        """The scalars the script logged so far, name -> values."""
        folder = getattr(self, "_run_folder", None)
        if folder is None:
            return {}
        try:
            lines = (Path(folder) / "metrics.jsonl").read_text().splitlines()
        except OSError:
            return {}
        live: dict[str, list[Any]] = {}
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("kind") == "scalar" and not record.get("run"):
                live.setdefault(record["name"], []).append(record.get("value"))
        return live


def trial_dag(sweep: HyperDriveStepOperator, compute_kind: str, compute_config: dict[str, Any]) -> Any:
    """The DAG of a sweep's trials (``<dag>.<task>.trials``): one task, the script operator of the
    step's compute target on its queue and pool, started once per trial by the sweep's task."""
    from airflow.sdk import DAG

    from airflow_mlw.environments.spec import Environment
    from airflow_mlw.operators.script import script_operator_class

    base = script_operator_class(
        compute_kind, Environment.from_spec(sweep.environment_name, sweep.environment_spec)
    )
    trial_class = type(f"HyperDriveTrial{base.__name__}", (HyperDriveTrialMixin, base), {})
    kwargs: dict[str, Any] = {
        "task_id": "trial",
        "source_directory": sweep.source_directory,
        "script": sweep.script,
        "arguments": list(sweep.arguments),
        "environment_name": sweep.environment_name,
        "environment_spec": sweep.environment_spec,
        "compute_target": sweep.compute_target,
        "workspace": sweep.workspace,
        "inputs": list(sweep.inputs),
    }
    if base.in_container:
        kwargs["compute_options"] = compute_config
    if compute_kind == "cluster":
        kwargs["queue"] = compute_config.get("queue") or sweep.compute_target
        kwargs["pool"] = f"mlw-{sweep.compute_target}"
    # Never paused: its runs are started by the sweep, which waits for them.
    with DAG(
        f"{sweep.dag_id}.{sweep.task_id}.trials",
        schedule=None,
        tags=["mlw", "hyperdrive-trials"],
        is_paused_upon_creation=False,
    ) as dag:
        trial_class(**kwargs)
    return dag
