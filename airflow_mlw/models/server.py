"""The inside of a scoring service's containers; standard library only.

A service is two kinds of container sharing one network namespace:

- the **front** (``python -m airflow_mlw.models.server front``) owns the published port: it opens
  the listening socket once and hands it, over an abstract Unix socket of that namespace, to every
  scoring container that asks;
- a **scoring** container (``python -m airflow_mlw.models.server score``) imports the entry script,
  calls ``init()`` once, takes the listening socket from the front and serves ``POST /score``
  (``run(raw_data)``, JSON in and out), ``GET /health`` and ``GET /``.

During an update the old and the new scoring container accept from the same queue until the old
one drains (SIGTERM: it stops accepting, answers what it is reading with ``Connection: close`` and
closes connections idle for a second), so ``scoring_uri`` never refuses a connection. Nothing here
imports Airflow or this package's dependencies: environment images contain neither.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SERVICE_PORT = 5001
LISTENER_ADDRESS = "\0mlw-scoring-listener"
APP_ROOT = "/var/mlw-app"
SOURCE_DIR = f"{APP_ROOT}/source"
MODEL_ROOT = f"{APP_ROOT}/mlw-models"
MODEL_DIR_ENV = "MLW_MODEL_DIR"
ENTRY_SCRIPT_ENV = "MLW_ENTRY_SCRIPT"
READY_MARKER = "mlw-scoring: ready"
#: Idle keep-alive connections close after this (uvicorn's default); while draining, after 1 s.
KEEP_ALIVE_SECONDS = 5.0
DRAIN_IDLE_SECONDS = 1.0
DRAIN_SECONDS = 30.0


def log(message: str) -> None:
    print(f"mlw-scoring: {message}", file=sys.stderr, flush=True)


# -- the front: owns the port -------------------------------------------------------------------


def run_front(port: int) -> None:
    """Hold the service's listening socket and give it to every scoring container that connects."""
    listener = socket.create_server(("0.0.0.0", port), backlog=1024)
    holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    holder.bind(LISTENER_ADDRESS)
    holder.listen(16)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"mlw-front: holding port {port}", flush=True)
    while True:
        connection, _ = holder.accept()
        with connection:
            socket.send_fds(connection, [b"L"], [listener.fileno()])


def inherit_listener(timeout: float = 30.0) -> socket.socket:
    """The front's listening socket (it may still be starting: retry until ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            client.connect(LISTENER_ADDRESS)
            _, fds, _, _ = socket.recv_fds(client, 16, 1)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() > deadline:
                raise RuntimeError("the service's front container does not answer") from None
            time.sleep(0.05)
        finally:
            client.close()
    listener = socket.socket(fileno=fds[0])
    # Shared with the other scoring container during an update: whoever is faster accepts.
    listener.setblocking(False)
    return listener


# -- the entry script -------------------------------------------------------------------------------


class EntryScript:
    """The user's scoring module: Azure's contract, ``init()`` once and ``run(raw_data)`` per request."""

    def __init__(self, path: str) -> None:
        self.path = path
        name = os.path.splitext(os.path.basename(path))[0] or "score"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"entry script {path} cannot be imported")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        missing = [f for f in ("init", "run") if not callable(getattr(module, f, None))]
        if missing:
            script = os.path.basename(path)
            raise RuntimeError(
                f"entry script {script} defines no {' and no '.join(f + '()' for f in missing)} function: "
                "a scoring script needs init() (called once) and run(raw_data) (called per request)"
            )
        self.module = module
        self.run = module.run

    def init(self) -> None:
        self.module.init()


# -- the HTTP server --------------------------------------------------------------------------------


class ScoringServer(ThreadingHTTPServer):
    """A threading HTTP server on an inherited listening socket, with graceful draining."""

    daemon_threads = True

    def __init__(self, listener: socket.socket, entry: EntryScript, health: dict[str, Any]) -> None:
        super().__init__(listener.getsockname()[:2], ScoringHandler, bind_and_activate=False)
        self.socket.close()
        self.socket = listener
        self.server_name, self.server_port = "localhost", listener.getsockname()[1]
        self.entry = entry
        self.health = json.dumps(health)
        self.draining = False
        self.lock = threading.Lock()
        #: connection -> monotonic time it became idle (``None`` while a request is being handled).
        self.connections: dict[Any, float | None] = {}

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = self.socket.accept()
        connection.setblocking(True)
        return connection, address

    def drain(self) -> None:
        """Stop accepting, let requests in progress finish, close idle connections, then return."""
        self.draining = True
        self.shutdown()
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline:
            now = time.monotonic()
            with self.lock:
                if not self.connections:
                    return
                for connection, idle_since in list(self.connections.items()):
                    if idle_since is not None and now - idle_since >= DRAIN_IDLE_SECONDS:
                        try:
                            connection.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                        self.connections.pop(connection, None)
            time.sleep(0.05)


class ScoringHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mlw-scoring"
    sys_version = ""
    timeout = KEEP_ALIVE_SECONDS
    disable_nagle_algorithm = True
    server: ScoringServer

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections[self.connection] = time.monotonic()

    def finish(self) -> None:
        with self.server.lock:
            self.server.connections.pop(self.connection, None)
        super().finish()

    def handle_one_request(self) -> None:
        with self.server.lock:
            if self.connection in self.server.connections:
                self.server.connections[self.connection] = time.monotonic()
        super().handle_one_request()

    def parse_request(self) -> bool:
        with self.server.lock:
            self.server.connections[self.connection] = None
        return super().parse_request()

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.split("?", 1)[0] in ("/", "/health"):
            self.reply(HTTPStatus.OK, self.server.health)
        else:
            self.reply(HTTPStatus.NOT_FOUND, json.dumps({"error": f"no route {self.path}"}))

    def do_POST(self) -> None:  # noqa: N802
        if self.path.split("?", 1)[0] != "/score":
            self.reply(HTTPStatus.NOT_FOUND, json.dumps({"error": f"no route {self.path}; POST to /score"}))
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self.reply(
                HTTPStatus.LENGTH_REQUIRED, json.dumps({"error": "a Content-Length header is required"})
            )
            return
        body = self.rfile.read(int(length))
        try:
            raw_data = body.decode("utf-8")
            json.loads(raw_data)
        except ValueError as exc:
            self.reply(HTTPStatus.BAD_REQUEST, json.dumps({"error": f"request body is not JSON: {exc}"}))
            return
        try:
            result = self.server.entry.run(raw_data)
        except Exception as exc:
            log(f"run() raised:\n{traceback.format_exc().rstrip()}")
            self.reply(
                HTTPStatus.INTERNAL_SERVER_ERROR, json.dumps({"error": f"{type(exc).__name__}: {exc}"})
            )
            return
        try:
            payload = json.dumps(result)
        except (TypeError, ValueError) as exc:
            message = f"run() returned a value that is not JSON serializable: {exc}"
            log(message)
            self.reply(HTTPStatus.INTERNAL_SERVER_ERROR, json.dumps({"error": message}))
            return
        self.reply(HTTPStatus.OK, payload)

    def reply(self, status: HTTPStatus, payload: str) -> None:
        """One write per response (headers and body together: no Nagle/delayed-ACK stalls)."""
        if self.server.draining:
            self.close_connection = True
        body = payload.encode("utf-8")
        head = (
            f"HTTP/1.1 {status.value} {status.phrase}\r\n"
            f"Server: {self.server_version}\r\nDate: {_http_date()}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        )
        if self.close_connection:
            head += "Connection: close\r\n"
        self.wfile.write(head.encode("latin-1") + b"\r\n" + body)

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged one by one (it halves throughput); errors are, by ``log``."""


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


def run_scoring() -> None:
    """Load the entry script and ``init()``; only then take the listener and serve until SIGTERM."""
    entry_path = os.path.join(SOURCE_DIR, os.environ[ENTRY_SCRIPT_ENV])
    sys.path.insert(0, os.path.dirname(entry_path))
    try:
        entry = EntryScript(entry_path)
    except Exception as exc:
        log(f"cannot load entry script: {exc}" if isinstance(exc, RuntimeError) else traceback.format_exc())
        sys.exit(3)
    try:
        entry.init()
    except Exception:
        log(f"init() of {os.path.basename(entry_path)} raised:\n{traceback.format_exc().rstrip()}")
        sys.exit(4)
    health = {
        "status": "Healthy",
        "service": os.environ.get("MLW_SERVICE_NAME"),
        "revision": os.environ.get("MLW_SERVICE_REVISION"),
        "models": sorted(os.environ.get("MLW_SERVICE_MODELS", "").split(",")),
    }
    server = ScoringServer(inherit_listener(), entry, health)
    stopping = threading.Event()

    def on_term(*_: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=drain_and_exit, daemon=True).start()

    def drain_and_exit() -> None:
        server.drain()
        log("drained")
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print(f"{READY_MARKER} (revision {health['revision']})", flush=True)
    server.serve_forever(poll_interval=0.5)
    stopping.wait()
    while True:
        time.sleep(1)


def main(argv: list[str]) -> None:
    if argv[:1] == ["front"]:
        run_front(int(argv[1]) if len(argv) > 1 else SERVICE_PORT)
    elif argv[:1] == ["score"]:
        run_scoring()
    else:
        sys.exit("usage: python -m airflow_mlw.models.server front [PORT] | score")


if __name__ == "__main__":
    main(sys.argv[1:])
