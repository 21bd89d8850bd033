"""Script operators: one base with the shared logic, one small subclass per compute kind
(``LocalScriptOperator`` here, ``DockerScriptOperator`` in ``operators.docker``).

The base prepares the working copy and run context, records status and metrics in the registry,
pushes ``{run_id, status, metrics}`` to XCom and fails with the exit code and the stderr tail.
``LocalScriptOperator`` starts a subprocess; ``DockerScriptOperator`` is the docker provider's
``DockerOperator`` running the environment's image.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_mlw.exceptions import MlwError, ScriptFailedError
from airflow_mlw.operators.links import MlwDatasetsLink, MlwOutputsLink, MlwRunLink

# Run-time modules (execution, registry, datastores) are imported where used: DAG files import
# this module every time they are parsed.
if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlw.environments.spec import Environment
    from airflow_mlw.runs.execution import ScriptExecution
    from airflow_mlw.workspace import Workspace


class MlwScriptOperator(BaseOperator):
    """Run ``python <script> <arguments>`` from a snapshot of ``source_directory`` in an environment.

    As a pipeline step it also materialises ``inputs`` (registered datasets, upstream outputs,
    datastore paths), gives each output an empty folder, commits the outputs atomically after the
    script succeeds and pushes their locations and fingerprints to XCom.

    :param source_directory: folder with the script and its helpers
    :param script: the entry script, relative to ``source_directory`` (empty: ``arguments`` is the command)
    :param arguments: command-line arguments (templated); ``@mlw:input:<name>@`` and
        ``@mlw:output:<name>@`` become the input's and output's paths
    :param environment_name: environment name (shown in logs)
    :param environment_spec: the environment's spec (``Environment.spec()``)
    :param compute_target: compute target name
    :param inputs: input specs (see ``airflow_mlw.dag_builder``)
    :param outputs: output specs
    :param step_params: step ``params``, given to the script as ``AML_PARAMETER_<name>`` variables (templated)
    :param step_name: the pipeline step's name (``None`` for single script runs)
    :param run_id: registry run id (created at submission; made here when ``None``)
    :param experiment_name: experiment of the run made here
    :param workspace: the workspace (default: ``Workspace.from_config()`` at run time)
    """

    template_fields: Sequence[str] = ("arguments", "step_params")
    operator_extra_links = (MlwRunLink(), MlwOutputsLink(), MlwDatasetsLink())
    in_container = False

    def __init__(
        self,
        *,
        source_directory: str,
        script: str,
        arguments: list[str] | None = None,
        environment_name: str = "default",
        environment_spec: dict[str, Any] | None = None,
        compute_target: str = "local",
        inputs: list[dict[str, Any]] | None = None,
        outputs: list[dict[str, Any]] | None = None,
        step_params: dict[str, Any] | None = None,
        step_name: str | None = None,
        allow_reuse: bool = True,
        step_version: str | None = None,
        run_id: str | None = None,
        experiment_name: str | None = None,
        workspace: Workspace | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_directory = source_directory
        self.script = script
        self.arguments = [str(a) for a in arguments or []]
        self.environment_name = environment_name
        self.environment_spec = environment_spec or {}
        self.compute_target = compute_target
        self.inputs = inputs or []
        self.outputs = outputs or []
        self.step_params = step_params or {}
        self.step_name = step_name
        self.allow_reuse = allow_reuse
        self.step_version = step_version
        self.run_id = run_id
        self.experiment_name = experiment_name
        self.workspace = workspace

    @property
    def mlw_environment(self) -> Environment:
        from airflow_mlw.environments.spec import Environment

        return Environment.from_spec(self.environment_name, self.environment_spec)

    def _ensure_run_row(self, ws: Workspace, context: Context, **fields: Any) -> str:
        """The registry row of this run (made here unless the submission made it), with ``fields``."""
        from airflow_mlw.registry.models import RunRow

        if self.run_id is not None:
            return self.run_id
        ti = context["ti"]
        parent = pipeline_run_id(ws, ti.dag_id, ti.run_id) if self.step_name else None
        with ws.store.session(write=True) as session:
            row = RunRow(
                workspace_id=ws._workspace_id(),
                kind="step" if self.step_name else "script",
                experiment_name=self.experiment_name or ti.dag_id,
                parent_id=parent,
                name=self.step_name or self.script,
                dag_id=ti.dag_id,
                dag_run_id=ti.run_id,
                task_id=ti.task_id,
                compute_target=self.compute_target,
                **fields,
            )
            session.add(row)
            session.flush()
            return row.id

    # -- paths as the script sees them (host paths here; container paths in the Docker subclass) -----

    def visible_path(self, kind: str, name: str, host_path: Path) -> str:
        return str(host_path)

    @staticmethod
    def _bound(spec: dict[str, Any], context: Context) -> dict[str, Any]:
        """A data-path parameter's input as a datastore path, from this run's parameter value."""
        if spec["type"] != "datapath_param":
            return spec
        from airflow_mlw.pipelines.schedule import triggered_data_path

        # A run triggered by a datastore-change schedule points the parameter at the changed files.
        value = (
            triggered_data_path(context, spec["param"])
            or (context.get("params") or {}).get(spec["param"])
            or {}
        )
        if not isinstance(value, dict) or "RelativePath" not in value:
            raise MlwError(
                f"parameter {spec['param']!r} must be {{'DataStoreName': ..., 'RelativePath': ...}}, not {value!r}"
            )
        return {
            "name": spec["name"],
            "type": "datastore_path",
            "datastore": value.get("DataStoreName"),
            "path": value["RelativePath"],
            "mode": spec["mode"],
        }

    def _resolve_inputs(
        self, ws: Workspace, execution: ScriptExecution, context: Context
    ) -> dict[str, dict[str, Any]]:
        from airflow_mlw.pipelines.io import materialize_dataset, materialize_output

        resolved: dict[str, dict[str, Any]] = {}
        cache = Path(ws.settings.home) / "cache" / "outputs"
        for spec in (self._bound(s, context) for s in self.inputs):
            name = spec["name"]
            if spec["type"] == "pipeline_data":
                record = context["ti"].xcom_pull(task_ids=spec["producer_task"], key="return_value")
                if not record or spec["output"] not in record.get("outputs", {}):
                    raise MlwError(
                        f"input {name!r}: step {spec['producer_task']!r} pushed no output {spec['output']!r}"
                    )
                output = record["outputs"][spec["output"]]
                host = materialize_output(ws, output, cache)
                resolved[name] = {
                    "host": host,
                    "script": {
                        "path": self.visible_path("input", name, host),
                        "kind": "file",
                        "fingerprint": output["fingerprint"],
                    },
                    "record": output,
                }
            elif spec["type"] == "dataset":
                mode = "download" if self.in_container else spec.get("mode") or "mount"
                target = execution.folder / "inputs" / name
                script_spec = materialize_dataset(ws, {**spec, "mode": mode}, target)
                script_spec["path"] = self.visible_path("dataset", name, Path(script_spec["path"]))
                resolved[name] = {"host": target, "script": script_spec, "record": script_spec}
            elif spec["type"] == "datastore_path":
                from airflow_mlw.datastores import Datastore
                from airflow_mlw.datastores.local import LocalBackend

                datastore = Datastore(ws, spec.get("datastore"))
                if isinstance(datastore.backend, LocalBackend) and not self.in_container:
                    host = datastore.backend.full_path(spec.get("path") or "")
                else:
                    target = execution.folder / "inputs" / name
                    datastore.download(target, prefix=spec.get("path"), overwrite=True, show_progress=False)
                    host = target / (spec.get("path") or "")
                resolved[name] = {
                    "host": host,
                    "script": {"path": self.visible_path("dataset", name, host), "kind": "file"},
                    "record": {"datastore": datastore.name, "path": spec.get("path")},
                }
            else:
                raise MlwError(f"input {name!r}: unknown input type {spec['type']!r}")
        return resolved

    def _command_arguments(self, inputs: dict[str, dict[str, Any]], staging: dict[str, Path]) -> list[str]:
        from airflow_mlw.pipelines.data import MARK_RE

        def replace(match: Any) -> str:
            kind, name = match.group(1), match.group(2)
            if kind == "input":
                if name not in inputs:
                    raise MlwError(f"argument names input {name!r}, which the step does not have")
                return str(inputs[name]["script"]["path"])
            if name not in staging:
                raise MlwError(f"argument names output {name!r}, which the step does not have")
            return self.visible_path("output", name, staging[name])

        return [MARK_RE.sub(replace, argument) for argument in self.arguments]

    #: Compute kinds this operator runs on (a named target of another kind is refused at run time).
    runs_on: tuple[str, ...] = ("local", "cluster", "docker", "attached")

    def _check_compute(self, ws: Workspace) -> None:
        """A target named by string is resolved here; one this operator cannot honour is an error."""
        from airflow_mlw.compute import ComputeTarget

        if self.compute_target in ("local", None):
            return
        kind = ComputeTarget(ws, self.compute_target).kind
        if kind not in self.runs_on:
            raise MlwError(
                f"compute target {self.compute_target!r} is a {kind} target, which {type(self).__name__} cannot run; "
                "pass the ComputeTarget object (not its name) to the step, or enable Docker in its environment"
            )

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlw.operators.datastore import workspace_or_configured

        ws = workspace_or_configured(self.workspace)
        self._check_compute(ws)
        if not self.step_name:
            return self._run(ws, context, self._ensure_run_row(ws, context))
        from airflow_mlw.pipelines import reuse

        ti = context["ti"]
        document = self._key_document(ws, context)
        key = reuse.reuse_key(document)
        reusable = self.allow_reuse and not self._regenerate(context)
        hit = reuse.find_hit(ws, key) if reusable else None
        # One registry write decides the row: handed over on a hit, running on a miss.
        fields = self._handover_fields(hit) if hit is not None else {}
        run_id = self._ensure_run_row(ws, context, reuse_key=key, key_document=document, **fields)
        if hit is not None:
            return self._handed_over(ws, run_id, hit, key)
        if reusable and not reuse.acquire_lease(ws, key, run_id):
            self.log.info("another run is computing key %s: waiting to reuse its result", key[:12])
            hit = reuse.wait_for_flight(ws, key, run_id)
            if hit is not None:
                self._update_row(ws, run_id, self._handover_fields(hit))
                return self._handed_over(ws, run_id, hit, key)
        if reusable:
            previous = reuse.last_run_of_step(ws, self.step_name, ti.dag_id, run_id)
            self.log.info(
                "not reused %s (key %s): %s",
                self.step_name,
                key[:12],
                "; ".join(reuse.explain(previous, document)),
            )
        else:
            reason = "allow_reuse=False" if not self.allow_reuse else "regenerate_outputs"
            self.log.info("running %s without reuse (%s)", self.step_name, reason)
        try:
            return self._run(ws, context, run_id)
        finally:
            reuse.release_lease(ws, key, run_id)

    @staticmethod
    def _regenerate(context: Context) -> bool:
        dag_run = context.get("dag_run")
        conf = (getattr(dag_run, "conf", None) or {}) if dag_run is not None else {}
        params = context.get("params") or {}
        return bool(conf.get("regenerate_outputs") or params.get("regenerate_outputs"))

    def environment_identity(self, ws: Workspace) -> str:
        """What the key holds for the environment: its spec hash (Docker: the image tag)."""
        return self.mlw_environment.spec_hash

    def _key_document(self, ws: Workspace, context: Context) -> dict[str, Any]:
        """The reuse key's document; reads listings and the registry, never input data."""
        from airflow_mlw.datastores import Datastore
        from airflow_mlw.datastores.checksums import memo_for_home
        from airflow_mlw.pipelines.reuse import KEY_SCHEMA, source_tree

        tree, files = source_tree(self.source_directory, memo_for_home(ws.settings.home))
        inputs, inputs_info = {}, {}
        for spec in (self._bound(s, context) for s in self.inputs):
            fingerprint, info = self._input_fingerprint(ws, spec, context)
            inputs[spec["name"]], inputs_info[spec["name"]] = fingerprint, info
        outputs = {}
        for spec in self.outputs:
            datastore = Datastore(ws, spec.get("datastore"))
            outputs[spec["name"]] = {
                "datastore": datastore.kind,
                **datastore.config,
                "destination": spec.get("destination"),
            }
        return {
            "key": {
                "schema": KEY_SCHEMA,
                "step_type": "script" if self.script else "command",
                "script": self.script,
                "source": tree,
                "arguments": list(self.arguments),
                "params": dict(self.step_params),
                "inputs": inputs,
                "outputs": outputs,
                "environment": self.environment_identity(ws),
                "version": self.step_version,
            },
            "info": {"source_files": files, "inputs": inputs_info, "environment_name": self.environment_name},
        }

    def _input_fingerprint(
        self, ws: Workspace, spec: dict[str, Any], context: Context
    ) -> tuple[str, dict[str, Any]]:
        from airflow_mlw.datasets.manifest import build_manifest
        from airflow_mlw.datasets.sources import Source

        if spec["type"] == "pipeline_data":
            record = context["ti"].xcom_pull(task_ids=spec["producer_task"], key="return_value") or {}
            output = record.get("outputs", {}).get(spec["output"])
            if output is None:
                raise MlwError(
                    f"input {spec['name']!r}: step {spec['producer_task']!r} pushed no output {spec['output']!r}"
                )
            return output["fingerprint"], {"producer": spec["producer_task"]}
        if spec["type"] == "dataset":
            if spec.get("dataset_name"):
                from airflow_mlw.datasets.versioning import load_version

                record = load_version(ws, spec["dataset_name"], spec.get("version") or "latest")
                return record.fingerprint, {"dataset": record.name, "version": record.version}
            sources = [Source.from_json(item) for item in spec["definition"]["sources"]]
            return build_manifest(ws, sources)[0].fingerprint, {}
        manifest, _ = build_manifest(ws, [Source(spec.get("datastore"), spec.get("path") or "")])
        return manifest.fingerprint, {"datastore": spec.get("datastore"), "path": spec.get("path")}

    @staticmethod
    def _update_row(ws: Workspace, run_id: str, fields: dict[str, Any]) -> None:
        from airflow_mlw.registry.models import RunRow

        with ws.store.session(write=True) as session:
            row = session.get(RunRow, run_id)
            if row is not None:
                for name, value in fields.items():
                    setattr(row, name, value)

    @staticmethod
    def _handover_fields(hit: Any) -> dict[str, Any]:
        from airflow_mlw.registry.models import utcnow

        now = utcnow()
        return {
            "status": "Finished",
            "reused_from_id": hit.reused_from_id or hit.id,
            "outputs": dict(hit.outputs or {}),
            "started_at": now,
            "finished_at": now,
            "properties": {"reused": True},
        }

    def _handed_over(self, ws: Workspace, run_id: str, hit: Any, key: str) -> dict[str, Any]:
        """The earlier run's outputs as this step's result: no container, no input read, no build."""
        origin = hit.reused_from_id or hit.id
        self.log.info("reused %s from %s/%s (key %s)", self.step_name, hit.dag_id, hit.dag_run_id, key[:12])
        return {
            "run_id": run_id,
            "status": "Finished",
            "outputs": dict(hit.outputs or {}),
            "reused_from": origin,
        }

    def _run(self, ws: Workspace, context: Context, run_id: str) -> dict[str, Any]:
        """Materialise inputs, run the script, commit outputs, record metrics."""
        ti = context["ti"]
        from airflow_mlw.runs.execution import ScriptExecution, ScriptSpec

        spec = ScriptSpec(
            self.source_directory,
            self.script,
            self.arguments,
            dict(self.mlw_environment.environment_variables),
        )
        execution = ScriptExecution(ws, run_id, spec, root=self.execution_root())
        self._run_folder = execution.folder
        try:
            inputs = self._resolve_inputs(ws, execution, context)
            staging = {o["name"]: execution.folder / "outputs-staging" / o["name"] for o in self.outputs}
            for folder in staging.values():
                folder.mkdir(parents=True)
            arguments = self._command_arguments(inputs, staging)
            environ = execution.prepare(
                {n: i["script"] for n, i in inputs.items()}, in_container=self.in_container
            )
            environ.update({f"AML_PARAMETER_{k}": str(v) for k, v in self.step_params.items()})
            execution.set_status("Running", task_id=ti.task_id)
            try:
                self.run_script(ws, execution, environ, arguments)
            except BaseException:
                execution.collect_metrics()
                execution.set_status("Failed")
                raise
            metrics = execution.collect_metrics()
            committed = self._commit_outputs(ws, staging, ti, run_id)
            dataset_ids = [i["record"]["id"] for i in inputs.values() if i["record"].get("id")]
            models = execution.register_models(dataset_ids, in_container=self.in_container)
            files = execution.keep_outputs()
            execution.set_status(
                "Finished",
                properties={
                    "files": files,
                    "inputs": {n: i["record"] for n, i in inputs.items()},
                    "models": models,
                },
                outputs=committed,
            )
        finally:
            execution.cleanup()
        return {
            "run_id": run_id,
            "status": "Finished",
            "metrics": metrics,
            "outputs": committed,
            "models": models,
        }

    def _commit_outputs(
        self, ws: Workspace, staging: dict[str, Path], ti: Any, run_id: str
    ) -> dict[str, Any]:
        from airflow_mlw.pipelines.io import commit_output, output_location

        committed = {}
        for spec in self.outputs:
            location = output_location(spec, ti.dag_id, ti.run_id, self.step_name or ti.task_id)
            record = commit_output(
                ws,
                spec,
                staging[spec["name"]],
                location,
                {"dag_id": ti.dag_id, "run_id": ti.run_id, "step_run": run_id},
            )
            if spec.get("register"):
                record["dataset"] = register_output(ws, record, spec["register"])
            committed[spec["name"]] = record
        return committed

    def run_script(
        self, ws: Workspace, execution: ScriptExecution, environ: dict[str, str], arguments: list[str]
    ) -> None:
        raise NotImplementedError

    def execution_root(self) -> Path | None:
        """Where working copies go (``None``: the temp folder; pods need a shared volume)."""
        return None

    def command_line(self, arguments: list[str], python: str = "python") -> list[str]:
        return [python, self.script, *arguments] if self.script else list(arguments)


def register_output(ws: Workspace, record: dict[str, Any], register: dict[str, Any]) -> dict[str, Any]:
    """Register a committed output as a dataset version (``PipelineData.as_dataset().register``)."""
    from airflow_mlw.datasets import Dataset
    from airflow_mlw.datastores import Datastore

    source = (Datastore(ws, record["datastore"]), record["path"])
    definition: Any = (
        Dataset.Tabular.from_delimited_files(source, **register["tabular"])
        if register.get("tabular")
        else Dataset.File.from_files(source)
    )
    dataset = definition.register(
        ws,
        register["name"],
        tags=register.get("tags"),
        create_new_version=register.get("create_new_version", True),
    )
    return {
        "name": dataset.name,
        "version": dataset.version,
        "fingerprint": dataset.fingerprint,
        "id": dataset.id,
    }


def pipeline_run_id(ws: Workspace, dag_id: str, dag_run_id: str) -> str:
    """The pipeline run of a DAG run: one registry row per DAG run, made by its first step."""
    import hashlib

    from airflow_mlw.registry.models import RunRow, utcnow

    run_id = hashlib.sha256(f"{ws.name}/{dag_id}/{dag_run_id}".encode()).hexdigest()[:32]
    with ws.store.session() as session:
        if session.get(RunRow, run_id) is not None:
            return run_id
    with ws.store.session(write=True) as session:
        ws.store.insert_ignore(
            session,
            RunRow,
            id=run_id,
            workspace_id=ws._workspace_id(),
            kind="pipeline",
            experiment_name=dag_id,
            name=dag_id,
            dag_id=dag_id,
            dag_run_id=dag_run_id,
            status="Running",
            outputs={},
            tags={},
            properties={},
            created_at=utcnow(),
        )
    return run_id


class LocalScriptOperator(MlwScriptOperator):
    """A subprocess on the worker, with the environment's interpreter (a cached venv when it lists packages)."""

    runs_on = ("local", "cluster")

    def run_script(
        self, ws: Workspace, execution: ScriptExecution, environ: dict[str, str], arguments: list[str]
    ) -> None:
        import os

        from airflow_mlw.environments.virtualenv import interpreter
        from airflow_mlw.runs.execution import STDERR_TAIL, failure_message

        command = self.command_line(arguments, interpreter(self.mlw_environment, ws))
        self.log.info("running %s in %s", " ".join(command), execution.workdir)
        process = subprocess.Popen(
            command,
            cwd=execution.workdir,
            env={**os.environ, **environ},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        tail: list[str] = []

        def pump_stderr() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                self.log.info("[stderr] %s", line.rstrip())
                tail.append(line.rstrip())
                del tail[:-STDERR_TAIL]

        reader = threading.Thread(target=pump_stderr, daemon=True)
        reader.start()
        assert process.stdout is not None
        for line in process.stdout:
            self.log.info("%s", line.rstrip())
        code = process.wait()
        reader.join()
        if code != 0:
            raise ScriptFailedError(failure_message(self.script, code, tail))


def script_operator_class(compute_kind: str, environment: Environment) -> type[MlwScriptOperator]:
    """The operator of a compute kind: Docker for docker/attached (and clusters with a Docker
    environment), a subprocess for local (and clusters without)."""
    from airflow_mlw.exceptions import ComputeTargetException

    if compute_kind in ("docker", "attached") or (
        compute_kind in ("local", "cluster") and environment.docker.enabled
    ):
        from airflow_mlw.operators.docker import DockerScriptOperator

        return DockerScriptOperator
    if compute_kind in ("local", "cluster"):
        return LocalScriptOperator
    if compute_kind == "kubernetes":
        try:
            from airflow_mlw.operators.kubernetes import KubernetesScriptOperator
        except ImportError:
            raise ComputeTargetException(
                "KubernetesCompute runs through KubernetesPodOperator: install airflow-mlw[kubernetes] "
                "(apache-airflow-providers-cncf-kubernetes)"
            ) from None
        return KubernetesScriptOperator
    raise ComputeTargetException(f"unknown compute kind {compute_kind!r}")
