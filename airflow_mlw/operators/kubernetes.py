"""``KubernetesScriptOperator``: a script step in a pod, on the cncf-kubernetes provider's
``KubernetesPodOperator`` (imported only by DAGs that have Kubernetes steps).

Pods and workers share one volume: a PersistentVolumeClaim (``volume_claim``) that the worker sees
at ``shared_path``. The worker prepares the working copy, inputs and output staging under it, as for
every compute; the pod mounts the claim, runs ``python <script>`` in the environment's image (pushed to
``image_registry``), and the worker commits the outputs afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

from airflow_mlw.exceptions import ComputeTargetException
from airflow_mlw.execution.process import ScriptExecution
from airflow_mlw.operators.script import MlwScriptOperator
from airflow_mlw.runtime import RUNTIME_MOUNT, dist_info_name, runtime_path

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlw.workspace import Workspace

SHARED_MOUNT = "/mlw/shared"
VOLUME_NAME = "mlw-shared"


def copy_once(source: Path, target: Path, ignore: Any = None) -> None:
    """``source`` copied to ``target`` unless it is there: through a staging folder beside it, renamed
    into place, so nobody sees half a copy (another task's copy, renamed first, wins)."""
    if target.is_dir():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent))
    shutil.copytree(source, staging / "copy", ignore=ignore)
    try:
        (staging / "copy").rename(target)
    except OSError:  # another task copied it first
        pass
    shutil.rmtree(staging, ignore_errors=True)


class KubernetesScriptOperator(MlwScriptOperator, KubernetesPodOperator):
    """The environment's image in a pod of ``namespace``; paths on the shared volume."""

    template_fields: Sequence[str] = ("arguments", "step_params")
    in_container = True
    runs_on = ("kubernetes",)

    def __init__(self, *, compute_options: dict[str, Any] | None = None, **kwargs: Any) -> None:
        options = compute_options or {}
        pod_kwargs: dict[str, Any] = {
            "namespace": options.get("namespace") or "default",
            "image": "mlw-env-resolved-at-run-time",
            "name": f"mlw-{kwargs.get('task_id', 'step')}",
            "get_logs": True,
            "on_finish_action": "delete_succeeded_pod",
        }
        for ours, theirs in (
            ("kubernetes_conn_id", "kubernetes_conn_id"),
            ("in_cluster", "in_cluster"),
            ("config_file", "config_file"),
            ("service_account", "service_account_name"),
            ("node_selector", "node_selector"),
        ):
            if options.get(ours) is not None:
                pod_kwargs[theirs] = options[ours]
        # Cooperative: MlwScriptOperator takes its arguments and hands the rest to KubernetesPodOperator.
        super().__init__(**pod_kwargs, **kwargs)
        self.compute_options = options

    @property
    def shared_path(self) -> Path:
        return Path(self.compute_options["shared_path"])

    def execution_root(self) -> Path | None:
        """Working copies go on the shared volume, where the pod sees them."""
        root = self.shared_path / "runs"
        root.mkdir(parents=True, exist_ok=True)
        return root

    def pod_path(self, host_path: Path) -> str:
        """Where the pod sees a path of the shared volume."""
        try:
            relative = host_path.resolve().relative_to(self.shared_path.resolve())
        except ValueError:
            raise ComputeTargetException(
                f"{host_path} is not on the shared volume {self.shared_path} of compute target "
                f"{self.compute_target!r}; pods cannot see it"
            ) from None
        return f"{SHARED_MOUNT}/{relative.as_posix()}"

    def visible_path(self, kind: str, name: str, host_path: Path) -> str:
        """Paths in the working copy or on the shared volume as the pod sees them; an input anywhere
        else (a local datastore of the worker) is copied into the working copy first."""
        run_folder = self._run_folder.resolve()
        resolved = host_path.resolve()
        if not resolved.is_relative_to(run_folder) and not resolved.is_relative_to(
            self.shared_path.resolve()
        ):
            if kind == "output":
                return self.pod_path(host_path)  # refused with a clear error
            copy = run_folder / "inputs" / name
            copy.parent.mkdir(parents=True, exist_ok=True)
            if resolved.is_dir():
                shutil.copytree(resolved, copy)
            else:
                shutil.copy2(resolved, copy)
            resolved = copy
        if resolved.is_relative_to(run_folder):
            return "/mlw/run/" + resolved.relative_to(run_folder).as_posix()
        return self.pod_path(resolved)

    def environment_identity(self, ws: Workspace) -> str:
        return self.image_name(ws)

    def image_name(self, ws: Workspace) -> str:
        """``<image_registry>/mlw-env/<name>:<hash>`` (the tag the Docker build gives it, registry first)."""
        from airflow_mlw.environments.docker_build import base_image_id, image_tag

        tag = image_tag(self.mlw_environment, base_image_id(self.mlw_environment, ws))
        registry = (self.compute_options.get("image_registry") or "").rstrip("/")
        return f"{registry}/{tag}" if registry else tag

    def runtime_on_volume(self) -> Path:
        """The ``airflow_mlw`` package and its dist-info copied once onto the shared volume (pods import
        ``Run`` from it, and mlflow finds the ``mlw://`` plugins)."""
        import airflow_mlw

        target = self.shared_path / ".mlw-runtime" / runtime_path().name
        copy_once(
            Path(airflow_mlw.__file__).parent, target / "airflow_mlw", shutil.ignore_patterns("__pycache__")
        )
        # The MLflow plugins' entry points (a volume copied before they existed has none).
        copy_once(runtime_path() / dist_info_name(), target / dist_info_name())
        return target

    def prepare_pod(
        self, ws: Workspace, execution: ScriptExecution, environ: dict[str, str], arguments: list[str]
    ) -> None:
        """Image, command, environment, volumes and resources of the pod (no cluster call)."""
        from kubernetes.client import models as k8s

        self.image = self.image_name(ws)
        self.cmds = self.command_line(arguments)[:1]
        self.arguments = self.command_line(arguments)[1:]
        self.env_vars = [k8s.V1EnvVar(name=k, value=v) for k, v in sorted(environ.items())]
        self.volumes = [
            k8s.V1Volume(
                name=VOLUME_NAME,
                persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(
                    claim_name=self.compute_options["volume_claim"]
                ),
            )
        ]
        on_volume = self.runtime_on_volume()
        runtime = self.pod_path(on_volume / "airflow_mlw")[len(SHARED_MOUNT) + 1 :]
        dist_info = self.pod_path(on_volume / dist_info_name())[len(SHARED_MOUNT) + 1 :]
        self.volume_mounts = [
            k8s.V1VolumeMount(name=VOLUME_NAME, mount_path=SHARED_MOUNT),
            k8s.V1VolumeMount(
                name=VOLUME_NAME,
                mount_path="/mlw/run",
                sub_path=self.pod_path(execution.folder)[len(SHARED_MOUNT) + 1 :],
            ),
            k8s.V1VolumeMount(
                name=VOLUME_NAME, mount_path=f"{RUNTIME_MOUNT}/airflow_mlw", sub_path=runtime, read_only=True
            ),
            k8s.V1VolumeMount(
                name=VOLUME_NAME,
                mount_path=f"{RUNTIME_MOUNT}/{dist_info_name()}",
                sub_path=dist_info,
                read_only=True,
            ),
        ]
        limits: dict[str, str] = {}
        for key in ("cpu", "memory"):
            if self.compute_options.get(key):
                limits[key] = str(self.compute_options[key])
        if self.compute_options.get("gpus"):
            limits["nvidia.com/gpu"] = str(self.compute_options["gpus"])
        self.container_resources = k8s.V1ResourceRequirements(requests=dict(limits), limits=dict(limits))
        self.labels = {"mlw-run-id": execution.run_id, "mlw-compute": self.compute_target}

    def build_pod_request_obj(self, context: Context | None = None, *, dry_run: bool = False) -> Any:
        """The provider's pod, with the script's working directory (the operator has no argument for it)."""
        pod = super().build_pod_request_obj(context, dry_run=dry_run)
        pod.spec.containers[0].working_dir = "/mlw/run/source"
        return pod

    def run_script(
        self, ws: Workspace, execution: ScriptExecution, environ: dict[str, str], arguments: list[str]
    ) -> None:
        """Build and push the image, then run the pod (``KubernetesPodOperator.execute``).

        Not run in this project's tests: there is no cluster and no registry here; the pod spec is.
        """
        from airflow_mlw.environments.docker_build import docker_client, ensure_image

        local_tag = ensure_image(self.mlw_environment, ws)
        self.prepare_pod(ws, execution, environ, arguments)
        if self.image != local_tag:
            client = docker_client(None)
            repository, _, tag = str(self.image).rpartition(":")
            client.images.get(local_tag).tag(repository, tag)
            client.images.push(repository, tag)
        KubernetesPodOperator.execute(self, self._context)

    def execute(self, context: Context) -> dict[str, Any]:  # type: ignore[override]
        self._context = context
        return MlwScriptOperator.execute(self, context)
