"""``Experiment``: a named group of runs; ``submit`` runs a script, a pipeline or a published one.

A script submission is a one-task Airflow DAG (the script operator of the compute target's kind),
run in this process as ``airflow dags test`` does, or over REST when ``[mlw] api_url`` is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from airflow_mlw.compute import ComputeTarget
from airflow_mlw.dag_builder import pipeline_dag, script_operator, script_run_data
from airflow_mlw.exceptions import MlwError
from airflow_mlw.execution import records
from airflow_mlw.hyperdrive.config import HyperDriveConfig
from airflow_mlw.naming import safe_id
from airflow_mlw.pipelines.data import parameter_value
from airflow_mlw.pipelines.graph import Pipeline
from airflow_mlw.pipelines.publish import PipelineEndpoint, PublishedPipeline
from airflow_mlw.pipelines.steps import PythonScriptStep
from airflow_mlw.registry.rows import ExperimentRow, RunRow
from airflow_mlw.runs.config import ScriptRunConfig
from airflow_mlw.runs.inprocess import run_dag
from airflow_mlw.runs.interactive import InteractiveRun
from airflow_mlw.runs.pipeline_run import ScriptOverRestRun
from airflow_mlw.runs.submitted import STATUS_BY_STATE, SubmittedRun, matches, run_of_kind
from airflow_mlw.runs.triggering import run_in_process, submit_over_rest
from airflow_mlw.urls import portal_url

#: Azure's ``Experiment.list(view_type=...)``.
VIEW_TYPES = ("ActiveOnly", "ArchivedOnly", "All")
#: Azure's run type names -> the kinds of run rows.
RUN_TYPES = {
    "azureml.scriptrun": "script",
    "azureml.PipelineRun": "pipeline",
    "azureml.StepRun": "step",
    "azureml.interactive": "interactive",
}


def dag_id_for(experiment: str, run_id: str) -> str:
    return safe_id(f"mlw_experiment_{experiment}_{run_id[:8]}")


class Experiment:
    """A named group of runs (Azure's ``Experiment``)."""

    def __init__(self, workspace: Any, name: str) -> None:
        self.workspace = workspace
        self.name = name

    def submit(self, config: Any, tags: dict[str, str] | None = None, **kwargs: Any) -> Any:
        """Run a ScriptRunConfig / Estimator (one-task DAG) or a Pipeline (one task per step).

        :param kwargs: for pipelines, ``pipeline_parameters`` and ``regenerate_outputs``
        """

        if isinstance(config, Pipeline):
            return self._submit_pipeline(config, tags or {}, **kwargs)
        if isinstance(config, PublishedPipeline):
            return config.submit(self.workspace, self.name, kwargs.get("pipeline_parameters"), tags=tags)
        if isinstance(config, HyperDriveConfig):
            from airflow_mlw.hyperdrive.run import submit_sweep  # it imports runs.submitted

            return submit_sweep(self, config, tags)
        if isinstance(config, PipelineEndpoint):
            return config.submit(
                self.name,
                kwargs.get("pipeline_parameters"),
                pipeline_version=kwargs.get("pipeline_version"),
                tags=tags,
            )
        if not isinstance(config, ScriptRunConfig):
            raise MlwError(f"Experiment.submit cannot run a {type(config).__name__}")
        if not config.script and not config.command:
            raise MlwError("ScriptRunConfig needs a script (entry_script) or a command")
        if config.script and config.command:
            raise MlwError(
                f"ScriptRunConfig takes a script or a command, not both ({config.script!r}, {config.command!r})"
            )
        if self.workspace.settings.api_url:
            return self._submit_script_over_rest(config, tags or {})
        dag, run_id = self._script_dag(config, tags or {})

        dag_run = run_dag(dag)
        run = SubmittedRun(self.workspace, run_id)
        if run.get_status() in ("NotStarted", "Queued", "Running"):
            run._set_status(STATUS_BY_STATE.get(str(dag_run.state), "Failed"))
        return run

    def _submit_pipeline(
        self,
        pipeline: Any,
        tags: dict[str, str],
        pipeline_parameters: dict[str, Any] | None = None,
        regenerate_outputs: bool = False,
        **_: Any,
    ) -> Any:

        unknown = sorted(set(pipeline_parameters or {}) - set(pipeline.parameters()))
        if unknown:
            raise MlwError(
                f"unknown pipeline parameter(s) {unknown}; the pipeline has {sorted(pipeline.parameters())}"
            )

        values = {k: parameter_value(v, self.workspace) for k, v in (pipeline_parameters or {}).items()}
        conf = {**values, "regenerate_outputs": bool(regenerate_outputs)}
        if self.workspace.settings.api_url:
            run = submit_over_rest(pipeline, self.name, conf, tags)
        else:
            dag_id = safe_id(f"mlw_pipeline_{self.name}")
            dag = pipeline_dag(pipeline, dag_id, experiment_name=self.name)
            run = run_in_process(self.workspace, dag, conf, self.name, tags)
        run._pipeline = pipeline
        return run

    def _submit_script_over_rest(self, config: ScriptRunConfig, tags: dict[str, str]) -> Any:
        """The script as a one-task DAG in the deployment: a one-step pipeline that never reuses."""

        if config.command is not None or config.distributed_job_config is not None:
            raise MlwError(
                "ScriptRunConfig with command= or distributed_job_config= runs in-process only for now "
                "(unset [mlw] api_url); over REST submit a script"
            )
        script = str(config.script)
        if not (Path(config.source_directory) / script).is_file():
            raise MlwError(f"entry script {script!r} not found in {config.source_directory}")
        step = PythonScriptStep(
            script,
            arguments=list(config.arguments),
            inputs=list(config.inputs),
            compute_target=config.compute_target or "local",
            source_directory=config.source_directory,
            allow_reuse=False,
        )
        step.environment = config.run_environment()
        try:
            run = submit_over_rest(Pipeline(self.workspace, [step]), self.name, {}, tags)
        finally:
            # The outputs belong to this one-off step only: the config may be submitted again.
            for output in step.outputs:
                output.origin._producer = None
        return ScriptOverRestRun(self.workspace, run.id)

    def _script_dag(self, config: ScriptRunConfig, tags: dict[str, str]) -> tuple[Any, str]:
        from airflow.sdk import DAG

        target = config.compute_target or "local"
        target_name = target if isinstance(target, str) else target.name
        compute = ComputeTarget(self.workspace, target_name)
        run_id = records.create_run(
            self.workspace,
            kind="script",
            experiment_name=self.name,
            name=config.script or config.script_and_command()[1][0],
            status="Queued",
            compute_target=target_name,
            tags=tags,
        )
        script, command = config.script_and_command()
        arguments, inputs, outputs = script_run_data(script or command[0], command, config.inputs)
        processes, per_node = config.process_counts()
        dag_id = dag_id_for(self.name, run_id)
        with DAG(dag_id, schedule=None, tags=["mlw", "experiment"]) as dag:
            script_operator(
                task_id="script",
                source_directory=str(Path(config.source_directory).resolve()),
                script=script,
                arguments=arguments,
                inputs=inputs,
                outputs=outputs,
                process_count=processes,
                processes_per_node=per_node,
                environment=config.run_environment(),
                compute_kind=compute.kind,
                compute_config=compute.config,
                compute_target=target_name,
                workspace=self.workspace,
                run_id=run_id,
                experiment_name=self.name,
            )
        records.update_run(self.workspace, run_id, dag_id=dag_id)
        return dag, run_id

    def get_portal_url(self) -> str:
        """The experiment's runs in the ML Workspace UI."""
        return portal_url(f"runs?{urlencode({'experiment': self.name})}")

    def start_logging(
        self, *args: Any, snapshot_directory: str | None = None, outputs: str | None = None, **kwargs: Any
    ) -> InteractiveRun:
        """An interactive run in this process (Azure's ``start_logging``); end it with ``complete()``."""
        return InteractiveRun.start(self, snapshot_directory, outputs, kwargs.get("display_name"))

    def get_runs(
        self,
        type: str | None = None,
        tags: Any = None,
        properties: Any = None,
        include_children: bool = False,
    ) -> list[SubmittedRun]:
        """The experiment's runs, newest first (Azure's filters; ``type``: ``script``,
        ``pipeline``, ``interactive``... or Azure's ``azureml.PipelineRun`` / ``azureml.scriptrun``)."""
        query = select(RunRow.id, RunRow.kind, RunRow.tags, RunRow.properties).where(
            RunRow.workspace_id == self.workspace._workspace_id(), RunRow.experiment_name == self.name
        )
        if not include_children:
            query = query.where(RunRow.parent_id.is_(None))
        if type is not None:
            query = query.where(RunRow.kind == RUN_TYPES.get(type, type))
        with self.workspace.store.session() as session:
            rows = session.execute(query.order_by(RunRow.created_at.desc(), RunRow.id)).all()
        return [
            run_of_kind(self.workspace, row.id, row.kind) for row in rows if matches(row, tags, properties)
        ]

    @staticmethod
    def list(
        workspace: Any, experiment_name: str | None = None, view_type: str = "ActiveOnly", tags: Any = None
    ) -> list[Experiment]:
        """The workspace's experiments by name (Azure's ``view_type``: ``ActiveOnly`` (default),
        ``ArchivedOnly`` or ``All``)."""
        if view_type not in VIEW_TYPES:
            raise MlwError(f"view_type must be one of {', '.join(VIEW_TYPES)}, not {view_type!r}")
        ws_id = workspace._workspace_id()
        with workspace.store.session() as session:
            names = set(
                session.scalars(select(RunRow.experiment_name).where(RunRow.workspace_id == ws_id).distinct())
            )
            rows = session.execute(
                select(ExperimentRow.name, ExperimentRow.archived_at).where(
                    ExperimentRow.workspace_id == ws_id
                )
            ).all()
        archived = {name for name, when in rows if when is not None}
        names |= {name for name, _ in rows}
        if experiment_name is not None:
            names &= {experiment_name}
        keep = {"ActiveOnly": lambda n: n not in archived, "ArchivedOnly": lambda n: n in archived}.get(
            view_type, lambda n: True
        )
        return [Experiment(workspace, name) for name in sorted(n for n in names if n and keep(n))]

    def archive(self) -> None:
        """Hide the experiment from ``Experiment.list`` (its runs stay); ``reactivate()`` undoes it."""
        self._set_archived(records.utcnow())

    def reactivate(self, new_name: str | None = None) -> None:
        if new_name is not None and new_name != self.name:
            raise MlwError("reactivate(new_name=...) is not supported: experiments keep their name")
        self._set_archived(None)

    @property
    def archived_time(self) -> Any:
        with self.workspace.store.session() as session:
            row = session.get(ExperimentRow, (self.workspace._workspace_id(), self.name))
            return row.archived_at if row is not None else None

    def _set_archived(self, when: Any) -> None:
        ws_id = self.workspace._workspace_id()
        with self.workspace.store.session(write=True) as session:
            self.workspace.store.insert_ignore(
                session, ExperimentRow, workspace_id=ws_id, name=self.name, created_at=records.utcnow()
            )
            row = session.get(ExperimentRow, (ws_id, self.name))
            assert row is not None
            row.archived_at = when
