"""A real Airflow 3 deployment on loopback for end-to-end runs: api-server, scheduler,
dag-processor and (when asked) triggerer (LocalExecutor) in a temp AIRFLOW_HOME, stopped and removed
afterwards.

Used by benchmarks that need parallel task slots (``dag.test()`` runs tasks one at a time).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.services import free_port, port_open, stop_process, wait_until


class AirflowStack:
    """Airflow's services over a DAG folder; ``trigger`` and ``wait`` a DAG run through the metadata DB."""

    def __init__(
        self,
        dags_folder: Path,
        parallelism: int = 2,
        extra_env: dict[str, str] | None = None,
        services: tuple[str, ...] = ("api-server", "scheduler", "dag-processor"),
        before_start: Any = None,
        workers: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.services = services
        self.before_start = before_start
        self.home = Path(tempfile.mkdtemp(prefix="mlw-airflow-stack-"))
        self.dags_folder = dags_folder
        self.port = free_port()
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API_AUTH__JWT_SECRET": "mlw-test-secret",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            **(extra_env or {}),
        }
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)  # services start faster from byte-compiled modules
        self.processes: list[subprocess.Popen[bytes]] = []
        #: Celery workers by name: ``{"queues": "cpu", "env": {...}, "cwd": Path}`` (CeleryExecutor).
        self.workers = workers or {}
        self.worker_processes: dict[str, subprocess.Popen[bytes]] = {}

    def airflow(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).with_name("airflow")), *args],
            env=self.env,
            capture_output=True,
            text=True,
        )

    def start(self) -> AirflowStack:
        migrate = self.airflow("db", "migrate")
        if migrate.returncode:
            raise RuntimeError(f"airflow db migrate failed: {migrate.stderr[-500:]}")
        if self.before_start is not None:
            self.before_start(self.home)
        airflow = str(Path(sys.executable).with_name("airflow"))
        commands = {
            "api-server": ["api-server", "--port", str(self.port)],
            "scheduler": ["scheduler"],
            "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer"],
        }
        for command in (commands[name] for name in self.services):
            log = open(self.home / f"{command[0]}.log", "wb")
            self.processes.append(
                subprocess.Popen(
                    [airflow, *command],
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        wait_until(lambda: port_open(self.port), 120, "airflow api-server", self.home / "api-server.log")
        for name in self.workers:
            self.start_worker(name)
        return self

    def start_worker(self, name: str) -> None:
        """``airflow celery worker`` on the worker's queues, in its own folder and environment."""
        spec = self.workers[name]
        cwd = Path(spec["cwd"])
        cwd.mkdir(parents=True, exist_ok=True)
        log = open(self.home / f"worker-{name}.log", "ab")
        command = [
            str(Path(sys.executable).with_name("airflow")),
            "celery",
            "worker",
            "--queues",
            spec["queues"],
        ]
        command += ["--celery-hostname", f"{name}@%h", "--concurrency", str(spec.get("concurrency", 2))]
        command += ["--skip-serve-logs", "--without-gossip", "--without-mingle"]
        self.worker_processes[name] = subprocess.Popen(
            command,
            env={**self.env, "TMPDIR": str(cwd), **spec.get("env", {})},
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker and every task process it started (as a lost machine would): Airflow's
        supervisor puts each task runner in a process group of its own, so its descendants are
        killed one by one, not only the worker's group."""
        import signal

        import psutil

        process = self.worker_processes.pop(name)
        descendants = psutil.Process(process.pid).children(recursive=True)
        os.killpg(process.pid, signal.SIGKILL)
        for child in descendants:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        process.wait()

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 180) -> None:
        def parsed() -> bool:
            listing = self.airflow("dags", "list", "-o", "plain")
            return all(dag_id in listing.stdout for dag_id in dag_ids)

        wait_until(parsed, timeout, f"DAGs {dag_ids} parsed", self.home / "dag-processor.log")

    def trigger(self, dag_id: str, conf: str = "{}") -> str:
        out = self.airflow("dags", "trigger", dag_id, "--conf", conf, "-o", "json")
        if out.returncode:
            raise RuntimeError(f"trigger {dag_id} failed: {out.stderr[-500:]}")
        import json

        line = next(line for line in out.stdout.splitlines() if line.startswith("["))
        return str(json.loads(line)[0]["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> dict[str, Any]:
        import json

        out = self.airflow("dags", "list-runs", dag_id, "-o", "json")
        line = next((line for line in out.stdout.splitlines() if line.startswith("[")), "[]")
        for row in json.loads(line):
            if row["run_id"] == run_id:
                return dict(row)
        return {}

    def wait(self, dag_id: str, run_id: str, timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = self.run_state(dag_id, run_id)
            if row.get("state") in ("success", "failed"):
                return row
            time.sleep(1)
        raise TimeoutError(f"{dag_id} {run_id} did not finish in {timeout:.0f}s\n{self.log_tails()}")

    def log_tails(self, lines: int = 25) -> str:
        """The end of every service's log, for failure messages (the home is removed at stop)."""
        parts = []
        for log in sorted(self.home.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    def stop(self) -> None:
        for process in [*self.worker_processes.values(), *self.processes]:
            stop_process(process)
        shutil.rmtree(self.home, ignore_errors=True)


@contextlib.contextmanager
def airflow_stack(dags_folder: Path, **kwargs: Any) -> Iterator[AirflowStack]:
    stack = AirflowStack(dags_folder, **kwargs)
    try:
        yield stack.start()
    finally:
        stack.stop()


def s3_registry_settings(registry: str, s3_server: Any) -> dict[str, str]:
    """``[mlw]`` settings of a scale-out test: the registry at ``registry``, the default datastore
    ``s3data`` through the connection ``mlw_s3`` to the moto server."""
    import json

    s3_conn = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": f"http://127.0.0.1:{s3_server.port}", "region_name": "us-east-1"},
    }
    return {
        "AIRFLOW__MLW__REGISTRY_URL": registry,
        "AIRFLOW__MLW__DEFAULT_DATASTORE": "s3data",
        "AIRFLOW_CONN_MLW_S3": json.dumps(s3_conn),
    }


def celery_env(
    settings: dict[str, str], meta_db: str, redis_server: Any, server_home: Path
) -> dict[str, str]:
    """The services' environment on CeleryExecutor: ``meta_db`` (PostgreSQL) for Airflow and Celery
    results, Redis as broker, a lost task noticed within 15 s."""
    return {
        **settings,
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta_db,
        "AIRFLOW__CELERY__BROKER_URL": redis_server.url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + meta_db.replace("+psycopg2", ""),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
        "AIRFLOW__MLW__HOME": str(server_home),
    }
