"""Real services for the test session, on loopback: PostgreSQL, MariaDB, the moto S3 server, Azurite, Docker.

Each starter raises :class:`ServiceUnavailable` with a one-line reason when the service cannot run
here; ``conftest.require`` turns that into a skip outside CI and a failure with ``CI=true``.
Everything started here is stopped at the end of the session.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DOCKER_SOCKET = "/var/run/docker.sock"
BASE_IMAGE = "mlw-base:bookworm"


class ServiceUnavailable(RuntimeError):
    """The service cannot be started on this machine; the message says why, in one line."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.2)
    tail = ""
    if log is not None and log.exists():
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
    raise ServiceUnavailable(f"{what} did not become ready within {timeout:.0f}s {tail}".strip())


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass
class Postgres:
    """A throwaway PostgreSQL cluster in a temp dir (run as the ``postgres`` user when root)."""

    port: int = 0
    root: Path = field(default_factory=Path)

    def start(self) -> Postgres:
        initdb = shutil.which("initdb")
        pg_ctl = shutil.which("pg_ctl")
        if not initdb or not pg_ctl:
            raise ServiceUnavailable("PostgreSQL binaries initdb/pg_ctl not on PATH")
        self.root = Path(tempfile.mkdtemp(prefix="mlw-pg-"))
        self.port = free_port()
        prefix: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            prefix = ["runuser", "-u", "postgres", "--"]
        data, log = self.root / "data", self.root / "server.log"
        run = subprocess.run(
            [*prefix, initdb, "-D", str(data), "--auth=trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
            capture_output=True,
            text=True,
        )
        if run.returncode:
            raise ServiceUnavailable(f"initdb failed: {run.stderr.strip().splitlines()[-1:]}")
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
        )
        run = subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start"],
            capture_output=True,
            text=True,
        )
        if run.returncode:
            raise ServiceUnavailable(f"pg_ctl start failed: {run.stderr.strip()[-200:]}")
        self._prefix, self._pg_ctl, self._data = prefix, pg_ctl, data
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create database ``name`` and return its SQLAlchemy URL."""
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [*self._prefix, self._pg_ctl, "-D", str(self._data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class MariaDB:
    """A throwaway MariaDB server in a temp dir (run as the ``mysql`` user when root: it refuses root).

    ``root`` signs in without a password over TCP; tests make their own users and databases.
    """

    port: int = 0
    root: Path = field(default_factory=Path)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> MariaDB:
        install_db = shutil.which("mariadb-install-db")
        server = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin:/usr/local/sbin")
        if not install_db or not server:
            raise ServiceUnavailable(
                "MariaDB binaries mariadb-install-db/mariadbd not found (scripts/system-deps.sh)"
            )
        self.root = Path(tempfile.mkdtemp(prefix="mlw-mariadb-"))
        self.port = free_port()
        user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "mysql", "mysql")
            user = ["--user=mysql"]
        data, log = self.root / "data", self.root / "server.log"
        run = subprocess.run(
            [
                install_db,
                "--no-defaults",
                f"--datadir={data}",
                *user,
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
        )
        if run.returncode:
            raise ServiceUnavailable(
                f"mariadb-install-db failed: {(run.stderr or run.stdout).strip()[-200:]}"
            )
        command = [
            server,
            "--no-defaults",
            f"--datadir={data}",
            *user,
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.root / 'mysqld.sock'}",
            f"--pid-file={self.root / 'mysqld.pid'}",
            f"--log-error={log}",
            "--skip-name-resolve",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=32M",
            "--innodb-flush-log-at-trx-commit=0",
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceUnavailable(f"mariadbd exited with {self.process.returncode}")
            self.connect().close()
            return True

        try:
            wait_until(ready, 60, "mariadbd", log)
        except ServiceUnavailable:
            self.stop()
            raise
        return self

    def connect(self, database: str = "") -> Any:
        """A MySQLdb connection as ``root`` (autocommit)."""
        import MySQLdb

        connection = MySQLdb.connect(host="127.0.0.1", port=self.port, user="root", passwd="", db=database)
        connection.autocommit(True)
        return connection

    def create_database(self, name: str, user: str, password: str) -> None:
        """Create database ``name`` (dropped first) and a user with its password who may use it."""
        connection = self.connect()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cursor.execute(f"CREATE DATABASE `{name}`")
            cursor.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (user, password))
            cursor.execute(f"GRANT ALL ON `{name}`.* TO %s@'%%'", (user,))
        connection.close()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=30)
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class BackgroundServer:
    """A server process started in its own process group, with its log in a temp dir."""

    name: str
    port: int = 0
    root: Path = field(default_factory=Path)
    process: subprocess.Popen[bytes] | None = None

    def launch(self, command: list[str], ready: Callable[[], bool], timeout: float = 60) -> None:
        log = self.root / f"{self.name}.log"
        with open(log, "wb") as handle:
            self.process = subprocess.Popen(
                command, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.root
            )

        def check() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceUnavailable(f"{self.name} exited with {self.process.returncode}")
            return ready()

        try:
            wait_until(check, timeout, self.name, log)
        except ServiceUnavailable:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)


def start_moto() -> BackgroundServer:
    """moto's standalone server: a real S3 endpoint over HTTP on loopback."""
    executable = Path(sys.executable).with_name("moto_server")
    if not executable.exists():
        raise ServiceUnavailable("moto_server not installed (pip install 'moto[server]')")
    server = BackgroundServer("moto", port=free_port(), root=Path(tempfile.mkdtemp(prefix="mlw-moto-")))

    def ready() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/moto-api/", timeout=1) as response:
            return bool(response.status == 200)

    server.launch([str(executable), "-H", "127.0.0.1", "-p", str(server.port)], ready)
    return server


def start_azurite() -> BackgroundServer:
    """Azurite, the Azure Storage emulator (Blob service only), on loopback."""
    executable = REPO / ".cache" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
    if not executable.exists():
        raise ServiceUnavailable("azurite not installed: run scripts/system-deps.sh (needs npm)")
    server = BackgroundServer("azurite", port=free_port(), root=Path(tempfile.mkdtemp(prefix="mlw-azurite-")))
    command = [
        str(executable),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(server.port),
        "--location",
        str(server.root / "data"),
        "--skipApiVersionCheck",
        "--loose",
        "--silent",
    ]
    server.launch(command, lambda: port_open(server.port))
    return server


AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_connection_string(port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )


def docker_ping(url: str = f"unix://{DOCKER_SOCKET}") -> bool:
    import docker

    client = docker.DockerClient(base_url=url, timeout=5)
    try:
        return bool(client.ping())
    finally:
        client.close()


@dataclass
class DockerEngine:
    """The machine's Docker engine; started (and later stopped) here when it is not running."""

    url: str = f"unix://{DOCKER_SOCKET}"
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> DockerEngine:
        with contextlib.suppress(Exception):
            if docker_ping(self.url):
                return self
        dockerd = shutil.which("dockerd")
        if dockerd is None:
            raise ServiceUnavailable(
                "no Docker engine: dockerd not installed (scripts/system-deps.sh as root)"
            )
        if os.geteuid() != 0:
            raise ServiceUnavailable("no Docker engine running and dockerd needs root to start")
        pid_file = Path("/var/run/docker.pid")
        if pid_file.exists():
            with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                os.kill(int(pid_file.read_text().strip()), 0)
                raise ServiceUnavailable("dockerd is running but does not answer on its socket")
            pid_file.unlink(missing_ok=True)
        log = Path(tempfile.gettempdir()) / "mlw-dockerd.log"
        with open(log, "wb") as handle:
            self.process = subprocess.Popen(
                [dockerd, f"--host={self.url}"],
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(lambda: docker_ping(self.url), 60, "dockerd", log)
        return self

    def ensure_base_image(self, tag: str = BASE_IMAGE) -> str:
        """The locally built Debian base image (debootstrap + docker import), built once and cached by tag."""
        run = subprocess.run(
            [str(REPO / "scripts" / "build-base-image.sh"), tag], capture_output=True, text=True
        )
        if run.returncode:
            raise ServiceUnavailable(f"cannot build base image {tag}: {run.stderr.strip()[-300:]}")
        return tag

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=30)
            self.process = None


@dataclass
class Redis:
    """A throwaway Redis server on loopback (Celery's broker), nothing persisted."""

    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Redis:
        server = shutil.which("redis-server")
        if server is None:
            raise ServiceUnavailable("redis-server not installed (scripts/system-deps.sh as root)")
        self.port = free_port()
        self.process = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(lambda: port_open(self.port), 30, "redis-server")
        return self

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


class SecondDockerEngine:
    """A second ``dockerd`` on this machine (own socket, data root, exec root and bridge) playing
    another host's engine for attached compute; its images start empty.

    Its bridge is a device of its own: with ``--bridge=none`` dockerd deletes the host's ``docker0``,
    which would break the main engine's containers for the rest of the session."""

    BRIDGE = "mlw-docker2"

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mlw-dockerd2-"))
        self.socket = self.root / "docker.sock"
        self.url = f"unix://{self.socket}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> SecondDockerEngine:
        dockerd = shutil.which("dockerd")
        if dockerd is None or os.geteuid() != 0:
            raise ServiceUnavailable("a second Docker engine needs dockerd and root")
        log = self.root / "dockerd.log"
        subprocess.run(["ip", "link", "delete", self.BRIDGE], capture_output=True)
        for step in (
            ["ip", "link", "add", "name", self.BRIDGE, "type", "bridge"],
            ["ip", "addr", "add", "172.31.254.1/24", "dev", self.BRIDGE],
            ["ip", "link", "set", self.BRIDGE, "up"],
        ):
            made = subprocess.run(step, capture_output=True, text=True)
            if made.returncode:
                raise ServiceUnavailable(f"{' '.join(step)} failed: {made.stderr.strip()}")
        command = [dockerd, f"--host={self.url}", f"--data-root={self.root / 'data'}"]
        command += [f"--exec-root={self.root / 'exec'}", f"--pidfile={self.root / 'docker.pid'}"]
        command += [f"--bridge={self.BRIDGE}", "--iptables=false", "--ip-masq=false", "--ip6tables=false"]
        with open(log, "wb") as handle:
            self.process = subprocess.Popen(
                command, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_until(lambda: self.socket.exists() and docker_ping(self.url), 60, "second dockerd", log)
        return self

    def load_image(self, tag: str, source_url: str = f"unix://{DOCKER_SOCKET}") -> None:
        """Copy an image from the main engine (``docker save | docker load``), as a registry would."""
        import docker

        source = docker.DockerClient(base_url=source_url)
        target = docker.DockerClient(base_url=self.url)
        try:
            target.images.load(b"".join(source.images.get(tag).save(named=True)))
        finally:
            source.close()
            target.close()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=30)
            self.process = None
        subprocess.run(["ip", "link", "delete", self.BRIDGE], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
