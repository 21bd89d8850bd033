"""Compute targets: where a script runs.

| target | runs as |
|---|---|
| ``local`` (always present) | a subprocess on the Airflow worker |
| ``DockerCompute`` | a container on the worker's Docker engine (docker provider's DockerOperator) |
| ``ClusterCompute`` / ``AmlCompute`` | tasks on a Celery queue, limited by an Airflow pool ``mlw-<name>`` of ``max_nodes`` slots |
| ``AttachedCompute`` | a container on another host's Docker engine (``docker_url``) |
| ``KubernetesCompute`` | a pod through KubernetesPodOperator (pod spec only: no cluster here) |

Looking a target up (``ComputeTarget(ws, name)``) reads the registry, as Azure's call does; DAG
files can pass the target's name to steps instead, which reads nothing at parse time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from airflow_mlw.compute.status import ComputeTargetStatus, running_slots
from airflow_mlw.exceptions import ComputeTargetException

LOCAL_NAME = "local"


@dataclass
class ComputeConfiguration:
    """What ``provisioning_configuration()`` / ``attach_configuration()`` return."""

    kind: str
    settings: dict[str, Any] = field(default_factory=dict)


class ComputeTarget:
    """A registered compute target; ``ComputeTarget(workspace=ws, name=name)`` looks it up.

    :raises ComputeTargetException: no target of that name (or of this class's type)
    """

    kind: ClassVar[str] = ""
    #: Azure's ``type`` string.
    type_name: ClassVar[str] = ""

    def __new__(cls, workspace: Any = None, name: str | None = None) -> Any:
        if workspace is None or name is None:
            return super().__new__(cls)
        kind, config = _lookup(workspace, name)
        target_cls = KINDS[kind]
        if cls not in (ComputeTarget, target_cls):
            raise ComputeTargetException(
                f"compute target {name!r} is a {target_cls.type_name}, not a {cls.type_name}"
            )
        target = super().__new__(target_cls)
        target._setup(workspace, name, config)
        return target

    def __init__(self, workspace: Any = None, name: str | None = None) -> None:
        pass  # set up in __new__ / _setup

    def _setup(self, workspace: Any, name: str, config: dict[str, Any]) -> None:
        self.workspace = workspace
        self.name = name
        self.config = dict(config)

    @property
    def type(self) -> str:
        return self.type_name

    @staticmethod
    def create(workspace: Any, name: str, provisioning_configuration: ComputeConfiguration) -> Any:
        """Register a target (idempotent for an identical configuration)."""
        config = provisioning_configuration
        if name == LOCAL_NAME:
            raise ComputeTargetException("the name 'local' is built in; choose another name")
        settings = dict(config.settings)
        if config.kind == ClusterCompute.kind and not settings.get("queue"):
            settings["queue"] = name
        from sqlalchemy import select

        from airflow_mlw.registry.rows import ComputeTargetRow

        ws_id = workspace._workspace_id()
        with workspace.store.session(write=True) as session:
            row = session.scalar(
                select(ComputeTargetRow).where(
                    ComputeTargetRow.workspace_id == ws_id, ComputeTargetRow.name == name
                )
            )
            if row is not None and (row.kind, row.config) != (config.kind, settings):
                raise ComputeTargetException(f"compute target {name!r} exists with another configuration")
            if row is None:
                session.add(
                    ComputeTargetRow(workspace_id=ws_id, name=name, kind=config.kind, config=settings)
                )
        return ComputeTarget(workspace, name)

    @staticmethod
    def declare(workspace: Any, name: str, provisioning_configuration: ComputeConfiguration) -> Any:
        """The target as a DAG file names it, without reading the registry (DAG files are parsed
        every 30 s): queue, pool and operator come from ``provisioning_configuration``. The step
        checks at run time that the registry holds a target of that kind under ``name``."""
        config = provisioning_configuration
        settings = {k: v for k, v in config.settings.items() if v is not None}
        if config.kind == ClusterCompute.kind and not settings.get("queue"):
            settings["queue"] = name
        target = object.__new__(KINDS[config.kind])
        target._setup(workspace, name, settings)
        return target

    @staticmethod
    def list(workspace: Any) -> list[Any]:
        from sqlalchemy import select

        from airflow_mlw.registry.rows import ComputeTargetRow

        ws_id = workspace._workspace_id()
        with workspace.store.session() as session:
            names = session.scalars(
                select(ComputeTargetRow.name)
                .where(ComputeTargetRow.workspace_id == ws_id)
                .order_by(ComputeTargetRow.name)
            ).all()
        return [ComputeTarget(workspace, LOCAL_NAME)] + [ComputeTarget(workspace, n) for n in names]

    def wait_for_completion(
        self, show_output: bool = False, min_node_count: int | None = None, timeout_in_minutes: int = 20
    ) -> None:
        """Nothing to provision: targets are ready once registered (kept for ported code)."""
        if show_output:
            print(f"compute target {self.name!r} ({self.type}) is ready")

    def get_status(self) -> ComputeTargetStatus:
        """``"Succeeded"`` (ready once registered), with Azure's status attributes and ``serialize()``."""
        return ComputeTargetStatus(vm_size=self.config.get("vm_size"))

    def delete(self) -> None:
        from sqlalchemy import delete

        from airflow_mlw.registry.rows import ComputeTargetRow

        with self.workspace.store.session(write=True) as session:
            session.execute(
                delete(ComputeTargetRow).where(
                    ComputeTargetRow.workspace_id == self.workspace._workspace_id(),
                    ComputeTargetRow.name == self.name,
                )
            )

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, **self.config}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _lookup(workspace: Any, name: str) -> tuple[str, dict[str, Any]]:
    if name == LOCAL_NAME:
        return LocalCompute.kind, {}
    from sqlalchemy import select

    from airflow_mlw.registry.rows import ComputeTargetRow

    ws_id = workspace._workspace_id()
    with workspace.store.session() as session:
        row = session.scalar(
            select(ComputeTargetRow).where(
                ComputeTargetRow.workspace_id == ws_id, ComputeTargetRow.name == name
            )
        )
        if row is None:
            raise ComputeTargetException(f"compute target {name!r} not found in workspace {workspace.name!r}")
        return row.kind, dict(row.config)


class LocalCompute(ComputeTarget):
    """A subprocess on the Airflow worker."""

    kind = "local"
    type_name = "Local"

    @staticmethod
    def provisioning_configuration() -> ComputeConfiguration:
        return ComputeConfiguration(LocalCompute.kind)


class DockerCompute(ComputeTarget):
    """A container on the worker's Docker engine (or ``docker_url``)."""

    kind = "docker"
    type_name = "Docker"

    @staticmethod
    def provisioning_configuration(
        docker_url: str | None = None,
        cpus: float | None = None,
        mem_limit: str | None = None,
        gpus: int | None = None,
        shm_size: str | None = None,
        network_mode: str = "bridge",
    ) -> ComputeConfiguration:
        return ComputeConfiguration(
            DockerCompute.kind,
            {
                "docker_url": docker_url,
                "cpus": cpus,
                "mem_limit": mem_limit,
                "gpus": gpus,
                "shm_size": shm_size,
                "network_mode": network_mode,
            },
        )


class ClusterCompute(ComputeTarget):
    """Steps on a Celery queue; at most ``max_nodes`` at once (Airflow pool ``mlw-<name>``)."""

    kind = "cluster"
    type_name = "AmlCompute"

    @staticmethod
    def provisioning_configuration(
        queue: str | None = None,
        max_nodes: int = 4,
        vm_size: str | None = None,
        vm_priority: str = "dedicated",
        min_nodes: int = 0,
        idle_seconds_before_scaledown: int | None = None,
        **_azure_only: Any,
    ) -> ComputeConfiguration:
        if int(max_nodes) < 1:
            raise ComputeTargetException(f"max_nodes must be at least 1, not {max_nodes!r}")
        return ComputeConfiguration(
            ClusterCompute.kind, {"queue": queue, "max_nodes": int(max_nodes), "vm_size": vm_size}
        )

    @property
    def pool(self) -> str:
        return f"mlw-{self.name}"

    def get_status(self) -> ComputeTargetStatus:
        """Nodes are the pool's slots: ``current_node_count`` is how many run a step now."""
        return ComputeTargetStatus(
            current_node_count=running_slots(self.pool),
            max_nodes=int(self.config.get("max_nodes", 1)),
            vm_size=self.config.get("vm_size"),
            vm_priority="dedicated",
        )

    @property
    def queue(self) -> str:
        return str(self.config.get("queue") or self.name)


AmlCompute = ClusterCompute


def sync_pools(workspace: Any) -> dict[str, int]:
    """Create or resize the Airflow pool ``mlw-<name>`` of every cluster target (``max_nodes`` slots).

    Writes Airflow's metadata DB, so it runs from the CLI or a deployment step, never in a task.
    """
    from airflow.models.pool import Pool

    pools = {}
    for target in ComputeTarget.list(workspace):
        if isinstance(target, ClusterCompute):
            slots = int(target.config["max_nodes"])
            Pool.create_or_update_pool(
                target.pool,
                slots,
                f"airflow_mlw cluster {target.name!r} (queue {target.queue!r})",
                include_deferred=False,
            )
            pools[target.pool] = slots
    return pools


class AttachedCompute(ComputeTarget):
    """A Docker engine on another host."""

    kind = "attached"
    type_name = "Attached"

    @staticmethod
    def attach_configuration(docker_url: str, **settings: Any) -> ComputeConfiguration:
        if not docker_url:
            raise ComputeTargetException("URL to the Docker server not provided.")
        return ComputeConfiguration(AttachedCompute.kind, {"docker_url": docker_url, **settings})

    @staticmethod
    def attach(workspace: Any, name: str, attach_configuration: ComputeConfiguration) -> Any:
        return ComputeTarget.create(workspace, name, attach_configuration)


class KubernetesCompute(ComputeTarget):
    """Pods through KubernetesPodOperator (no cluster runs here: only the pod spec is tested)."""

    kind = "kubernetes"
    type_name = "Kubernetes"

    @staticmethod
    def provisioning_configuration(
        namespace: str = "default",
        volume_claim: str | None = None,
        shared_path: str | None = None,
        image_registry: str | None = None,
        cpu: str | None = None,
        memory: str | None = None,
        gpus: int | None = None,
        service_account: str | None = None,
        node_selector: dict[str, str] | None = None,
        kubernetes_conn_id: str | None = None,
        **settings: Any,
    ) -> ComputeConfiguration:
        """Pods in ``namespace``; ``volume_claim`` is a PersistentVolumeClaim the workers see at
        ``shared_path`` (working copies, inputs and outputs go through it); environment images are
        pushed to ``image_registry`` (a ``host/path`` prefix) for the cluster to pull."""
        if not volume_claim or not shared_path:
            raise ComputeTargetException(
                "KubernetesCompute needs volume_claim (a PersistentVolumeClaim) and shared_path (where the "
                "Airflow workers see that volume): pods and workers exchange files through it"
            )
        config = {
            "namespace": namespace,
            "volume_claim": volume_claim,
            "shared_path": shared_path,
            "image_registry": image_registry,
            "cpu": cpu,
            "memory": memory,
            "gpus": gpus,
            "service_account": service_account,
            "node_selector": node_selector,
            "kubernetes_conn_id": kubernetes_conn_id,
            **settings,
        }
        return ComputeConfiguration(
            KubernetesCompute.kind, {k: v for k, v in config.items() if v is not None}
        )


class InferenceCompute(ComputeTarget):
    """A Docker engine that runs scoring services (``Model.deploy(..., deployment_target=...)``)."""

    kind = "inference"
    type_name = "Inference"

    @staticmethod
    def provisioning_configuration(
        docker_url: str | None = None,
        port_range: str | tuple[int, int] | None = None,
        scoring_host: str | None = None,
    ) -> ComputeConfiguration:
        """Services on the engine at ``docker_url`` (default: this machine's), published on every
        interface at a free port of ``port_range`` (``"6000-6099"`` or ``(6000, 6099)``; default: any);
        ``scoring_host`` is the host name clients use (default: the engine's host)."""
        ports = None
        if port_range is not None:
            try:
                low, high = (
                    int(p) for p in (port_range.split("-") if isinstance(port_range, str) else port_range)
                )
            except (TypeError, ValueError):
                raise ComputeTargetException(
                    f"port_range must be 'LOW-HIGH' or (low, high), not {port_range!r}"
                ) from None
            if not 0 < low <= high < 65536:
                raise ComputeTargetException(
                    f"port_range {low}-{high} is not within 1-65535 with low <= high"
                )
            ports = [low, high]
        config = {"docker_url": docker_url, "port_range": ports, "scoring_host": scoring_host}
        return ComputeConfiguration(InferenceCompute.kind, {k: v for k, v in config.items() if v is not None})


KINDS: dict[str, type[ComputeTarget]] = {
    cls.kind: cls
    for cls in (
        LocalCompute,
        DockerCompute,
        ClusterCompute,
        AttachedCompute,
        KubernetesCompute,
        InferenceCompute,
    )
}
DEFAULT_CPU_IMAGE = "mlw-base:bookworm"
DEFAULT_GPU_IMAGE = DEFAULT_CPU_IMAGE

__all__ = [
    "AmlCompute",
    "AttachedCompute",
    "ClusterCompute",
    "ComputeConfiguration",
    "ComputeTarget",
    "ComputeTargetException",
    "ComputeTargetStatus",
    "DEFAULT_CPU_IMAGE",
    "DEFAULT_GPU_IMAGE",
    "DockerCompute",
    "InferenceCompute",
    "KubernetesCompute",
    "LocalCompute",
]
