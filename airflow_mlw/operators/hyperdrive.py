"""``HyperDriveStepOperator``: the task of a ``HyperDriveStep``. It drives the sweep; the trials
are script operators of the step's compute target, each a child run of the step run.

Everything a script step does around its script is inherited (reuse decided before anything
runs, inputs bound and fingerprinted, outputs committed atomically); in place of the script it
runs the sweep, then writes the trials' metrics and the best trial's model file into the outputs.
"""

from __future__ import annotations

import json
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.hyperdrive_config = hyperdrive_config
        self.metrics_output = metrics_output
        self.model_outputs = model_outputs or {}

    def execute(self, context: Context) -> dict[str, Any]:
        self._context = context
        return super().execute(context)

    def run_script(
        self, ws: Workspace, execution: ScriptExecution, environ: dict[str, str], arguments: list[str]
    ) -> None:
        from airflow_mlw.execution import records
        from airflow_mlw.hyperdrive.controller import Sweep
        from airflow_mlw.hyperdrive.trials import InProcessTrials, TrialTemplate
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
        self._sweep = Sweep(
            ws,
            execution.run_id,
            self.hyperdrive_config,
            InProcessTrials(ws, template, experiment, ti.dag_id),
            ends_run=False,
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
