"""``ScriptRunConfig``, ``Estimator``, ``Experiment.submit`` and the submitted run's handle.

A submission is a one-task Airflow DAG (the script operator of the compute target's kind), run
in this process as ``airflow dags test`` does.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from airflow_mlw.exceptions import MlwError


class _LazyModels:
    """The registry models, imported on first use (DAG files import this module at parse time)."""

    def __getattr__(self, name: str) -> Any:
        from airflow_mlw.registry import models as loaded

        return getattr(loaded, name)


models = _LazyModels()

STATUS_BY_STATE = {
    "success": "Finished",
    "failed": "Failed",
    "running": "Running",
    "queued": "Queued",
    "upstream_failed": "Canceled",
    "skipped": "Canceled",
}


class ScriptRunConfig:
    """A script, its arguments, environment and compute target (Azure's ``ScriptRunConfig``)."""

    def __init__(
        self,
        source_directory: str,
        script: str | None = None,
        arguments: list[Any] | None = None,
        run_config: Any = None,
        compute_target: Any = None,
        environment: Any = None,
        **_azure_only: Any,
    ) -> None:
        self.source_directory = str(source_directory)
        self.script = script
        self.arguments = [str(a) for a in arguments or []]
        self.run_config = run_config
        self.compute_target = (
            compute_target if compute_target is not None else getattr(run_config, "target", None)
        )
        self.environment = (
            environment if environment is not None else getattr(run_config, "environment", None)
        )


class Estimator(ScriptRunConfig):
    """Azure's ``Estimator``: an entry script with ``script_params``, an environment or packages."""

    def __init__(
        self,
        source_directory: str,
        compute_target: Any = None,
        entry_script: str | None = None,
        script_params: dict[str, Any] | None = None,
        environment_definition: Any = None,
        pip_packages: list[str] | None = None,
        conda_packages: list[str] | None = None,
        use_docker: bool | None = None,
        **_azure_only: Any,
    ) -> None:
        from airflow_mlw.environments.spec import CondaDependencies, Environment

        arguments: list[Any] = []
        for key, value in (script_params or {}).items():
            arguments.append(key)
            if value is not None and value != "":
                arguments.append(value)
        environment = environment_definition
        if environment is None and (pip_packages or conda_packages):
            environment = Environment(f"estimator-{Path(source_directory).name}")
            environment.python.conda_dependencies = CondaDependencies.create(
                pip_packages=pip_packages, conda_packages=conda_packages
            )
            environment.docker.enabled = bool(use_docker)
        super().__init__(source_directory, entry_script, arguments, None, compute_target, environment)


def dag_id_for(experiment: str, run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"mlw_experiment_{experiment}_{run_id[:8]}")


class Experiment:
    """A named group of runs (Azure's ``Experiment``)."""

    def __init__(self, workspace: Any, name: str) -> None:
        self.workspace = workspace
        self.name = name

    def submit(self, config: Any, tags: dict[str, str] | None = None, **kwargs: Any) -> Any:
        """Run a ScriptRunConfig / Estimator (one-task DAG) or a Pipeline (one task per step).

        :param kwargs: for pipelines, ``pipeline_parameters`` and ``regenerate_outputs``
        """
        from airflow_mlw.pipelines.graph import Pipeline
        from airflow_mlw.pipelines.publish import PipelineEndpoint, PublishedPipeline

        if isinstance(config, Pipeline):
            return self._submit_pipeline(config, tags or {}, **kwargs)
        if isinstance(config, PublishedPipeline):
            return config.submit(self.workspace, self.name, kwargs.get("pipeline_parameters"), tags=tags)
        if isinstance(config, PipelineEndpoint):
            return config.submit(
                self.name,
                kwargs.get("pipeline_parameters"),
                pipeline_version=kwargs.get("pipeline_version"),
                tags=tags,
            )
        if not isinstance(config, ScriptRunConfig):
            raise MlwError(f"Experiment.submit cannot run a {type(config).__name__}")
        if not config.script:
            raise MlwError("ScriptRunConfig needs a script (entry_script)")
        if self.workspace.settings.api_url:
            return self._submit_script_over_rest(config, tags or {})
        dag, run_id = self._script_dag(config, tags or {})
        from airflow_mlw.runs.inprocess import run_dag

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
        from airflow_mlw.dag_builder import pipeline_dag
        from airflow_mlw.pipelines.triggering import run_in_process, submit_over_rest

        unknown = sorted(set(pipeline_parameters or {}) - set(pipeline.parameters()))
        if unknown:
            raise MlwError(
                f"unknown pipeline parameter(s) {unknown}; the pipeline has {sorted(pipeline.parameters())}"
            )
        from airflow_mlw.pipelines.data import DataPath

        values = {
            k: v.to_json() if isinstance(v, DataPath) else v for k, v in (pipeline_parameters or {}).items()
        }
        conf = {**values, "regenerate_outputs": bool(regenerate_outputs)}
        if self.workspace.settings.api_url:
            run = submit_over_rest(pipeline, self.name, conf, tags)
        else:
            dag_id = re.sub(r"[^A-Za-z0-9_.-]", "_", f"mlw_pipeline_{self.name}")
            dag = pipeline_dag(pipeline, dag_id, experiment_name=self.name)
            run = run_in_process(self.workspace, dag, conf, self.name, tags)
        run._pipeline = pipeline
        return run

    def _submit_script_over_rest(self, config: ScriptRunConfig, tags: dict[str, str]) -> Any:
        """The script as a one-task DAG in the deployment: a one-step pipeline that never reuses."""
        from airflow_mlw.pipelines.graph import Pipeline
        from airflow_mlw.pipelines.run import ScriptOverRestRun
        from airflow_mlw.pipelines.steps import PythonScriptStep
        from airflow_mlw.pipelines.triggering import submit_over_rest

        script = str(config.script)
        if not (Path(config.source_directory) / script).is_file():
            raise MlwError(f"entry script {script!r} not found in {config.source_directory}")
        step = PythonScriptStep(
            script,
            arguments=list(config.arguments),
            compute_target=config.compute_target or "local",
            source_directory=config.source_directory,
            allow_reuse=False,
        )
        step.environment = config.environment
        run = submit_over_rest(Pipeline(self.workspace, [step]), self.name, {}, tags)
        return ScriptOverRestRun(self.workspace, run.id)

    def _script_dag(self, config: ScriptRunConfig, tags: dict[str, str]) -> tuple[Any, str]:
        from airflow.sdk import DAG

        from airflow_mlw.compute import ComputeTarget
        from airflow_mlw.environments.spec import Environment
        from airflow_mlw.operators.script import script_operator_class

        target = config.compute_target or "local"
        target_name = target if isinstance(target, str) else target.name
        compute = ComputeTarget(self.workspace, target_name)
        environment = config.environment or Environment("default")
        spec = environment.spec()
        with self.workspace.store.session(write=True) as session:
            row = models.RunRow(
                workspace_id=self.workspace._workspace_id(),
                kind="script",
                experiment_name=self.name,
                name=config.script,
                status="Queued",
                compute_target=target_name,
                tags=tags,
            )
            session.add(row)
            session.flush()
            run_id = row.id
        dag_id = dag_id_for(self.name, run_id)
        operator_class = script_operator_class(compute.kind, environment)
        kwargs: dict[str, Any] = {
            "task_id": "script",
            "source_directory": str(Path(config.source_directory).resolve()),
            "script": config.script,
            "arguments": config.arguments,
            "environment_name": environment.name,
            "environment_spec": spec,
            "compute_target": target_name,
            "run_id": run_id,
            "experiment_name": self.name,
            "workspace": self.workspace,
        }
        if operator_class.in_container:
            kwargs["compute_options"] = compute.config
        if compute.kind == "cluster":
            kwargs["queue"] = compute.config.get("queue") or target_name
        with DAG(dag_id, schedule=None, tags=["mlw", "experiment"]) as dag:
            operator_class(**kwargs)
        with self.workspace.store.session(write=True) as session:
            stored = session.get(models.RunRow, run_id)
            assert stored is not None
            stored.dag_id = dag_id
        return dag, run_id

    def get_runs(self) -> list[SubmittedRun]:
        with self.workspace.store.session() as session:
            ids = session.scalars(
                select(models.RunRow.id)
                .where(
                    models.RunRow.workspace_id == self.workspace._workspace_id(),
                    models.RunRow.experiment_name == self.name,
                )
                .order_by(models.RunRow.created_at.desc())
            ).all()
        return [SubmittedRun(self.workspace, run_id) for run_id in ids]

    @staticmethod
    def list(workspace: Any) -> list[Experiment]:
        with workspace.store.session() as session:
            names = session.scalars(
                select(models.RunRow.experiment_name)
                .where(models.RunRow.workspace_id == workspace._workspace_id())
                .distinct()
            ).all()
        return [Experiment(workspace, name) for name in sorted(n for n in names if n)]


class SubmittedRun:
    """A submitted run, read from the registry (Azure's ``Run`` as returned by ``submit``)."""

    def __init__(self, workspace: Any, run_id: str) -> None:
        self.workspace = workspace
        self.id = run_id

    def _row(self) -> Any:
        with self.workspace.store.session() as session:
            row = session.get(models.RunRow, self.id)
            if row is None:
                raise MlwError(f"run {self.id!r} not found")
            session.expunge(row)
            return row

    def _set_status(self, status: str) -> None:
        with self.workspace.store.session(write=True) as session:
            row = session.get(models.RunRow, self.id)
            if row is not None:
                row.status = status

    @property
    def experiment(self) -> Experiment:
        return Experiment(self.workspace, self._row().experiment_name or "")

    @property
    def name(self) -> str | None:
        return self._row().name

    def get_status(self) -> str:
        return self._row().status

    def wait_for_completion(
        self, show_output: bool = False, wait_post_processing: bool = False, raise_on_error: bool = True
    ) -> dict[str, Any]:
        while (status := self.get_status()) in ("NotStarted", "Queued", "Running"):
            time.sleep(1)
        if show_output:
            print(
                f"RunId: {self.id}\nExecution Summary\n=================\nStatus: {status}", file=sys.stdout
            )
            for name, value in self.get_metrics().items():
                print(f"  {name}: {value}")
        if status == "Failed" and raise_on_error:
            raise MlwError(f"run {self.id} failed; see the Airflow task log of {self._row().dag_id}")
        return self.get_details()

    def get_details(self) -> dict[str, Any]:
        row = self._row()
        return {
            "runId": row.id,
            "status": row.status,
            "experiment": row.experiment_name,
            "target": row.compute_target,
            "dag_id": row.dag_id,
            "startTimeUtc": row.started_at,
            "endTimeUtc": row.finished_at,
            "tags": row.tags,
        }

    def get_metrics(self, name: str | None = None) -> dict[str, Any]:
        """Metric name -> value; a name logged several times gives the list of its values."""
        with self.workspace.store.session() as session:
            rows = session.scalars(
                select(models.MetricRow)
                .where(models.MetricRow.run_id == self.id)
                .order_by(models.MetricRow.id)
            ).all()
        metrics: dict[str, Any] = {}
        for row in rows:
            if name is not None and row.name != name:
                continue
            if row.name in metrics and row.kind == "scalar":
                previous = metrics[row.name]
                metrics[row.name] = (previous if isinstance(previous, list) else [previous]) + [row.value]
            else:
                metrics[row.name] = row.value
        return metrics

    def get_file_names(self) -> list[str]:
        return list((self._row().properties or {}).get("files", []))

    def download_file(self, name: str, output_file_path: str | None = None) -> str:
        if name not in self.get_file_names():
            raise MlwError(f"run {self.id} has no file {name!r}")
        datastore = self.workspace.get_default_datastore()
        target = Path(output_file_path or Path(name).name)
        if target.is_dir():
            target = target / Path(name).name
        from airflow_mlw.datastores.paths import join_path

        info = datastore.backend.info(join_path(f"mlw/run-files/{self.id}", name))
        if info is None:
            raise MlwError(f"run {self.id}: file {name!r} is gone from datastore {datastore.name!r}")
        datastore.backend.get_file(info, target.resolve())
        return str(target)

    def get_tags(self) -> dict[str, str]:
        return dict(self._row().tags or {})

    def input_dataset_ids(self) -> list[str]:
        """Ids of the registered dataset versions the run read."""
        inputs = (self._row().properties or {}).get("inputs", {})
        return [str(record["id"]) for record in inputs.values() if record.get("id")]

    def register_model(
        self,
        model_name: str,
        model_path: str | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, Any] | None = None,
        description: str | None = None,
        datasets: list[Any] | None = None,
        **_azure_only: Any,
    ) -> Any:
        """Register a file or folder the run kept (``outputs/...``) as a model version linked to
        this run, its metrics and the dataset versions it read (Azure's ``run.register_model``)."""
        import tempfile

        from airflow_mlw.datastores.paths import join_path, normalize_path
        from airflow_mlw.models.model import _dataset_ids, register_model

        path = normalize_path(model_path or "outputs", what="model_path")
        kept = [name for name in self.get_file_names() if name == path or name.startswith(path + "/")]
        if not kept:
            raise MlwError(f"run {self.id} kept no file {path!r}; it has {self.get_file_names()}")
        datastore = self.workspace.get_default_datastore()
        dataset_ids = self.input_dataset_ids() + _dataset_ids(datasets)
        with tempfile.TemporaryDirectory(prefix="mlw-run-model-") as scratch:
            for name in kept:
                info = datastore.backend.info(join_path(f"mlw/run-files/{self.id}", name))
                if info is None:
                    raise MlwError(f"run {self.id}: file {name!r} is gone from datastore {datastore.name!r}")
                datastore.backend.get_file(info, Path(scratch) / name)
            return register_model(
                self.workspace,
                Path(scratch) / path,
                model_name,
                tags=tags,
                properties=properties,
                description=description,
                run_id=self.id,
                dataset_version_ids=dataset_ids,
            )

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, status={self.get_status()!r})"
