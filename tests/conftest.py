"""Test session set-up: an isolated AIRFLOW_HOME and the real services later tests need.

Services start on first request (session scope) and stop at the end. Outside CI a service that
cannot run here skips its tests with a one-line reason; with ``CI=true`` it fails them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

_SESSION_HOME = Path(tempfile.mkdtemp(prefix="mlw-test-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_SESSION_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# A Fernet key of the session's own, so Azure-style keys are stored encrypted as in production.
os.environ["AIRFLOW__CORE__FERNET_KEY"] = "QEIu7CbE8sd9Ds-RPyZozFXx5x7iBVjbTZMtbGBHwvw="
for _key in [k for k in os.environ if k.startswith("AIRFLOW__MLW__")] + ["MLW_CONFIG"]:
    os.environ.pop(_key, None)

import pytest  # noqa: E402

from tests import services  # noqa: E402
from tests.stores import file_datastore, s3_conn_id  # noqa: E402, F401

T = TypeVar("T")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DOCKER_OF_CONTROLLER = pytest.StashKey[services.DockerEngine]()


def require(name: str, start: Callable[[], T]) -> T:
    """Start a service, or skip (fail in CI) with a one-line reason."""
    try:
        return start()
    except services.ServiceUnavailable as exc:
        reason = f"{name} unavailable: {exc}"
        if IN_CI:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


def pytest_sessionstart(session: Any) -> None:
    """Under pytest-xdist the controller starts the Docker engine and builds the base image once,
    before the workers start: an engine a worker started would stop under the others when that
    worker ends. (Each worker starts its own PostgreSQL, S3, Azurite and Redis on free ports.)"""
    config = session.config
    if hasattr(config, "workerinput") or not config.pluginmanager.hasplugin("xdist"):
        return
    if not config.getoption("numprocesses", None):
        return
    try:
        engine = services.DockerEngine().start()
        engine.ensure_base_image()
    except services.ServiceUnavailable:
        return  # the workers' docker_engine fixture reports why (a skip, or a failure in CI)
    config.stash[DOCKER_OF_CONTROLLER] = engine


STACK_MODULES = ("tests.airflow_stack", "tests.parallel_stack")


def starts_a_deployment(module: Any) -> bool:
    """True for a test module that starts a real Airflow deployment (``tests.airflow_stack``)."""
    return any(
        getattr(value, "__module__", getattr(value, "__name__", None)) in STACK_MODULES
        for value in vars(module).values()
    )


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    """End-to-end tests on a real deployment first: they take minutes each, and mostly wait on
    the scheduler's loops, so the workers run the short tests beside them instead of after.
    (``make test`` passes ``--no-loadscope-reorder``: xdist would otherwise send the files with
    the most tests first.)"""
    stack = {id(item) for item in items if item.module is not None and starts_a_deployment(item.module)}
    items.sort(key=lambda item: id(item) not in stack)


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    engine = session.config.stash.get(DOCKER_OF_CONTROLLER, None)
    if engine is not None:
        engine.stop()
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)


@pytest.fixture
def mlw_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``$AIRFLOW_HOME`` per test, so the embedded default registry starts empty."""
    home = tmp_path / "airflow"
    home.mkdir()
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def workspace(tmp_path: Path) -> Any:
    """A workspace on its own SQLite registry."""
    from airflow_mlw.workspace import Workspace

    return Workspace.create("test", registry_url=f"sqlite:///{tmp_path / 'registry.db'}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[services.Postgres]:
    server = require("PostgreSQL", lambda: services.Postgres().start())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mariadb() -> Iterator[services.MariaDB]:
    server = require("MariaDB", lambda: services.MariaDB().start())
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres: services.Postgres, request: pytest.FixtureRequest) -> str:
    """A fresh database on the session's PostgreSQL server."""
    import hashlib

    node = request.node.nodeid
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:40]
    return postgres.create_database(f"{name}_{hashlib.sha1(node.encode()).hexdigest()[:8]}")


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh registry URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[services.BackgroundServer]:
    server = require("S3 server (moto)", services.start_moto)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[services.Redis]:
    server = require("Redis", lambda: services.Redis().start())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite() -> Iterator[services.BackgroundServer]:
    server = require("Azure Blob emulator (Azurite)", services.start_azurite)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[services.DockerEngine]:
    engine = require("Docker engine", lambda: services.DockerEngine().start())
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def base_image(docker_engine: services.DockerEngine) -> str:
    return require("base image", docker_engine.ensure_base_image)
