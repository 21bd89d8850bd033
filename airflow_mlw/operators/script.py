"""Script operators: one base with the shared logic, one small subclass per compute kind.

The base prepares the working copy and run context, records status and metrics in the registry,
pushes ``{run_id, status, metrics}`` to XCom and fails with the exit code and the stderr tail.
``LocalScriptOperator`` starts a subprocess; ``DockerScriptOperator`` is the docker provider's
``DockerOperator`` running the environment's image.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.docker.operators.docker import DockerOperator
from airflow.sdk import BaseOperator

from airflow_mlw.exceptions import ScriptFailedError
from airflow_mlw.operators.datastore import workspace_or_configured
from airflow_mlw.runs.execution import (
    RUNTIME_MOUNT,
    STDERR_TAIL,
    ScriptExecution,
    ScriptSpec,
    failure_message,
    runtime_path,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlw.environments.spec import Environment
    from airflow_mlw.workspace import Workspace


class MlwScriptOperator(BaseOperator):
    """Run ``python <script> <arguments>`` from a snapshot of ``source_directory`` in an environment.

    :param source_directory: folder with the script and its helpers
    :param script: the entry script, relative to ``source_directory``
    :param arguments: command-line arguments (templated)
    :param environment_name: environment name (shown in logs)
    :param environment_spec: the environment's spec (``Environment.spec()``)
    :param compute_target: compute target name
    :param run_id: registry run id (created at submission; made here when ``None``)
    :param experiment_name: experiment of the run made here
    :param workspace: the workspace (default: ``Workspace.from_config()`` at run time)
    """

    template_fields: Sequence[str] = ("arguments",)

    def __init__(
        self,
        *,
        source_directory: str,
        script: str,
        arguments: list[str] | None = None,
        environment_name: str = "default",
        environment_spec: dict[str, Any] | None = None,
        compute_target: str = "local",
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
        self.run_id = run_id
        self.experiment_name = experiment_name
        self.workspace = workspace

    @property
    def mlw_environment(self) -> Environment:
        from airflow_mlw.environments.spec import Environment

        return Environment.from_spec(self.environment_name, self.environment_spec)

    def _ensure_run_row(self, ws: Workspace, context: Context) -> str:
        from airflow_mlw.registry.models import RunRow

        if self.run_id is not None:
            return self.run_id
        ti = context["ti"]
        with ws.store.session(write=True) as session:
            row = RunRow(
                workspace_id=ws._workspace_id(),
                kind="script",
                experiment_name=self.experiment_name or ti.dag_id,
                name=self.script,
                dag_id=ti.dag_id,
                dag_run_id=ti.run_id,
                task_id=ti.task_id,
                compute_target=self.compute_target,
            )
            session.add(row)
            session.flush()
            return row.id

    def execute(self, context: Context) -> dict[str, Any]:
        ws = workspace_or_configured(self.workspace)
        run_id = self._ensure_run_row(ws, context)
        spec = ScriptSpec(
            self.source_directory,
            self.script,
            self.arguments,
            dict(self.mlw_environment.environment_variables),
        )
        execution = ScriptExecution(ws, run_id, spec)
        try:
            environ = execution.prepare(in_container=self.in_container)
            execution.set_status("Running", task_id=context["ti"].task_id)
            try:
                self.run_script(ws, execution, environ)
            except BaseException:
                execution.collect_metrics()
                execution.set_status("Failed")
                raise
            metrics = execution.collect_metrics()
            files = execution.keep_outputs()
            execution.set_status("Finished", properties={"files": files})
        finally:
            execution.cleanup()
        return {"run_id": run_id, "status": "Finished", "metrics": metrics}

    in_container = False

    def run_script(self, ws: Workspace, execution: ScriptExecution, environ: dict[str, str]) -> None:
        raise NotImplementedError


class LocalScriptOperator(MlwScriptOperator):
    """A subprocess on the worker, with the environment's interpreter (a cached venv when it lists packages)."""

    def run_script(self, ws: Workspace, execution: ScriptExecution, environ: dict[str, str]) -> None:
        import os

        from airflow_mlw.environments.virtualenv import interpreter

        python = interpreter(self.mlw_environment, ws)
        command = [python, self.script, *self.arguments]
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


class DockerScriptOperator(MlwScriptOperator, DockerOperator):
    """The environment's image on a Docker engine (the worker's, or ``docker_url`` for attached compute).

    The working copy is mounted at ``/mlw/run``, the ``airflow_mlw`` package read-only on
    ``PYTHONPATH``; the image is built on that engine when missing there.
    """

    template_fields: Sequence[str] = ("arguments",)
    in_container = True

    def __init__(
        self, *, docker_url: str | None = None, compute_options: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        options = compute_options or {}
        docker_kwargs: dict[str, Any] = {
            "image": "mlw-env-resolved-at-run-time",
            "docker_url": docker_url,
            "mount_tmp_dir": False,
            "auto_remove": "success",
            "network_mode": options.get("network_mode") or "bridge",
        }
        if options.get("mem_limit"):
            docker_kwargs["mem_limit"] = options["mem_limit"]
        if options.get("cpus"):
            docker_kwargs["cpus"] = float(options["cpus"])
        if options.get("shm_size"):
            docker_kwargs["shm_size"] = options["shm_size"]
        # Cooperative: MlwScriptOperator takes its arguments and hands the rest to DockerOperator.
        super().__init__(**docker_kwargs, **kwargs)
        self.compute_options = options

    def execute(self, context: Context) -> dict[str, Any]:  # type: ignore[override]
        return MlwScriptOperator.execute(self, context)

    def run_script(self, ws: Workspace, execution: ScriptExecution, environ: dict[str, str]) -> None:
        from airflow.providers.docker.exceptions import DockerContainerFailedException
        from docker.types import DeviceRequest, Mount

        from airflow_mlw.environments.docker_build import ensure_image

        if self.compute_options.get("gpus"):
            self.device_requests = [
                DeviceRequest(count=int(self.compute_options["gpus"]), capabilities=[["gpu"]])
            ]
        docker_url = self.docker_url if isinstance(self.docker_url, str) else None
        self.image = ensure_image(self.mlw_environment, ws, docker_url=docker_url)
        self.command = ["python", self.script, *self.arguments]
        self.working_dir = "/mlw/run/source"
        self.environment = {**environ}
        self.mounts = [
            Mount("/mlw/run", str(execution.folder), type="bind"),
            Mount(
                f"{RUNTIME_MOUNT}/airflow_mlw",
                str(runtime_path() / "airflow_mlw"),
                type="bind",
                read_only=True,
            ),
        ]
        try:
            DockerOperator.execute(self, {})  # type: ignore[arg-type]
        except DockerContainerFailedException as exc:
            lines = [str(line).rstrip() for line in (exc.logs or [])]
            code = self.cli.inspect_container(self.container["Id"])["State"]["ExitCode"]
            self.cli.remove_container(self.container["Id"], force=True)
            raise ScriptFailedError(failure_message(self.script, code, lines)) from None


def script_operator_class(compute_kind: str, environment: Environment) -> type[MlwScriptOperator]:
    """The operator of a compute kind: Docker for docker/attached (and clusters with a Docker
    environment), a subprocess for local (and clusters without)."""
    from airflow_mlw.exceptions import ComputeTargetException

    if compute_kind in ("docker", "attached"):
        return DockerScriptOperator
    if compute_kind == "cluster":
        return DockerScriptOperator if environment.docker.enabled else LocalScriptOperator
    if compute_kind == "local":
        return DockerScriptOperator if environment.docker.enabled else LocalScriptOperator
    if compute_kind == "kubernetes":
        raise ComputeTargetException(
            "KubernetesCompute runs through KubernetesPodOperator: install apache-airflow-providers-cncf-kubernetes "
            "(not available on this machine, so not built yet)"
        )
    raise ComputeTargetException(f"unknown compute kind {compute_kind!r}")
