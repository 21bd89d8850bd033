"""A pipeline published from a notebook is triggerable the moment ``publish()`` returns, and its
``.endpoint`` is on Airflow's ``[api] base_url`` — on a real deployment whose dag-processor refreshes
its bundle only every 300 s, so only the parse request can explain a parse within seconds."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.airflow_stack import AirflowStack
from tests.test_plugin_api import request

REPO = Path(__file__).resolve().parents[2]

NOTEBOOK = """
import json, sys, time
from pathlib import Path
from airflow_mlw.core import Workspace
from airflow_mlw.exceptions import MlwError
from airflow_mlw.pipeline.core import PipelineEndpoint
from airflow_mlw.pipeline.steps import PythonScriptStep
from tests.pipelines.test_publish import make_pipeline

tmp = Path(sys.argv[1])
ws = Workspace.from_config()
timings = {}
start = time.monotonic()
published = make_pipeline(ws, tmp).publish("ready")
timings["publish"] = time.monotonic() - start
start = time.monotonic()
endpoint = PipelineEndpoint.publish(ws, "ready-endpoint", None, make_pipeline(ws, tmp))
timings["endpoint_publish"] = time.monotonic() - start
start = time.monotonic()
version = endpoint.add_default(make_pipeline(ws, tmp))
timings["add_default"] = time.monotonic() - start

class NotebookStep(PythonScriptStep):  # defined in __main__: the dag-processor cannot unpickle it
    pass

broken = make_pipeline(ws, tmp)
broken.steps[0].__class__ = NotebookStep
try:
    broken.publish("broken")
    error = None
except MlwError as exc:
    error = f"{type(exc).__name__}: {exc}"
print(json.dumps({
    "published_id": published.id, "pipeline_endpoint": published.endpoint,
    "endpoint_id": endpoint.id, "endpoint_url": endpoint.endpoint, "version": version,
    "timings": timings, "error": error,
}))
"""


@pytest.fixture
def slow_refresh_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    dags = tmp_path / "dags"
    dags.mkdir()
    settings = {"AIRFLOW__MLW__HOME": str(tmp_path / "mlw"), "AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    stack = AirflowStack(dags, extra_env={**settings, "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "300"})
    # Clients reach the api-server as "localhost" on its random port: only [api] base_url says so.
    stack.env["AIRFLOW__API__BASE_URL"] = f"http://localhost:{stack.port}"
    try:
        yield stack.start()
    finally:
        stack.stop()


def _post(url: str, body: dict[str, Any]) -> tuple[int, Any, float]:
    start = time.monotonic()
    status, answer = request(url, body=body)
    return status, answer, time.monotonic() - start


def test_publish_returns_once_the_dag_can_run(
    slow_refresh_stack: AirflowStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = slow_refresh_stack
    base = f"http://localhost:{stack.port}"
    # A notebook on the Airflow machine (its metadata DB, no [mlw] api_url): parse request + wait there.
    env = {**stack.env, "PYTHONPATH": str(REPO)}
    env.pop("AIRFLOW__MLW__API_URL", None)
    notebook = subprocess.run(
        [sys.executable, "-c", NOTEBOOK, str(tmp_path)], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert notebook.returncode == 0, notebook.stderr[-3000:]
    got = json.loads(notebook.stdout.strip().splitlines()[-1])

    # .endpoint is on [api] base_url, not on a hard-coded http://localhost:8080.
    assert got["pipeline_endpoint"].startswith(f"{base}/mlw/api/v1.0/workspaces/default/PipelineRuns/")
    assert got["endpoint_url"].startswith(f"{base}/mlw/")
    body = {"ExperimentName": "ready-exp", "ParameterAssignments": {"text": "ok"}}
    status, by_id, first_post = _post(got["pipeline_endpoint"], body)
    assert status == 200 and by_id["Id"], by_id
    status, by_endpoint, _ = _post(got["endpoint_url"], {})
    assert status == 200 and by_endpoint["Id"] and by_endpoint["PipelineEndpointId"] == got["endpoint_id"]
    by_name_url = f"{base}/mlw/api/v1.0/workspaces/default/PipelineRuns/PipelineEndpointSubmit/Name"
    for version in ("0", got["version"]):
        status, by_name, _ = _post(f"{by_name_url}?name=ready-endpoint&pipelineVersion={version}", {})
        assert status == 200 and by_name["Id"], by_name
    # Each publish waited for a parse, well before the 300 s bundle refresh; none needed the route's wait.
    timings = got["timings"]
    assert all(seconds < 60 for seconds in timings.values()), timings
    assert first_post < 10, first_post
    # A pipeline Airflow cannot load (a step class defined in the notebook): publish says why, naming the file.
    assert got["error"].startswith("DagParseError: Airflow could not parse "), got["error"]
    assert "mlw_published/mlw_published_broken_" in got["error"] and "NotebookStep" in got["error"]
    assert not list((stack.dags_folder / "mlw_published").glob("mlw_published_broken_*.py"))

    # A client over REST ([mlw] api_url): the api-server asks for the parse and answers once runnable.
    from airflow_mlw.core import Workspace
    from tests.pipelines.test_publish import make_pipeline

    monkeypatch.setenv("AIRFLOW__MLW__API_URL", base)
    ws = Workspace.from_config()
    start = time.monotonic()
    over_rest = make_pipeline(ws, tmp_path).publish("ready-rest")
    rest_publish = time.monotonic() - start
    status, answer, _ = _post(over_rest.endpoint, body)
    assert status == 200 and answer["Id"], answer

    # Published where no dag-processor is in reach (this process's own metadata DB): nothing waited in
    # publish(); the trigger route requests the parse itself and still answers 200.
    monkeypatch.delenv("AIRFLOW__MLW__API_URL")
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", base)
    ws = Workspace.from_config()
    start = time.monotonic()
    unparsed = make_pipeline(ws, tmp_path).publish("ready-late")
    local_publish = time.monotonic() - start
    assert unparsed.endpoint.startswith(f"{base}/mlw/")
    status, late, late_post = _post(unparsed.endpoint, body)
    assert status == 200 and late["Id"], late
    print(
        f"\npublish->triggerable: publish {timings['publish']:.2f}s, PipelineEndpoint.publish "
        f"{timings['endpoint_publish']:.2f}s, add_default {timings['add_default']:.2f}s, over REST "
        f"{rest_publish:.2f}s; first POST {first_post:.2f}s; unparsed publish {local_publish:.2f}s + "
        f"trigger route parse {late_post:.2f}s"
    )
