"""A step killed from Airflow stops its script: marking a running task failed through Airflow's
REST API (as the UI's "mark failed" does) leaves no script process and no container behind.

Real parts: api-server, scheduler and dag-processor (LocalExecutor), Airflow's task supervisor
(which SIGTERMs the task process, whose handler calls ``on_kill``), the Docker engine.
"""

from __future__ import annotations

import json
import os
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.airflow_stack import AirflowStack, airflow_stack

SCRIPT = """
import os, subprocess, sys, time
from pathlib import Path

child = subprocess.Popen(["sleep", "600"])
marks = Path(sys.argv[1]) if len(sys.argv) > 1 else None
if marks is not None:
    marks.mkdir(parents=True, exist_ok=True)
    (marks / "pids.tmp").write_text(f"{os.getpid()} {child.pid}")
    (marks / "pids.tmp").rename(marks / "pids")
print("sleeping", flush=True)
time.sleep(600)
"""

DAG_FILE = """
from airflow_mlw.core import Environment, Workspace
from airflow_mlw.core.runconfig import RunConfiguration
from airflow_mlw.pipeline.core import Pipeline
from airflow_mlw.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
local = PythonScriptStep("sleep.py", arguments=[{marks!r}], source_directory={source!r}, allow_reuse=False)
Pipeline(ws, [local]).to_dag("kill_local")

config = RunConfiguration()
config.environment = Environment("sleeper")
config.environment.docker.enabled = True
in_docker = PythonScriptStep(
    "sleep.py", source_directory={source!r}, compute_target="docker", runconfig=config, allow_reuse=False
)
Pipeline(ws, [in_docker]).to_dag("kill_docker")
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone in all but name: its parent has not reaped it yet.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def _wait(condition: Any, timeout: float, what: str, stack: AirflowStack) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout:.0f} s\n{stack.log_tails(40)}")


def _mark_failed(stack: AirflowStack, dag_id: str, run_id: str, task_id: str) -> None:
    """PATCH the task instance to ``failed`` through Airflow's public REST API."""
    base = f"http://127.0.0.1:{stack.port}"
    with urllib.request.urlopen(f"{base}/auth/token", timeout=30) as response:
        token = json.loads(response.read())["access_token"]
    request = urllib.request.Request(
        f"{base}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}",
        data=json.dumps({"new_state": "failed"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="PATCH",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


@pytest.fixture(scope="module")
def kill_stack(tmp_path_factory: pytest.TempPathFactory, docker_engine: Any, base_image: str) -> Any:
    """One deployment for the module's tests (each triggers its own DAG run)."""
    tmp_path = tmp_path_factory.mktemp("kill")
    settings = {"AIRFLOW__MLW__HOME": str(tmp_path / "mlw")}
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key, value in settings.items():
            monkeypatch.setenv(key, value)
        yield from _deployment(tmp_path, settings)


def _deployment(tmp_path: Path, settings: dict[str, str]) -> Any:
    from airflow_mlw.core import Workspace
    from airflow_mlw.core.compute import ComputeTarget, DockerCompute

    ws = Workspace.from_config()
    ComputeTarget.create(ws, "docker", DockerCompute.provisioning_configuration())
    source, dags = tmp_path / "src", tmp_path / "dags"
    source.mkdir()
    dags.mkdir()
    (source / "sleep.py").write_text(SCRIPT)
    marks = tmp_path / "marks"
    (dags / "kill_dags.py").write_text(textwrap.dedent(DAG_FILE.format(marks=str(marks), source=str(source))))
    with airflow_stack(dags, extra_env=settings) as stack:
        stack.wait_for_dags(["kill_local", "kill_docker"])
        yield stack, marks


def test_marking_a_running_local_step_failed_stops_its_script_and_children(kill_stack: Any) -> None:
    stack, marks = kill_stack
    (marks / "pids").unlink(missing_ok=True)
    run_id = stack.trigger("kill_local")
    _wait(lambda: (marks / "pids").exists(), 180, "the script did not start", stack)
    script_pid, child_pid = map(int, (marks / "pids").read_text().split())
    assert _alive(script_pid) and _alive(child_pid)

    _mark_failed(stack, "kill_local", run_id, "sleep.py")
    _wait(
        lambda: not _alive(script_pid) and not _alive(child_pid),
        30,
        f"script {script_pid} or its child {child_pid} still running",
        stack,
    )
    assert stack.wait("kill_local", run_id, timeout=60)["state"] == "failed"


def test_marking_a_running_docker_step_failed_removes_its_container(kill_stack: Any) -> None:
    import docker

    stack, _ = kill_stack
    client = docker.from_env()

    def sleepers() -> list[Any]:
        return [
            c
            for c in client.containers.list(all=True)
            if any(tag.startswith("mlw-env/sleeper") for tag in c.image.tags)
        ]

    assert sleepers() == []
    run_id = stack.trigger("kill_docker")
    _wait(lambda: any(c.status == "running" for c in sleepers()), 300, "the container did not start", stack)
    # The script is running inside it (the image was built by the step first).
    _wait(
        lambda: any("sleeping" in c.logs().decode() for c in sleepers()),
        60,
        "the script did not start",
        stack,
    )

    _mark_failed(stack, "kill_docker", run_id, "sleep.py")
    _wait(lambda: sleepers() == [], 30, "the step's container is still there", stack)
    assert stack.wait("kill_docker", run_id, timeout=60)["state"] == "failed"


def test_run_cancel_stops_the_script_and_marks_the_run_canceled(
    kill_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``run.cancel()`` from a client (``[mlw] api_url``): the DAG run is marked failed over REST,
    Airflow kills the task, ``on_kill`` stops the script; the run says Canceled."""
    from airflow_mlw.core import Workspace
    from airflow_mlw.execution.records import pipeline_run_id
    from airflow_mlw.runs.pipeline_run import PipelineRun

    stack, marks = kill_stack
    base = f"http://127.0.0.1:{stack.port}"
    with urllib.request.urlopen(f"{base}/auth/token", timeout=30) as response:
        monkeypatch.setenv("MLW_API_TOKEN", json.loads(response.read())["access_token"])
    monkeypatch.setenv("AIRFLOW__MLW__API_URL", base)
    (marks / "pids").unlink(missing_ok=True)
    dag_run_id = stack.trigger("kill_local")
    _wait(lambda: (marks / "pids").exists(), 180, "the script did not start", stack)
    script_pid, child_pid = map(int, (marks / "pids").read_text().split())
    ws = Workspace.from_config()
    run = PipelineRun(ws, pipeline_run_id(ws, "kill_local", dag_run_id))
    assert run.get_status() == "Running"

    run.cancel()
    _wait(lambda: not _alive(script_pid) and not _alive(child_pid), 30, "the script is still running", stack)
    assert stack.wait("kill_local", dag_run_id, timeout=60)["state"] == "failed"
    time.sleep(3)  # the DAG's failure callback has run: it leaves a canceled run canceled
    assert run.get_status() == "Canceled"
