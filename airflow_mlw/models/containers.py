"""The Docker side of a scoring service: one front container holding the published port, and the
scoring containers that share its network namespace (see ``airflow_mlw.models.server``).

Models are bind-mounted read-only at ``/var/mlw-app/mlw-models/<name>/<version>``, the
``airflow_mlw`` package read-only on ``PYTHONPATH`` (as for script runs), and the source folder is
copied into each scoring container, so a running service depends on no working folder.
"""

from __future__ import annotations

import io
import re
import tarfile
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow_mlw.exceptions import WebserviceException
from airflow_mlw.models.server import (
    APP_ROOT,
    DRAIN_SECONDS,
    ENTRY_SCRIPT_ENV,
    MODEL_DIR_ENV,
    MODEL_ROOT,
    READY_MARKER,
    SERVICE_PORT,
    SOURCE_DIR,
)
from airflow_mlw.runtime import RUNTIME_MOUNT, runtime_path

SERVER_MODULE = "airflow_mlw.models.server"
#: The services' own bridge network: apart from other containers, and from the default bridge.
NETWORK = "mlw-scoring"
LOG_TAIL = 25
SKIPPED_SOURCE = {"__pycache__", ".git", ".ipynb_checkpoints"}


class ScoringContainerFailed(WebserviceException):
    """A scoring container exited (or never became ready); the message has the reason and log tail."""

    def __init__(self, message: str, logs: str) -> None:
        super().__init__(message)
        self.logs = logs


@dataclass
class ScoringSpec:
    """One revision of a service: image, entry script, source archive and model folders."""

    image: str
    revision: int
    entry_script: str
    source_archive: bytes
    #: (name, version, host folder holding the model's file or folder)
    models: list[tuple[str, int, Path]]
    environment: dict[str, str] = field(default_factory=dict)
    #: ``cpu_cores`` and ``memory_gb`` of the scoring container (none: unlimited)
    limits: dict[str, float] = field(default_factory=dict)

    def container_environment(self, service: str) -> dict[str, str]:
        single = len(self.models) == 1
        return {
            **self.environment,
            "PYTHONPATH": f"{RUNTIME_MOUNT}:{SOURCE_DIR}",
            "PYTHONUNBUFFERED": "1",
            ENTRY_SCRIPT_ENV: self.entry_script,
            MODEL_DIR_ENV: MODEL_ROOT,
            # Ported scoring scripts read Azure's variable: one model's folder, else the root.
            "AZUREML_MODEL_DIR": f"{MODEL_ROOT}/{self.models[0][0]}/{self.models[0][1]}"
            if single
            else MODEL_ROOT,
            "MLW_SERVICE_NAME": service,
            "MLW_SERVICE_REVISION": str(self.revision),
            "MLW_SERVICE_MODELS": ",".join(f"{name}:{version}" for name, version, _ in self.models),
        }


def source_archive(folder: Path) -> bytes:
    """A tar of ``folder`` placed at the container's source folder (caches and VCS files left out)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add_folders(tar, SOURCE_DIR)
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if SKIPPED_SOURCE & set(relative.parts):
                continue
            tar.add(path, arcname=f"{SOURCE_DIR.lstrip('/')}/{relative.as_posix()}", recursive=False)
    return buffer.getvalue()


def _add_folders(tar: tarfile.TarFile, path: str) -> None:
    parts = path.strip("/").split("/")
    for depth in range(1, len(parts) + 1):
        info = tarfile.TarInfo("/".join(parts[:depth]))
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)


class ServiceContainers:
    """Containers of service ``service`` of workspace ``workspace`` on one Docker engine.

    :param docker_url: the engine (default: this machine's)
    """

    def __init__(self, workspace: str, service: str, docker_url: str | None = None) -> None:
        self.workspace = workspace
        self.service = service
        self.docker_url = docker_url
        slug = re.sub(r"[^a-z0-9-]+", "-", workspace.lower()).strip("-") or "ws"
        self.prefix = f"mlw-{slug}-{service}"

    @cached_property
    def client(self) -> Any:
        from airflow_mlw.environments.docker_build import docker_client

        return docker_client(self.docker_url)

    def _labels(self, role: str, revision: int | None = None) -> dict[str, str]:
        labels = {"mlw.workspace": self.workspace, "mlw.service": self.service, "mlw.role": role}
        if revision is not None:
            labels["mlw.revision"] = str(revision)
        return labels

    def _runtime_mount(self) -> Any:
        from docker.types import Mount

        return Mount(
            f"{RUNTIME_MOUNT}/airflow_mlw", str(runtime_path() / "airflow_mlw"), type="bind", read_only=True
        )

    def _network(self) -> str:
        """The services' network, created on first use."""
        import docker

        if not self.client.networks.list(names=[NETWORK]):
            try:
                self.client.networks.create(NETWORK, driver="bridge", check_duplicate=True)
            except docker.errors.APIError:
                if not self.client.networks.list(names=[NETWORK]):  # not just a concurrent creation
                    raise
        return NETWORK

    # -- the front ----------------------------------------------------------------------------------

    def start_front(self, image: str, bind_ip: str, ports: list[int | None]) -> tuple[str, int]:
        """Start the front on the first free port of ``ports`` (``None``: one the engine picks);
        returns (container id, host port)."""
        import docker

        network = self._network()
        for port in ports:
            container = self.client.containers.create(
                image,
                ["python3", "-m", SERVER_MODULE, "front", str(SERVICE_PORT)],
                name=f"{self.prefix}-front",
                environment={"PYTHONPATH": RUNTIME_MOUNT},
                mounts=[self._runtime_mount()],
                ports={f"{SERVICE_PORT}/tcp": (bind_ip, port) if port else (bind_ip,)},
                labels=self._labels("front"),
                network=network,
            )
            try:
                container.start()
            except docker.errors.APIError as exc:
                container.remove(force=True)
                text = str(exc)
                if "already allocated" in text or "address already in use" in text:
                    if port is not None and port != ports[-1]:
                        continue
                    where = f"port {port}" if len(ports) == 1 else f"every port of {ports[0]}-{ports[-1]}"
                    raise WebserviceException(
                        f"service {self.service!r}: {where} on {bind_ip} is already in use; choose another "
                        "(LocalWebservice.deploy_configuration(port=...) or the target's port_range)"
                    ) from None
                raise WebserviceException(
                    f"service {self.service!r}: the front container did not start: {exc.explanation or text}"
                ) from None
            container.reload()
            bindings = container.attrs["NetworkSettings"]["Ports"][f"{SERVICE_PORT}/tcp"]
            return str(container.id), int(bindings[0]["HostPort"])
        raise WebserviceException(f"service {self.service!r}: no port to publish")

    # -- scoring containers -------------------------------------------------------------------------

    def start_scoring(self, front_id: str, spec: ScoringSpec) -> str:
        """Create and start a scoring container of ``spec`` in the front's network namespace."""
        from docker.types import Mount

        mounts = [self._runtime_mount()] + [
            Mount(f"{MODEL_ROOT}/{name}/{version}", str(folder), type="bind", read_only=True)
            for name, version, folder in spec.models
        ]
        name = f"{self.prefix}-{spec.revision}"
        self._remove_named(name)
        container = self.client.containers.create(
            spec.image,
            ["python3", "-m", SERVER_MODULE, "score"],
            name=name,
            environment=spec.container_environment(self.service),
            mounts=mounts,
            working_dir=SOURCE_DIR,
            network_mode=f"container:{front_id}",
            labels=self._labels("scoring", spec.revision),
            nano_cpus=int(spec.limits["cpu_cores"] * 1e9) if spec.limits.get("cpu_cores") else None,
            mem_limit=int(spec.limits["memory_gb"] * 2**30) if spec.limits.get("memory_gb") else None,
        )
        container.put_archive("/", spec.source_archive)
        container.start()
        return str(container.id)

    def wait_ready(self, container_id: str, timeout: float) -> None:
        """Return once the container's entry script ran ``init()`` and it serves; raise
        :class:`ScoringContainerFailed` with the reason and log tail when it exits or times out."""
        container = self.client.containers.get(container_id)
        deadline = time.monotonic() + timeout
        while True:
            if READY_MARKER.encode() in container.logs(stdout=True, stderr=False):
                return
            container.reload()
            if container.status in ("exited", "dead"):
                code = container.attrs["State"]["ExitCode"]
                raise self._failure(container, f"the scoring container exited with code {code}")
            if time.monotonic() > deadline:
                raise self._failure(container, f"the scoring container was not ready after {timeout:.0f} s")
            time.sleep(0.05)

    def _failure(self, container: Any, what: str) -> ScoringContainerFailed:
        logs = container.logs(tail=LOG_TAIL).decode("utf-8", "replace").rstrip()
        reasons = [
            line.removeprefix("mlw-scoring: ")
            for line in logs.splitlines()
            if line.startswith("mlw-scoring: ")
        ]
        reason = f"{reasons[-1].rstrip(':')} ({what})" if reasons else what
        return ScoringContainerFailed(
            f"service {self.service!r} failed to start: {reason}\ncontainer log (last lines):\n{logs}", logs
        )

    def source_of(self, container_id: str) -> bytes:
        """The source folder of a running scoring container, as an archive for the next revision."""
        stream, _ = self.client.containers.get(container_id).get_archive(SOURCE_DIR)
        original = tarfile.open(fileobj=io.BytesIO(b"".join(stream)))
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            _add_folders(tar, APP_ROOT)
            for member in original.getmembers():
                data = original.extractfile(member) if member.isfile() else None
                member.name = f"{APP_ROOT.lstrip('/')}/{member.name}"
                tar.addfile(member, data)
        return buffer.getvalue()

    def drain(self, container_id: str) -> None:
        """Stop a scoring container gracefully (it finishes what it is answering), then remove it."""
        import docker

        try:
            container = self.client.containers.get(container_id)
        except docker.errors.NotFound:
            return
        container.stop(timeout=int(DRAIN_SECONDS) + 5)
        container.remove(force=True)

    def logs(self, container_id: str, tail: int) -> str:
        import docker

        try:
            return str(self.client.containers.get(container_id).logs(tail=tail).decode("utf-8", "replace"))
        except docker.errors.NotFound:
            return ""

    def running(self, container_id: str | None) -> bool:
        import docker

        if not container_id:
            return False
        try:
            return bool(self.client.containers.get(container_id).status == "running")
        except docker.errors.NotFound:
            return False

    def containers(self) -> list[Any]:
        """Every container of the service, scoring ones first."""
        found = self.client.containers.list(
            all=True,
            filters={"label": [f"mlw.workspace={self.workspace}", f"mlw.service={self.service}"]},
        )
        return sorted(found, key=lambda c: c.labels.get("mlw.role") == "front")

    def remove_all(self) -> None:
        """Drain the scoring containers, then remove the front."""
        for container in self.containers():
            if container.labels.get("mlw.role") == "scoring" and container.status == "running":
                self.drain(str(container.id))
            else:
                container.remove(force=True)

    def _remove_named(self, name: str) -> None:
        import docker

        try:
            self.client.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
