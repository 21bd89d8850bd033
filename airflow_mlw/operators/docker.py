"""``DockerScriptOperator``: a script step in its environment's image, on the docker provider's
``DockerOperator`` (imported only by DAGs that have Docker steps)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.providers.docker.operators.docker import DockerOperator
from docker.errors import APIError

from airflow_mlw.exceptions import ComputeTargetException, ScriptFailedError
from airflow_mlw.execution.process import ScriptExecution, failure_message
from airflow_mlw.operators.parallel import ParallelRunMixin
from airflow_mlw.operators.script import MlwScriptOperator
from airflow_mlw.runtime import runtime_mounts

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlw.workspace import Workspace


class DockerScriptOperator(MlwScriptOperator, DockerOperator):
    """The environment's image on a Docker engine (the worker's, or ``docker_url`` for attached compute).

    The working copy is mounted at ``/mlw/run``, the ``airflow_mlw`` package (with the dist-info of
    its MLflow plugins) read-only on ``PYTHONPATH``; the image is built on that engine when missing there.
    """

    template_fields: Sequence[str] = ("arguments", "step_params")
    in_container = True

    def __init__(
        self, *, docker_url: str | None = None, compute_options: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        options = compute_options or {}
        docker_kwargs: dict[str, Any] = {
            "image": "mlw-env-resolved-at-run-time",
            # An attached target's engine comes with its compute options.
            "docker_url": docker_url or options.get("docker_url"),
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

    def visible_path(self, kind: str, name: str, host_path: Path) -> str:
        """Upstream outputs read-only under ``/mlw/inputs``, outputs under ``/mlw/outputs``; the rest in ``/mlw/run``."""
        if kind == "dataset":
            return "/mlw/run/" + host_path.relative_to(self._run_folder).as_posix()
        target = f"/mlw/{kind}s/{name}"
        self._extra_mounts.append((target, str(host_path), kind == "input"))
        return target

    def environment_identity(self, ws: Workspace) -> str:
        """A Docker environment: its image tag (spec hash and the base image's id, no build needed).
        An environment without ``docker.enabled`` keys on its spec, wherever it runs."""
        from airflow_mlw.environments.docker_build import base_image_id, image_tag

        if not self.mlw_environment.docker.enabled:
            return super().environment_identity(ws)
        docker_url = self.docker_url if isinstance(self.docker_url, str) else None
        return image_tag(self.mlw_environment, base_image_id(self.mlw_environment, ws, docker_url))

    def execute(self, context: Context) -> dict[str, Any]:  # type: ignore[override]
        self._extra_mounts: list[tuple[str, str, bool]] = []
        return MlwScriptOperator.execute(self, context)

    @staticmethod
    def _keep_output(execution: ScriptExecution, lines: Any) -> None:
        text = "\n".join(str(line).rstrip() for line in ([lines] if isinstance(lines, str) else lines))
        execution.driver_log.write_text(text + "\n" if text else "")

    def on_kill(self) -> None:
        """The task was killed (marked failed, timed out): the container is killed and removed at
        once (``python`` as PID 1 ignores SIGTERM, and the supervisor kills this process in 5 s)."""
        container = getattr(self, "container", None)
        if container is None or not self.hook.client_created:
            return
        self.log.info("killing and removing container %s", container["Id"][:12])
        try:
            self.cli.remove_container(container["Id"], force=True)
        except APIError as exc:
            self.log.warning("container %s: %s", container["Id"][:12], exc)

    def run_script(
        self, ws: Workspace, execution: ScriptExecution, environ: dict[str, str], arguments: list[str]
    ) -> None:
        from airflow.providers.docker.exceptions import DockerContainerFailedException
        from docker.types import DeviceRequest, Mount

        from airflow_mlw.environments.docker_build import ensure_image

        if self.compute_options.get("gpus"):
            self.device_requests = [
                DeviceRequest(count=int(self.compute_options["gpus"]), capabilities=[["gpu"]])
            ]
        docker_url = self.docker_url if isinstance(self.docker_url, str) else None
        self.image = ensure_image(self.mlw_environment, ws, docker_url=docker_url)
        self.command = self.command_line(arguments)
        self.working_dir = "/mlw/run/source"
        self.environment = {**environ}
        self.mounts = [
            Mount("/mlw/run", str(execution.folder), type="bind"),
            *(Mount(target, source, type="bind", read_only=True) for target, source in runtime_mounts()),
            *(
                Mount(target, source, type="bind", read_only=read_only)
                for target, source, read_only in self._extra_mounts
            ),
        ]
        # The container's output comes back whole, for the run's driver log.
        self.do_xcom_push, self.xcom_all = True, True
        try:
            output = DockerOperator.execute(self, {})  # type: ignore[arg-type]
            self._keep_output(execution, output or [])
        except APIError as exc:
            if self.device_requests and "device driver" in str(exc):
                raise ComputeTargetException(
                    f"compute target {self.compute_target!r} asks for {self.compute_options['gpus']} GPU(s), but the "
                    f"Docker engine at {self.docker_url} has no GPU runtime"
                ) from None
            raise
        except DockerContainerFailedException as exc:
            lines = [str(line).rstrip() for line in (exc.logs or [])]
            self._keep_output(execution, lines)
            code = self.cli.inspect_container(self.container["Id"])["State"]["ExitCode"]
            self.cli.remove_container(self.container["Id"], force=True)
            raise ScriptFailedError(failure_message(self.script, code, lines)) from None


class ParallelDockerOperator(ParallelRunMixin, DockerScriptOperator):  # type: ignore[misc]
    """A ParallelRunStep's tasks in the environment's image."""
