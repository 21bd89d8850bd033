"""Scoring services: ``Model.deploy``, ``Webservice``, ``LocalWebservice`` with Azure ML v1's API.

A service is a registry row (``mlw_webservices``) plus containers on a Docker engine: this
machine's (``LocalWebservice``, port published on 127.0.0.1) or an ``InferenceCompute`` target's
(published on every interface, ports from its ``port_range``). ``Model.deploy`` returns when the
service is ``Healthy`` or ``Failed``. ``update`` starts the new revision next to the old one (same
listening socket), and only when its ``init()`` succeeded drains the old one: ``scoring_uri`` never
refuses a request. A failed update leaves the old revision serving.
"""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_mlw.exceptions import WebserviceException

if TYPE_CHECKING:
    from airflow_mlw.models.containers import ScoringSpec, ServiceContainers
    from airflow_mlw.models.model import InferenceConfig, Model
    from airflow_mlw.workspace import Workspace

NAME_RE = re.compile(r"[a-z][a-z0-9-]{1,30}[a-z0-9]")
DEPLOY_TIMEOUT = 300.0
#: A ready scoring container answers through the published port within this.
HEALTH_TIMEOUT = 30.0
LOCAL_BIND = "127.0.0.1"


@dataclass
class DeploymentConfiguration:
    """What ``deploy_configuration`` returns: the host port (``None``: any free one) and the scoring
    container's CPU and memory limits (``None``: none)."""

    port: int | None = None
    cpu_cores: float | None = None
    memory_gb: float | None = None

    def limits(self) -> dict[str, float]:
        return {k: float(v) for k, v in (("cpu_cores", self.cpu_cores), ("memory_gb", self.memory_gb)) if v}


class Webservice:
    """A deployed scoring service; ``Webservice(ws, name)`` looks it up.

    :raises WebserviceException: no service of that name
    """

    compute_type: ClassVar[str] = "Inference"

    def __new__(cls, workspace: Any = None, name: str | None = None) -> Any:
        if workspace is None or name is None:
            return super().__new__(cls)
        row = _load_row(workspace, name)
        local = row["compute_target"] is None
        if cls is Webservice:
            cls = LocalWebservice if local else Webservice
        elif issubclass(cls, LocalWebservice) != local:
            raise WebserviceException(f"service {name!r} is not a {cls.__name__}")
        service = super().__new__(cls)
        service._setup(workspace, row)
        return service

    def __init__(self, workspace: Any = None, name: str | None = None) -> None:
        pass  # set up in __new__ / _setup

    def _setup(self, workspace: Workspace, row: dict[str, Any]) -> None:
        self.workspace = workspace
        self._row = row

    def _containers(self) -> ServiceContainers:
        from airflow_mlw.models.containers import ServiceContainers

        return ServiceContainers(self.workspace.name, self.name, self._row["config"].get("docker_url"))

    def update_deployment_state(self) -> None:
        """Re-read the service from the registry."""
        self._row = _load_row(self.workspace, self.name)

    reload = update_deployment_state

    # -- what Azure's Webservice shows --------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self._row["name"])

    @property
    def state(self) -> str:
        """``Transitioning``, ``Healthy``, ``Unhealthy`` (containers gone or stopped) or ``Failed``."""
        self.update_deployment_state()
        state = str(self._row["state"])
        if state == "Healthy":
            containers = self._containers()
            config = self._row["config"]
            if not (
                containers.running(self._row["container_id"]) and containers.running(config.get("front"))
            ):
                return "Unhealthy"
        return state

    @property
    def scoring_uri(self) -> str | None:
        return self._row["scoring_uri"]

    @property
    def port(self) -> int | None:
        return self._row["config"].get("port")

    @property
    def error(self) -> str | None:
        return self._row["config"].get("error")

    @property
    def image_id(self) -> str | None:
        return self._row["config"].get("image")

    @property
    def compute_target_name(self) -> str | None:
        return self._row["compute_target"]

    @property
    def created_time(self) -> datetime:
        return self._row["created_at"]  # type: ignore[no-any-return]

    @property
    def updated_time(self) -> datetime:
        return self._row["updated_at"]  # type: ignore[no-any-return]

    @property
    def models(self) -> list[Model]:
        from airflow_mlw.models.model import Model
        from airflow_mlw.models.versions import load_by_id

        return [
            Model._from_record(self.workspace, load_by_id(self.workspace, i))
            for i in self._row["model_version_ids"]
        ]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, state={self._row['state']!r}, scoring_uri={self.scoring_uri!r})"

    # -- using it -----------------------------------------------------------------------------------

    def wait_for_deployment(self, show_output: bool = False, timeout_sec: float | None = None) -> None:
        """Wait while another process deploys it; raise with the reason and log tail if it failed."""
        deadline = time.monotonic() + (timeout_sec or DEPLOY_TIMEOUT)
        while (state := self.state) == "Transitioning" and time.monotonic() < deadline:
            time.sleep(0.5)
        if show_output:
            print(
                f"{type(self).__name__} {self.name!r}: {state}"
                + (f" at {self.scoring_uri}" if state == "Healthy" else "")
            )
        if state != "Healthy":
            raise WebserviceException(
                self.error or f"service {self.name!r} is {state}; see service.get_logs() and deploy it again"
            )

    def run(self, input_data: Any) -> Any:
        """POST ``input_data`` (a JSON string, or a value to serialise) to ``scoring_uri``; the
        deserialised answer of the entry script's ``run()``."""
        if not self.scoring_uri:
            raise WebserviceException(
                f"service {self.name!r} has no scoring URI (state {self._row['state']})"
            )
        body = input_data if isinstance(input_data, str | bytes) else json.dumps(input_data)
        request = urllib.request.Request(
            self.scoring_uri,
            data=body.encode() if isinstance(body, str) else body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except (ValueError, AttributeError):
                pass
            raise WebserviceException(f"service {self.name!r} answered HTTP {exc.code}: {detail}") from None
        except urllib.error.URLError as exc:
            raise WebserviceException(
                f"service {self.name!r} at {self.scoring_uri} does not answer: {exc.reason}"
            ) from None

    def get_logs(self, num_lines: int = 5000, init: bool = False) -> str:
        """The scoring container's log (for a failed deployment: the log it left)."""
        self.update_deployment_state()
        if self._row["state"] == "Failed" or not self._row["container_id"]:
            return str(self._row["config"].get("logs") or "")
        return self._containers().logs(self._row["container_id"], num_lines)

    # -- changing it --------------------------------------------------------------------------------

    def update(
        self,
        models: list[Any] | None = None,
        inference_config: InferenceConfig | None = None,
        deployment_config: DeploymentConfiguration | None = None,
        **_azure_only: Any,
    ) -> None:
        """Replace the running revision without a window where ``scoring_uri`` refuses requests: the
        new container starts beside the old one, and the old one drains once the new one is ready.

        :param models: new models (default: the deployed ones)
        :param inference_config: new entry script, source folder or environment (default: as deployed)
        :param deployment_config: new CPU and memory limits (the port stays)
        """
        config = self._claim_for_update(deployment_config)
        if deployment_config is not None:
            config["limits"] = deployment_config.limits()
        containers = self._containers()
        try:
            if not containers.running(config["front"]):
                raise WebserviceException(
                    f"service {self.name!r} is Unhealthy: its front container is gone; deploy it again "
                    "with overwrite=True"
                )
            if inference_config is None and not containers.running(self._row["container_id"]):
                raise WebserviceException(
                    f"service {self.name!r} has no running revision to take the source from: pass inference_config"
                )
            chosen = (
                [_resolve_model(self.workspace, m) for m in models] if models is not None else self.models
            )
            if inference_config is not None:
                spec = _scoring_spec(
                    self.workspace,
                    chosen,
                    inference_config,
                    config["revision"] + 1,
                    config.get("docker_url"),
                    config.get("limits") or {},
                )
            else:
                spec = _scoring_spec_like(
                    self.workspace, chosen, config, containers.source_of(self._row["container_id"])
                )
            new_id = containers.start_scoring(config["front"], spec)
            try:
                containers.wait_ready(new_id, DEPLOY_TIMEOUT)
            except WebserviceException as exc:
                containers.drain(new_id)
                raise WebserviceException(
                    f"update of service {self.name!r} failed; the previous revision keeps serving.\n{exc}"
                ) from None
        except BaseException:
            _save(self.workspace, self.name, state="Healthy")
            raise
        old_id = self._row["container_id"]
        _save(
            self.workspace,
            self.name,
            state="Healthy",
            container_id=new_id,
            model_version_ids=[m._record.id for m in chosen],
            config={**config, **_config_of(spec), "error": None, "logs": None},
        )
        containers.drain(old_id)
        self.update_deployment_state()

    def _claim_for_update(self, deployment_config: DeploymentConfiguration | None) -> dict[str, Any]:
        with self.workspace.store.session(write=True) as session:
            row = _row_query(session, self.workspace, self.name)
            if row is None:
                raise WebserviceException(
                    f"service {self.name!r} no longer exists in workspace {self.workspace.name!r}"
                )
            if row.state != "Healthy":
                raise WebserviceException(
                    f"service {self.name!r} is {row.state}: update needs a Healthy service "
                    "(deploy it again with overwrite=True)"
                )
            port = getattr(deployment_config, "port", None)
            if port is not None and port != row.config.get("port"):
                raise WebserviceException(
                    f"service {self.name!r} listens on port {row.config.get('port')}; moving it to {port} "
                    "needs a new deployment (Model.deploy(..., overwrite=True))"
                )
            row.state = "Transitioning"
            return dict(row.config)

    def delete(self) -> None:
        """Drain and remove its containers, then forget it."""
        self._containers().remove_all()
        _forget(self.workspace, self.name)

    @staticmethod
    def list(
        workspace: Workspace,
        compute_type: str | None = None,
        model_name: str | None = None,
        **_azure_only: Any,
    ) -> list[Webservice]:
        """Services of the workspace, by name (``compute_type``: ``"Local"`` or ``"Inference"``)."""
        from sqlalchemy import select

        from airflow_mlw.registry.models import WebserviceRow

        with workspace.store.session() as session:
            names = session.scalars(
                select(WebserviceRow.name)
                .where(WebserviceRow.workspace_id == workspace._workspace_id())
                .order_by(WebserviceRow.name)
            ).all()
        services = [Webservice(workspace, name) for name in names]
        if compute_type is not None:
            services = [s for s in services if s.compute_type == compute_type]
        if model_name is not None:
            services = [s for s in services if any(m.name == model_name for m in s.models)]
        return services


class LocalWebservice(Webservice):
    """A service on this machine's Docker engine, published on 127.0.0.1."""

    compute_type = "Local"

    @staticmethod
    def deploy_configuration(port: int | None = None) -> DeploymentConfiguration:
        """:param port: host port of ``scoring_uri`` (default: a free one)"""
        if port is not None and not (isinstance(port, int) and 0 < port < 65536):
            raise WebserviceException(f"port must be an integer from 1 to 65535, not {port!r}")
        return DeploymentConfiguration(port)


class AciWebservice(LocalWebservice):
    """Azure Container Instances, ported: a service on this machine's engine with CPU and memory limits."""

    @staticmethod
    def deploy_configuration(  # type: ignore[override]
        cpu_cores: float | None = None, memory_gb: float | None = None, **_azure_only: Any
    ) -> DeploymentConfiguration:
        return DeploymentConfiguration(None, cpu_cores, memory_gb)


class AksWebservice(Webservice):
    """Azure Kubernetes Service, ported: a service on an ``InferenceCompute`` target, with limits."""

    @staticmethod
    def deploy_configuration(
        cpu_cores: float | None = None, memory_gb: float | None = None, **_azure_only: Any
    ) -> DeploymentConfiguration:
        return DeploymentConfiguration(None, cpu_cores, memory_gb)


# -- deployment ---------------------------------------------------------------------------------------


def deploy(
    workspace: Workspace,
    name: str,
    models: Sequence[Any],
    inference_config: InferenceConfig,
    deployment_config: DeploymentConfiguration | None,
    deployment_target: Any,
    *,
    overwrite: bool,
    show_output: bool,
) -> Webservice:
    """``Model.deploy``: checks, a registry row, the front, the first scoring revision, a health check."""
    from airflow_mlw.models.containers import ScoringContainerFailed, ServiceContainers

    check_service_name(name)
    chosen = [_resolve_model(workspace, m) for m in models]
    inference_config.resolved()
    target_name, docker_url, bind_ip, ports, host = _placement(
        workspace, deployment_config, deployment_target
    )
    existing = find_service(workspace, name) if overwrite else None
    if existing is not None:
        existing.delete()
    _claim(workspace, name, target_name)
    containers = ServiceContainers(workspace.name, name, docker_url)
    try:
        containers.remove_all()  # left by a process that died while deploying this name
        limits = deployment_config.limits() if deployment_config is not None else {}
        spec = _scoring_spec(workspace, chosen, inference_config, 1, docker_url, limits)
        front, port = containers.start_front(spec.image, bind_ip, ports)
    except BaseException:
        containers.remove_all()
        _forget(workspace, name)
        raise
    config = {"docker_url": docker_url, "front": front, "port": port, "bind_ip": bind_ip, **_config_of(spec)}
    scoring_uri = f"http://{host}:{port}/score"
    model_ids = [m._record.id for m in chosen]
    try:
        scoring = containers.start_scoring(front, spec)
        containers.wait_ready(scoring, DEPLOY_TIMEOUT)
        _wait_healthy(scoring_uri.removesuffix("/score") + "/health", HEALTH_TIMEOUT)
    except ScoringContainerFailed as exc:
        containers.remove_all()
        _save(
            workspace,
            name,
            state="Failed",
            model_version_ids=model_ids,
            config={**config, "error": str(exc), "logs": exc.logs},
        )
    except BaseException:
        containers.remove_all()
        _forget(workspace, name)
        raise
    else:
        _save(
            workspace,
            name,
            state="Healthy",
            scoring_uri=scoring_uri,
            container_id=scoring,
            model_version_ids=model_ids,
            config=config,
        )
    service = Webservice(workspace, name)
    if show_output:
        print(f"{type(service).__name__} {name!r}: {service._row['state']}", file=sys.stdout)
    return service  # type: ignore[no-any-return]


def check_service_name(name: str) -> None:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise WebserviceException(
            f"service name {name!r} is invalid: 3 to 32 lowercase letters, digits and dashes, starting "
            "with a letter and not ending with a dash"
        )


def _resolve_model(workspace: Workspace, model: Any) -> Model:
    from airflow_mlw.models.model import Model

    if isinstance(model, Model):
        return model
    if isinstance(model, str):
        name, _, version = model.partition(":")
        return Model(workspace, name, version=version or None)
    raise WebserviceException(f"models must be Model objects or 'name[:version]' strings, not {model!r}")


def _placement(
    workspace: Workspace, deployment_config: DeploymentConfiguration | None, deployment_target: Any
) -> tuple[str | None, str | None, str, list[int | None], str]:
    """(target name, Docker URL, bind address, ports to try, host of scoring_uri)."""
    from urllib.parse import urlparse

    from airflow_mlw.compute import ComputeTarget

    port = getattr(deployment_config, "port", None)
    if deployment_target is None:
        return None, None, LOCAL_BIND, [port], LOCAL_BIND
    target = deployment_target
    if not isinstance(target, ComputeTarget):
        target = ComputeTarget(workspace, str(deployment_target))
    if target.kind != "inference":
        raise WebserviceException(
            f"deployment_target {target.name!r} is a {target.type} target: deploy to an InferenceCompute "
            "target, or pass deployment_target=None for this machine"
        )
    port_range = target.config.get("port_range")
    low, high = port_range or (0, 0)
    if port is not None and port_range and not low <= port <= high:
        raise WebserviceException(
            f"port {port} is outside the port_range {low}-{high} of target {target.name!r}"
        )
    ports: list[int | None] = [port] if port is not None or not port_range else list(range(low, high + 1))
    docker_url = target.config.get("docker_url")
    url = urlparse(docker_url or "")
    host = target.config.get("scoring_host") or (
        url.hostname if url.scheme in ("tcp", "http", "https") else None
    )
    return target.name, docker_url, "0.0.0.0", ports, host or LOCAL_BIND


def _scoring_spec(
    workspace: Workspace,
    models: list[Model],
    inference_config: InferenceConfig,
    revision: int,
    docker_url: str | None,
    limits: dict[str, float],
) -> ScoringSpec:
    from airflow_mlw.environments.docker_build import ensure_image
    from airflow_mlw.environments.spec import curated_environment
    from airflow_mlw.models.containers import ScoringSpec, source_archive

    source, entry = inference_config.resolved()
    environment = inference_config.environment or curated_environment("MLW-minimal")
    return ScoringSpec(
        image=ensure_image(environment, workspace, docker_url=docker_url),
        revision=revision,
        entry_script=entry,
        source_archive=source_archive(source),
        models=[(m.name, m.version, m.local_folder()) for m in models],
        environment={
            "MLW_ENVIRONMENT": environment.name,
            **{k: str(v) for k, v in environment.environment_variables.items()},
        },
        limits=limits,
    )


def _scoring_spec_like(
    workspace: Workspace, models: list[Model], config: dict[str, Any], archive: bytes
) -> ScoringSpec:
    """The next revision of a deployed spec with other models (same image, entry script and source)."""
    from airflow_mlw.models.containers import ScoringSpec

    return ScoringSpec(
        image=config["image"],
        revision=config["revision"] + 1,
        entry_script=config["entry_script"],
        source_archive=archive,
        models=[(m.name, m.version, m.local_folder()) for m in models],
        environment=dict(config.get("environment") or {}),
        limits=dict(config.get("limits") or {}),
    )


def _config_of(spec: ScoringSpec) -> dict[str, Any]:
    return {
        "image": spec.image,
        "revision": spec.revision,
        "entry_script": spec.entry_script,
        "environment": spec.environment,
        "limits": spec.limits,
    }


def _wait_healthy(url: str, timeout: float) -> None:
    """``GET /health`` through the published port answers 200 (the path users take)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            if time.monotonic() > deadline:
                raise WebserviceException(f"{url} did not answer within {timeout:.0f} s: {exc}") from None
        time.sleep(0.05)


# -- registry rows ------------------------------------------------------------------------------------


def _row_query(session: Any, workspace: Workspace, name: str) -> Any:
    from sqlalchemy import select

    from airflow_mlw.registry.models import WebserviceRow

    return session.scalar(
        select(WebserviceRow).where(
            WebserviceRow.workspace_id == workspace._workspace_id(), WebserviceRow.name == name
        )
    )


def _load_row(workspace: Workspace, name: str) -> dict[str, Any]:
    with workspace.store.session() as session:
        row = _row_query(session, workspace, name)
        if row is None:
            raise WebserviceException(f"no service named {name!r} in workspace {workspace.name!r}")
        return {column: getattr(row, column) for column in row.__table__.columns.keys()}


def find_service(workspace: Workspace, name: str) -> Webservice | None:
    """The service ``name``, or ``None`` when the workspace has none of that name."""
    with workspace.store.session() as session:
        exists = _row_query(session, workspace, name) is not None
    return Webservice(workspace, name) if exists else None


def _claim(workspace: Workspace, name: str, target_name: str | None) -> None:
    """The service's row, in state ``Transitioning``; a name already taken is an error."""
    from sqlalchemy.exc import IntegrityError

    from airflow_mlw.registry.models import WebserviceRow

    taken = WebserviceException(
        f"a service named {name!r} already exists in workspace {workspace.name!r}; "
        "pass overwrite=True to replace it, or choose another name"
    )
    try:
        with workspace.store.session(write=True) as session:
            if _row_query(session, workspace, name) is not None:
                raise taken
            session.add(
                WebserviceRow(
                    workspace_id=workspace._workspace_id(),
                    name=name,
                    compute_target=target_name,
                    state="Transitioning",
                    model_version_ids=[],
                    config={},
                )
            )
    except IntegrityError:
        raise taken from None


def _save(workspace: Workspace, name: str, **fields: Any) -> None:
    from airflow_mlw.registry.models import utcnow

    with workspace.store.session(write=True) as session:
        row = _row_query(session, workspace, name)
        if row is None:
            return
        for key, value in fields.items():
            setattr(row, key, value)
        row.updated_at = utcnow()


def _forget(workspace: Workspace, name: str) -> None:
    from sqlalchemy import delete

    from airflow_mlw.registry.models import WebserviceRow

    with workspace.store.session(write=True) as session:
        session.execute(
            delete(WebserviceRow).where(
                WebserviceRow.workspace_id == workspace._workspace_id(), WebserviceRow.name == name
            )
        )
