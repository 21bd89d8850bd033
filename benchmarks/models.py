"""Issue 10 figures: scoring services on the Docker engine.

- scoring throughput of a trivial model over loopback, 8 concurrent keep-alive clients: an
  ``airflow_mlw`` service vs a minimal FastAPI + uvicorn app serving the same entry script and
  model in the same image (target >= 0.7x); p99 latency of each;
- time from ``Model.deploy`` to a healthy service when the image exists (target < 3 s), and of an
  ``update`` to a new model version.
Starts the machine's Docker engine when it is not running and builds the base image when missing
(``scripts/build-base-image.sh``), as the tests do; the FastAPI image is built once (pip from PyPI).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _report import report, with_docker_engine  # noqa: E402

CLIENTS = 8
#: Names of this run's containers (several benchmark runs may share the engine).
SERVICE = f"bench-trivial-{os.getpid()}"
FASTAPI_CONTAINER = f"mlw-bench-fastapi-{os.getpid()}"
SECONDS = 5.0
ROUNDS = 3
BODY = json.dumps({"data": [[1.0, 2.0, 3.0]]}).encode()

SCORE = """
import json
from airflow_mlw.core.model import Model

def init():
    global weights
    weights = json.load(open(Model.get_model_path("trivial")))

def run(raw_data):
    return [sum(w * x for w, x in zip(weights, row)) for row in json.loads(raw_data)["data"]]
"""

FASTAPI_APP = """
import json

from fastapi import FastAPI, Request
from fastapi.responses import Response

import score

score.init()
app = FastAPI()


@app.post("/score")
async def do_score(request: Request) -> Response:
    body = await request.body()
    return Response(json.dumps(score.run(body.decode())), media_type="application/json")
"""


def measure() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="mlw-bench-models-"))
    os.environ["AIRFLOW_HOME"] = str(scratch / "airflow")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow_mlw.core import Environment, Model, Workspace
    from airflow_mlw.core.conda_dependencies import CondaDependencies
    from airflow_mlw.core.model import InferenceConfig

    ws = Workspace.create("bench", registry_url=f"sqlite:///{scratch / 'registry.db'}")
    source = scratch / "src"
    source.mkdir()
    (source / "score.py").write_text(SCORE)
    (source / "fastapi_app.py").write_text(FASTAPI_APP)
    (scratch / "weights.json").write_text("[0.5, -1.0, 2.0]")
    model = Model.register(ws, scratch / "weights.json", "trivial")
    environment = Environment("bench-fastapi")
    environment.python.conda_dependencies = CondaDependencies.create(pip_packages=["fastapi", "uvicorn"])
    environment.docker.enabled = True
    image = environment.build(ws)
    config = InferenceConfig("score.py", source_directory=source, environment=environment)

    deploy_seconds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        service = Model.deploy(ws, SERVICE, [model], config)
        service.wait_for_deployment()
        deploy_seconds.append(time.perf_counter() - started)
        if len(deploy_seconds) < ROUNDS:
            service.delete()
    deploy = statistics.median(deploy_seconds)
    report(
        "Model.deploy to a healthy service, image present (median of 3)",
        f"{deploy:.2f} s",
        "-",
        None,
        "< 3 s",
        f"Model.deploy to healthy, image present: median {deploy:.2f} s of {[round(s, 2) for s in deploy_seconds]} [< 3 s]",
    )
    (scratch / "weights.json").write_text("[1.0, 1.0, 1.0]")
    newer = Model.register(ws, scratch / "weights.json", "trivial")
    started = time.perf_counter()
    service.update(models=[newer])
    updated = time.perf_counter() - started
    report("service.update to a new model version (old one drained)", f"{updated:.2f} s", "-", None, "-")

    fastapi_port = start_fastapi(ws, image, source, model)
    try:
        ours_port = int(service.scoring_uri.split(":")[2].split("/")[0])
        ours, theirs = [], []
        load(ours_port, 1.0)
        load(fastapi_port, 1.0)
        for _ in range(2):  # interleaved, so both see the same machine load
            ours.append(load(ours_port, SECONDS))
            theirs.append(load(fastapi_port, SECONDS))
        best_ours, best_theirs = max(ours), max(theirs)
        ratio = best_ours[0] / best_theirs[0]
        report(
            f"scoring throughput, trivial model, {CLIENTS} keep-alive clients: service vs FastAPI+uvicorn",
            f"{best_ours[0]:.0f} req/s (p99 {best_ours[1]:.1f} ms)",
            f"{best_theirs[0]:.0f} req/s (p99 {best_theirs[1]:.1f} ms)",
            ratio,
            ">= 0.7",
        )
    finally:
        service.delete()
        stop_fastapi()


def start_fastapi(ws: object, image: str, source: Path, model: object) -> int:
    """The baseline: uvicorn serving the same entry script and model file in the same image."""
    import docker
    from docker.types import Mount

    from airflow_mlw.runtime import RUNTIME_MOUNT, runtime_path

    stop_fastapi()
    folder = model.local_folder()  # type: ignore[attr-defined]
    container = docker.from_env().containers.run(
        image,
        ["uvicorn", "fastapi_app:app", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"],
        name=FASTAPI_CONTAINER,
        detach=True,
        working_dir="/app",
        environment={"PYTHONPATH": f"{RUNTIME_MOUNT}:/app", "MLW_MODEL_DIR": "/models"},
        mounts=[
            Mount("/app", str(source), type="bind", read_only=True),
            Mount("/models/trivial/1", str(folder), type="bind", read_only=True),
            Mount(
                f"{RUNTIME_MOUNT}/airflow_mlw",
                str(runtime_path() / "airflow_mlw"),
                type="bind",
                read_only=True,
            ),
        ],
        ports={"8000/tcp": ("127.0.0.1",)},
    )
    container.reload()
    port = int(container.attrs["NetworkSettings"]["Ports"]["8000/tcp"][0]["HostPort"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.sendall(post_request())
                if probe.recv(64).startswith(b"HTTP/1.1 200"):
                    return port
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"uvicorn did not answer: {container.logs()[-500:]!r}")


def stop_fastapi() -> None:
    import docker

    try:
        docker.from_env().containers.get(FASTAPI_CONTAINER).remove(force=True)
    except docker.errors.NotFound:
        pass


def post_request() -> bytes:
    head = f"POST /score HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
    return head.encode() + BODY


def load(port: int, seconds: float) -> tuple[float, float]:
    """(requests per second, p99 latency in ms) of ``CLIENTS`` keep-alive clients for ``seconds``."""
    stop = threading.Event()
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    errors: list[str] = []

    def client(index: int) -> None:
        request = post_request()
        with socket.create_connection(("127.0.0.1", port)) as connection:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reader = connection.makefile("rb")
            while not stop.is_set():
                started = time.perf_counter()
                connection.sendall(request)
                status = reader.readline()
                length = 0
                while (line := reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                reader.read(length)
                if not status.startswith(b"HTTP/1.1 200"):
                    errors.append(status.decode(errors="replace"))
                    return
                latencies[index].append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"port {port} answered {errors[0]}")
    merged = sorted(x for per_client in latencies for x in per_client)
    return len(merged) / seconds, merged[int(len(merged) * 0.99)] * 1000


if __name__ == "__main__":
    with_docker_engine(measure)
