"""Docker images of environments: a Dockerfile from the spec, built once per spec and base image.

Conda packages go through the base image's conda or the pip index (``conda_packages``); no
binary is fetched from a fixed URL.

Tag ``mlw-env/<name>:<hash>`` where the hash covers the spec hash and the base image's id. An
existing tag is never rebuilt; two tasks asking for the same missing image take a file lock, so
one builds and the other finds the tag. Builds honour ``[mlw] build_ca_bundle``,
``pip_index_url`` and ``pip_extra_index_url`` (corporate proxies and mirrors) and stream their
log into the task log; a failed build leaves no tag behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import logging
import re
import shlex
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw.environments.conda_packages import (
    CONDA_EXECUTABLES,
    CondaRoute,
    choose_route,
    pip_requirements,
    route_from_settings,
)
from airflow_mlw.exceptions import MlwEnvironmentError

if TYPE_CHECKING:
    from airflow_mlw.config import MlwSettings
    from airflow_mlw.environments.spec import Environment

log = logging.getLogger(__name__)
ENV_PREFIX = "/opt/mlw-env"
CA_PATH = "/etc/mlw/ca-bundle.crt"


def docker_client(docker_url: str | None = None) -> Any:
    """A Docker client, or a clear error naming the engine URL."""
    try:
        import docker
    except ImportError:
        raise MlwEnvironmentError(
            "Docker environments need the docker extra: pip install 'airflow-mlw[docker]'"
        ) from None
    url = docker_url or "unix:///var/run/docker.sock"
    try:
        client = docker.DockerClient(base_url=url, timeout=120)
        client.ping()
    except Exception as exc:
        raise MlwEnvironmentError(f"Docker engine at {url} is unreachable ({type(exc).__name__})") from None
    return client


def repository(name: str) -> str:
    return "mlw-env/" + (re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "env")


def image_tag(env: Environment, base_image_id: str) -> str:
    digest = hashlib.sha256(f"{env.spec_hash}\n{base_image_id}".encode()).hexdigest()[:20]
    return f"{repository(env.name)}:{digest}"


def dockerfile(
    env: Environment, settings: MlwSettings, base_image: str, route: CondaRoute | None = None
) -> str:
    """The Dockerfile of ``env``: a venv + pip, or the base image's conda for conda packages.

    :param route: how conda packages are installed (``conda_packages.choose_route`` at build time);
        by default decided from the settings without probing
    """
    deps = env.python.conda_dependencies
    lines = [f"FROM {base_image}", f'LABEL mlw.environment="{env.name}" mlw.spec-hash="{env.spec_hash}"']
    if settings.build_ca_bundle:
        lines += [
            f"COPY ca-bundle.crt {CA_PATH}",
            f"ENV PIP_CERT={CA_PATH} SSL_CERT_FILE={CA_PATH} REQUESTS_CA_BUNDLE={CA_PATH}",
        ]
    if settings.pip_index_url:
        lines.append(f"ENV PIP_INDEX_URL={settings.pip_index_url}")
    if settings.pip_extra_index_url:
        lines.append(f"ENV PIP_EXTRA_INDEX_URL={settings.pip_extra_index_url}")
    route = route or route_from_settings(settings)
    for note in conda_notes(env, route):
        lines.append(f"RUN echo {shlex.quote(note)}")
    pip_packages = deps.installable_pip_packages()
    conda_packages = list(deps.conda_packages)
    wants_conda = bool(conda_packages or deps.python_version)
    if wants_conda and route.via == "pip":
        pip_packages = pip_requirements(conda_packages)[0] + pip_packages
    pip_install = (
        f"{ENV_PREFIX}/bin/pip install --no-cache-dir --disable-pip-version-check {' '.join(shlex.quote(p) for p in pip_packages)}"
        if pip_packages
        else "true"
    )
    if wants_conda and route.via == "conda":
        channels = " ".join(f"-c {shlex.quote(c)}" for c in (deps.channels or ["conda-forge"]))
        python = f"python={deps.python_version}" if deps.python_version else "python"
        packages = " ".join(shlex.quote(p) for p in [python, "pip", *conda_packages])
        missing = (
            f"no {', '.join(CONDA_EXECUTABLES)} on PATH in base image {base_image}: use a base image that "
            "has one, or set [mlw] conda_packages_via = pip"
        )
        find = " || ".join(f"command -v {name}" for name in CONDA_EXECUTABLES)
        lines.append(
            f'RUN CONDA_EXE="$({find})" || {{ echo {shlex.quote(missing)} >&2; exit 1; }}; '
            f'"$CONDA_EXE" create -y -p {ENV_PREFIX} {channels} {packages} && "$CONDA_EXE" clean -a -y'
        )
        lines.append(f"RUN {pip_install}")
    else:
        lines.append(f"RUN python3 -m venv {ENV_PREFIX} && {pip_install}")
    lines.append(f"ENV PATH={ENV_PREFIX}/bin:$PATH PYTHONUNBUFFERED=1")
    for key, value in sorted(env.environment_variables.items()):
        lines.append(f"ENV {key}={shlex.quote(str(value))}")
    return "\n".join(lines) + "\n"


def build_notes(env: Environment, route: CondaRoute) -> list[str]:
    """What the build log says about packages it does not install as written."""
    runtime = env.python.conda_dependencies.runtime_pip_packages()
    notes = conda_notes(env, route)
    if runtime:
        notes.append(
            f"pip packages {' '.join(runtime)} need no install: the airflow_mlw runtime is mounted into every run"
        )
    return notes


def conda_notes(env: Environment, route: CondaRoute) -> list[str]:
    """How the conda part of the spec is installed, and why (echoed by the build as well)."""
    deps = env.python.conda_dependencies
    notes: list[str] = []
    if not (deps.conda_packages or deps.python_version):
        return notes
    if route.via == "pip":
        requirements, skipped = pip_requirements(list(deps.conda_packages))
        if deps.conda_packages:
            notes.append(
                f"conda packages {' '.join(deps.conda_packages)} installed from the pip index "
                f"as {' '.join(requirements) or 'nothing'} because {route.reason}"
            )
        if skipped:
            notes.append(
                f"conda-only packages {' '.join(skipped)} left out: the pip index has no counterpart"
            )
        if deps.python_version:
            notes.append(
                f"python={deps.python_version} asked for: the base image's python is used ({route.reason})"
            )
    else:
        notes.append(f"conda packages installed with conda because {route.reason}")
    return notes


def _context(text: str, settings: MlwSettings) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        files = {"Dockerfile": text.encode()}
        if settings.build_ca_bundle:
            try:
                files["ca-bundle.crt"] = Path(settings.build_ca_bundle).read_bytes()
            except OSError as exc:
                raise MlwEnvironmentError(
                    f"cannot read [mlw] build_ca_bundle {settings.build_ca_bundle}: {exc.strerror}"
                ) from None
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def base_image_id(env: Environment, workspace: Any, docker_url: str | None = None, client: Any = None) -> str:
    """Id of the environment's base image on the engine (part of the image tag)."""
    base = env.docker.base_image or workspace.settings.default_base_image
    client = client or docker_client(docker_url)
    try:
        return str(client.images.get(base).id)
    except Exception:
        raise MlwEnvironmentError(
            f"base image {base!r} is not on the Docker engine; pull it, or build one from Debian packages "
            "with scripts/build-base-image.sh"
        ) from None


def ensure_image(env: Environment, workspace: Any = None, docker_url: str | None = None) -> str:
    """The image tag of ``env``, building it (once, under a lock) when the engine lacks it."""
    from airflow_mlw.workspace import Workspace

    ws = workspace or Workspace.from_config()
    settings = ws.settings
    client = docker_client(docker_url)
    base = env.docker.base_image or settings.default_base_image
    tag = image_tag(env, base_image_id(env, ws, client=client))
    if not _has_image(client, tag):
        _build_once(client, env, settings, base, tag)
    _record_tag(ws, env, tag)
    return tag


def _build_once(client: Any, env: Environment, settings: MlwSettings, base: str, tag: str) -> None:
    """Build ``tag`` unless another task does meanwhile (a file lock per tag on this host)."""
    lock_path = Path(settings.home) / "locks" / f"{tag.replace('/', '_').replace(':', '_')}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _has_image(client, tag):
            log.info("image %s was built by another task meanwhile", tag)
            return
        _build(client, env, settings, base, tag)


def _record_tag(ws: Any, env: Environment, tag: str) -> None:
    """The image tag on the registered versions of this spec (shown by ``mlw env show`` and the UI)."""
    from sqlalchemy import or_, select, update

    from airflow_mlw.registry.rows import EnvironmentRow, EnvironmentVersionRow

    with ws.store.session() as session:
        stale = session.scalars(
            select(EnvironmentVersionRow.id)
            .join(EnvironmentRow, EnvironmentRow.id == EnvironmentVersionRow.environment_id)
            .where(
                EnvironmentRow.workspace_id == ws._workspace_id(),
                EnvironmentRow.name == env.name,
                EnvironmentVersionRow.spec_hash == env.spec_hash,
                or_(EnvironmentVersionRow.image_tag.is_(None), EnvironmentVersionRow.image_tag != tag),
            )
        ).all()
    if stale:
        with ws.store.session(write=True) as session:
            session.execute(
                update(EnvironmentVersionRow).where(EnvironmentVersionRow.id.in_(stale)).values(image_tag=tag)
            )


def _has_image(client: Any, tag: str) -> bool:
    import docker

    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def _build(client: Any, env: Environment, settings: MlwSettings, base: str, tag: str) -> None:
    route = choose_route(env, settings, client, base)
    text = dockerfile(env, settings, base, route)
    log.info("building image %s for environment %r", tag, env.name)
    for note in build_notes(env, route):
        log.info("environment %r: %s", env.name, note)
    tail: list[str] = []
    stream = client.api.build(
        fileobj=_context(text, settings),
        custom_context=True,
        tag=tag,
        network_mode="host",
        rm=True,
        forcerm=True,
        decode=True,
    )
    for chunk in stream:
        if "stream" in chunk:
            for line in chunk["stream"].splitlines():
                if line.strip():
                    log.info("[build] %s", line)
                    tail = (tail + [line])[-20:]
        if "error" in chunk:
            message = chunk["error"].strip()
            raise MlwEnvironmentError(
                f"building environment {env.name!r} failed: {message}\n" + "\n".join(tail[-12:])
            )
    log.info("built image %s", tag)
