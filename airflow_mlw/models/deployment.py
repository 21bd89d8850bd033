"""``Model.deploy``: a registry row, the front container (the published port), the first scoring
revision and a health check through the published port.

The containers run on this machine's Docker engine (``LocalWebservice``, port published on
127.0.0.1) or an ``InferenceCompute`` target's (published on every interface, ports from its
``port_range``). ``deploy`` returns when the service is ``Healthy`` or ``Failed``.
"""

from __future__ import annotations

import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_mlw.exceptions import WebserviceException
from airflow_mlw.models.revisions import config_of, resolve_model, scoring_spec
from airflow_mlw.models.service import DEPLOY_TIMEOUT, Webservice, find_service
from airflow_mlw.models.service_rows import claim_name, forget_row, save_row

if TYPE_CHECKING:
    from airflow_mlw.models.deployment_configs import DeploymentConfiguration
    from airflow_mlw.models.model import InferenceConfig
    from airflow_mlw.workspace import Workspace

NAME_RE = re.compile(r"[a-z][a-z0-9-]{1,30}[a-z0-9]")
#: A ready scoring container answers through the published port within this.
HEALTH_TIMEOUT = 30.0
LOCAL_BIND = "127.0.0.1"


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
    chosen = [resolve_model(workspace, m) for m in models]
    inference_config.resolved()
    target_name, docker_url, bind_ip, ports, host = _placement(
        workspace, deployment_config, deployment_target
    )
    existing = find_service(workspace, name) if overwrite else None
    if existing is not None:
        existing.delete()
    claim_name(workspace, name, target_name)
    containers = ServiceContainers(workspace.name, name, docker_url)
    try:
        containers.remove_all()  # left by a process that died while deploying this name
        limits = deployment_config.limits() if deployment_config is not None else {}
        spec = scoring_spec(workspace, chosen, inference_config, 1, docker_url, limits)
        front, port = containers.start_front(spec.image, bind_ip, ports)
    except BaseException:
        containers.remove_all()
        forget_row(workspace, name)
        raise
    config = {"docker_url": docker_url, "front": front, "port": port, "bind_ip": bind_ip, **config_of(spec)}
    scoring_uri = f"http://{host}:{port}/score"
    model_ids = [m._record.id for m in chosen]
    try:
        scoring = containers.start_scoring(front, spec)
        containers.wait_ready(scoring, DEPLOY_TIMEOUT)
        _wait_healthy(scoring_uri.removesuffix("/score") + "/health", HEALTH_TIMEOUT)
    except ScoringContainerFailed as exc:
        containers.remove_all()
        save_row(
            workspace,
            name,
            state="Failed",
            model_version_ids=model_ids,
            config={**config, "error": str(exc), "logs": exc.logs},
        )
    except BaseException:
        containers.remove_all()
        forget_row(workspace, name)
        raise
    else:
        save_row(
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
