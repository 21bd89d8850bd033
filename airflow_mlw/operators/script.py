"""Script operators: one base with the shared logic, one small subclass per compute kind
(``LocalScriptOperator`` here, ``DockerScriptOperator`` in ``operators.docker``).

The base prepares the working copy and run context, records status and metrics in the registry,
pushes ``{run_id, status, metrics}`` to XCom and fails with the exit code and the stderr tail.
``LocalScriptOperator`` starts a subprocess; ``DockerScriptOperator`` is the docker provider's
``DockerOperator`` running the environment's image.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw.exceptions import ComputeTargetException, MlwError
from airflow_mlw.execution.inputs import Materialized, Placement, StepInput
from airflow_mlw.operators.lean import LeanOperator

# Run-time modules (process, records, reuse, registry, datastores) are imported where used: DAG
# files import this module every time they are parsed.
if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlw.environments.spec import Environment
    from airflow_mlw.execution.process import ScriptExecution, ScriptProcess
    from airflow_mlw.workspace import Workspace


class MlwScriptOperator(LeanOperator):
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
    :param inputs: typed inputs (``airflow_mlw.execution.inputs``)
    :param outputs: output specs
    :param step_params: step ``params``, given to the script as ``AML_PARAMETER_<name>`` variables (templated)
    :param step_name: the pipeline step's name (``None`` for single script runs)
    :param process_count: processes of a distributed job (``MpiConfiguration``, ``PyTorchConfiguration``)
    :param processes_per_node: of those, per node (for ``LOCAL_RANK`` / ``NODE_RANK``)
    :param run_id: registry run id (created at submission; made here when ``None``)
    :param experiment_name: experiment of the run made here
    :param workspace: the workspace (default: ``Workspace.from_config()`` at run time)
    """

    template_fields: Sequence[str] = ("arguments", "step_params")
    in_container = False
    #: A distributed job's processes (set per operator when not 1).
    process_count = 1
    processes_per_node: int | None = None
    # Defaults of the optional arguments, set on an operator only when it differs (below).
    environment_name = "default"
    environment_spec: dict[str, Any] = {}  # noqa: RUF012  (read-only defaults)
    compute_target = "local"
    inputs: list[StepInput] = []  # noqa: RUF012
    outputs: list[dict[str, Any]] = []  # noqa: RUF012
    step_params: dict[str, Any] = {}  # noqa: RUF012
    step_name: str | None = None
    allow_reuse = True
    step_version: str | None = None
    run_id: str | None = None
    experiment_name: str | None = None
    workspace: Workspace | None = None

    def __init__(
        self,
        *,
        source_directory: str,
        script: str,
        arguments: list[str] | None = None,
        environment_name: str = "default",
        environment_spec: dict[str, Any] | None = None,
        compute_target: str = "local",
        inputs: list[StepInput] | None = None,
        outputs: list[dict[str, Any]] | None = None,
        step_params: dict[str, Any] | None = None,
        step_name: str | None = None,
        allow_reuse: bool = True,
        step_version: str | None = None,
        process_count: int = 1,
        processes_per_node: int | None = None,
        run_id: str | None = None,
        experiment_name: str | None = None,
        workspace: Workspace | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_directory = source_directory
        self.script = script
        self.arguments = [str(a) for a in arguments or []]
        # Set only when not the class default: each attribute goes through BaseOperator.__setattr__,
        # and DAG files with many steps are parsed every 30 s.
        given = {
            "environment_name": environment_name,
            "environment_spec": environment_spec or None,
            "compute_target": compute_target,
            "inputs": inputs or None,
            "outputs": outputs or None,
            "step_params": step_params or None,
            "step_name": step_name,
            "allow_reuse": allow_reuse,
            "step_version": step_version,
            "run_id": run_id,
            "experiment_name": experiment_name,
            "workspace": workspace,
        }
        cls = type(self)
        for name, value in given.items():
            if value is not None and value != getattr(cls, name):
                setattr(self, name, value)
        if process_count != 1 or processes_per_node is not None:
            self.process_count = process_count
            self.processes_per_node = processes_per_node

    @property
    def mlw_environment(self) -> Environment:
        from airflow_mlw.environments.spec import Environment

        return Environment.from_spec(self.environment_name, self.environment_spec)

    def _ensure_run_row(self, ws: Workspace, context: Context, **fields: Any) -> str:
        """The registry row of this run (made here unless the submission made it), with ``fields``."""
        from airflow_mlw.execution import records

        if self.run_id is not None:
            records.update_run(ws, self.run_id, properties={"runDefinition": self.run_definition()})
            return self.run_id
        ti = context["ti"]
        parent = records.pipeline_run_id(ws, ti.dag_id, ti.run_id) if self.step_name else None
        return records.create_run(ws, **self.new_run_fields(ti, parent, **fields))

    def new_run_fields(self, ti: Any, parent_id: str | None, **fields: Any) -> dict[str, Any]:
        """The fields of this task's new run row (``ti``: its dag_id, run_id and task_id)."""
        properties = {"runDefinition": self.run_definition(), **fields.pop("properties", {})}
        return {
            "kind": "step" if self.step_name else "script",
            "experiment_name": self.experiment_name or ti.dag_id,
            "parent_id": parent_id,
            "name": self.step_name or self.script,
            "dag_id": ti.dag_id,
            "dag_run_id": ti.run_id,
            "task_id": ti.task_id,
            "compute_target": self.compute_target,
            "properties": properties,
            **fields,
        }

    def run_definition(self) -> dict[str, Any]:
        """What the run ran (``get_details()['runDefinition']``, ``get_environment()``)."""
        return {
            "script": self.script,
            "arguments": list(self.arguments),
            "target": self.compute_target,
            "nodeCount": 1,
            "processCount": self.process_count,
            "environment": {
                "name": self.environment_name,
                "spec": self.environment_spec or self.mlw_environment.spec(),
            },
        }

    # -- paths as the script sees them (host paths here; container paths in the Docker subclass) -----

    def visible_path(self, kind: str, name: str, host_path: Path) -> str:
        return str(host_path)

    def _materialize(self, ws: Workspace, execution: ScriptExecution) -> dict[str, Materialized]:
        placement = Placement(
            folder=execution.folder,
            cache=Path(ws.settings.home) / "cache" / "outputs",
            in_container=self.in_container,
            visible_path=self.visible_path,
        )
        return {item.name: item.materialize(ws, placement) for item in self._bound_inputs}

    def _command_arguments(self, inputs: dict[str, Materialized], staging: dict[str, Path]) -> list[str]:
        import re

        from airflow_mlw.pipelines.data import MARK_PATTERN

        def replace(match: Any) -> str:
            kind, name = match.group(1), match.group(2)
            if kind == "input":
                if name not in inputs:
                    raise MlwError(f"argument names input {name!r}, which the step does not have")
                return str(inputs[name].script["path"])
            if name not in staging:
                raise MlwError(f"argument names output {name!r}, which the step does not have")
            return self.visible_path("output", name, staging[name])

        return [re.sub(MARK_PATTERN, replace, argument) for argument in self.arguments]

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
        result = self._decide_and_run(context)
        self._lineage_outputs = result.get("outputs") or {}
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """What the step read and wrote, as OpenLineage datasets (the openlineage provider asks)."""
        from airflow_mlw.execution.lineage import step_lineage
        from airflow_mlw.operators.datastore import workspace_or_configured

        return step_lineage(
            workspace_or_configured(self.workspace),
            getattr(self, "_bound_inputs", []),
            getattr(self, "_lineage_outputs", {}),
        )

    def _decide_and_run(self, context: Context) -> dict[str, Any]:
        """Reuse an earlier run's outputs when the key matches, else run the script."""
        from airflow_mlw.operators.datastore import workspace_or_configured

        ws = workspace_or_configured(self.workspace)
        self._check_compute(ws)
        # Each input bound to this DAG run once (an upstream's XCom is pulled here, and only here).
        self._bound_inputs = [item.bind(context) for item in self.inputs]
        if not self.step_name:
            return self._run(ws, context, self._ensure_run_row(ws, context))
        from airflow_mlw.execution import records, reuse

        ti = context["ti"]
        try:
            document = self.reuse_document(ws, self._bound_inputs)
        except Exception as error:
            # An input that names nothing usable fails the step before it starts; the row says why.
            run_id = self._ensure_run_row(ws, context)
            records.set_status(ws, run_id, "Failed", properties={"error": first_line(error)})
            raise
        key = reuse.reuse_key(document)
        reusable = self.allow_reuse and not self._regenerate(context)
        hit = reuse.find_hit(ws, key) if reusable else None
        # One registry write decides the row: handed over on a hit, running on a miss.
        fields = records.handover_fields(hit) if hit is not None else {}
        run_id = self._ensure_run_row(ws, context, reuse_key=key, key_document=document, **fields)
        if hit is not None:
            return self._handed_over(run_id, hit, key)
        if reusable and not reuse.acquire_lease(ws, key, run_id):
            self.log.info("another run is computing key %s: waiting to reuse its result", key[:12])
            hit = reuse.wait_for_flight(ws, key, run_id)
            if hit is not None:
                records.update_run(ws, run_id, **records.handover_fields(hit))
                return self._handed_over(run_id, hit, key)
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

    def reuse_document(
        self, ws: Workspace, bound_inputs: list[StepInput], datastores: dict[Any, Any] | None = None
    ) -> dict[str, Any]:
        """The reuse key's document of this step with ``bound_inputs`` (also the planner's, which
        shares ``datastores`` — looked-up datastores by name — across the run's steps)."""
        from airflow_mlw.execution import reuse

        return reuse.key_document(
            ws,
            datastores=datastores,
            script=self.script,
            source_directory=self.source_directory,
            arguments=self.arguments,
            params=self.step_params,
            inputs=bound_inputs,
            outputs=self.outputs,
            environment=self.environment_identity(ws),
            environment_name=self.environment_name,
            version=self.step_version,
        )

    @staticmethod
    def _regenerate(context: Context) -> bool:
        dag_run = context.get("dag_run")
        conf = (getattr(dag_run, "conf", None) or {}) if dag_run is not None else {}
        params = context.get("params") or {}
        return bool(conf.get("regenerate_outputs") or params.get("regenerate_outputs"))

    def environment_identity(self, ws: Workspace) -> str:
        """What the key holds for the environment: its spec hash (Docker: the image tag)."""
        return self.mlw_environment.spec_hash

    def _handed_over(self, run_id: str, hit: Any, key: str) -> dict[str, Any]:
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
        from airflow_mlw.execution.process import ScriptExecution, ScriptSpec, model_mounts

        ti = context["ti"]
        spec = ScriptSpec(
            self.source_directory,
            self.script,
            self.arguments,
            dict(self.mlw_environment.environment_variables),
        )
        execution = ScriptExecution(ws, run_id, spec, root=self.execution_root())
        self._run_folder = execution.folder
        try:
            try:
                inputs = self._materialize(ws, execution)
                staging = {o["name"]: execution.folder / "outputs-staging" / o["name"] for o in self.outputs}
                for folder in staging.values():
                    folder.mkdir(parents=True)
                arguments = self._command_arguments(inputs, staging)
                environ = execution.prepare(
                    {n: i.script for n, i in inputs.items()}, in_container=self.in_container
                )
                mounted = model_mounts(ws, execution.workdir, execution.folder, copy=self.in_container)
                environ.update({k: self.visible_path("dataset", k, Path(v)) for k, v in mounted.items()})
            except Exception as error:
                execution.set_status("Failed", properties={"error": first_line(error)})
                raise
            environ.update({f"AML_PARAMETER_{k}": str(v) for k, v in self.step_params.items()})
            execution.set_status("Running", task_id=ti.task_id)
            try:
                self.run_script(ws, execution, environ, arguments)
            except BaseException as error:
                execution.collect_metrics()
                failure = {"files": execution.keep_log(), "error": first_line(error)}
                execution.set_status("Failed", properties=failure)
                raise
            metrics = execution.collect_metrics()
            committed = self._commit_outputs(ws, staging, ti, run_id)
            dataset_ids = [i.record["id"] for i in inputs.values() if i.record.get("id")]
            models = execution.register_models(dataset_ids, in_container=self.in_container)
            files = execution.keep_outputs() + execution.keep_log()
            execution.set_status(
                "Finished",
                properties={
                    "files": files,
                    "inputs": {n: i.record for n, i in inputs.items()},
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
        from airflow_mlw.execution.outputs import commit_output, output_location, register_output

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
        """The script's command; a distributed job's N processes start through ``airflow_mlw.launch``."""
        # A script, a module of the runtime (``-m airflow_mlw.parallel_driver``), or a bare command.
        script = self.script.split(" ", 1) if self.script.startswith("-m ") else [self.script]
        command = [python, *script, *arguments] if self.script else list(arguments)
        if self.process_count > 1:
            per_node = self.processes_per_node or self.process_count
            launch = [python, "-m", "airflow_mlw.launch", str(self.process_count), str(per_node), "--"]
            return launch + command
        return command


class LocalScriptOperator(MlwScriptOperator):
    """A subprocess on the worker, with the environment's interpreter (a cached venv when it lists packages)."""

    runs_on = ("local", "cluster")

    def run_script(
        self, ws: Workspace, execution: ScriptExecution, environ: dict[str, str], arguments: list[str]
    ) -> None:
        from airflow_mlw.environments.virtualenv import interpreter
        from airflow_mlw.execution.process import ScriptProcess

        command = self.command_line(arguments, interpreter(self.mlw_environment, ws))
        self.log.info("running %s in %s", " ".join(command), execution.workdir)
        self._process: ScriptProcess | None = ScriptProcess(
            command, execution.workdir, environ, self.log.info, output=execution.driver_log
        )
        self._process.run(self.script)

    def on_kill(self) -> None:
        """The task was killed (marked failed, timed out): stop the script and its children."""
        process = getattr(self, "_process", None)
        if process is not None:
            self.log.info("stopping the script (process group %s)", process.process and process.process.pid)
            process.kill()


#: Operator of each compute kind, imported when needed, with what to install when the import fails.
SCRIPT_OPERATORS: dict[str, dict[str, str]] = {
    "local": {"class": "airflow_mlw.operators.script.LocalScriptOperator", "err": ""},
    "cluster": {"class": "airflow_mlw.operators.script.LocalScriptOperator", "err": ""},
    "docker": {
        "class": "airflow_mlw.operators.docker.DockerScriptOperator",
        "err": "Docker compute runs through DockerOperator: install airflow-mlw[docker] "
        "(apache-airflow-providers-docker)",
    },
    "kubernetes": {
        "class": "airflow_mlw.operators.kubernetes.KubernetesScriptOperator",
        "err": "KubernetesCompute runs through KubernetesPodOperator: install airflow-mlw[kubernetes] "
        "(apache-airflow-providers-cncf-kubernetes)",
    },
}
SCRIPT_OPERATORS["attached"] = SCRIPT_OPERATORS["docker"]


def script_operator_class(compute_kind: str, environment: Environment | None) -> type[MlwScriptOperator]:
    """The operator of a compute kind: Docker for docker/attached (and local or cluster targets with
    a Docker environment), a subprocess for local and cluster, a pod for Kubernetes (``environment``
    ``None``: the default environment)."""
    kind = kind_for(compute_kind, environment)
    entry = SCRIPT_OPERATORS.get(kind)
    if entry is None:
        raise ComputeTargetException(f"unknown compute kind {compute_kind!r}")
    module, _, name = entry["class"].rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    except ImportError:
        raise ComputeTargetException(entry["err"]) from None


def kind_for(compute_kind: str, environment: Environment | None) -> str:
    """The kind a step runs as: on local and cluster targets a Docker environment runs in Docker
    (``environment`` ``None``: the default, which does not)."""
    docker = environment is not None and environment.docker.enabled
    return "docker" if compute_kind in ("local", "cluster") and docker else compute_kind


def first_line(error: BaseException) -> str:
    """What a failed run's ``error`` property says: the first line of the error, or its type."""
    return str(error).splitlines()[0] if str(error) else type(error).__name__
