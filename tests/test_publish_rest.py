"""Published pipelines triggered over REST on a real Airflow deployment (api-server, scheduler,
dag-processor; SimpleAuthManager with a password, so every call needs a JWT from /auth/token)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Experiment, ScriptRunConfig, Workspace
from airflow_mlw.pipeline.core import PipelineEndpoint, PublishedPipeline
from airflow_mlw.runs.pipeline_run import PipelineRun
from tests.airflow_stack import airflow_stack
from tests.pipelines.test_dataset_params import counting_pipeline, dataset_params_data
from tests.pipelines.test_publish import make_pipeline
from tests.test_plugin_api import request


def _passwords(home: Path) -> None:
    (home / "simple_auth_manager_passwords.json.generated").write_text(json.dumps({"admin": "s3cret-pw"}))


def wait_run(base: str, token: str, run_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = request(f"{base}/mlw/api/runs/{run_id}", token=token)
        assert status == 200, (status, body)
        if body["Status"] in ("Finished", "Failed", "Canceled"):
            return dict(body)
        time.sleep(1)
    raise TimeoutError(f"run {run_id} did not end")


def test_publish_and_trigger_over_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    settings = {"AIRFLOW__MLW__HOME": str(tmp_path / "mlw"), "AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    ws = Workspace.from_config()
    from airflow_mlw.core.compute import AmlCompute, ComputeTarget

    # A cluster step: its pool must exist in Airflow when the pipeline is triggered (nobody ran
    # `mlw compute sync`), or the scheduler never starts it.
    cluster = ComputeTarget.create(ws, "rest-cluster", AmlCompute.provisioning_configuration(max_nodes=2))
    published = make_pipeline(ws, tmp_path, compute_target=cluster).publish(
        "writer", description="doubles text"
    )
    endpoint = PipelineEndpoint.publish(ws, "writer-endpoint", None, published)
    env = {
        **settings,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        # Airflow's default: new DAGs are paused. A published pipeline must run when triggered anyway.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
    }
    services = ("api-server", "scheduler", "dag-processor", "triggerer")
    with airflow_stack(dags, extra_env=env, before_start=_passwords, services=services) as stack:
        base = f"http://127.0.0.1:{stack.port}"
        monkeypatch.setenv("AIRFLOW__MLW__API_URL", base)
        ws = Workspace.from_config()  # settings are read once per workspace object
        published = PublishedPipeline.get(ws, published.id)
        stack.wait_for_dags([published.dag_id])
        status, body = request(f"{base}/auth/token", body={"username": "admin", "password": "s3cret-pw"})
        assert status == 201
        token = body["access_token"]
        run_body = {"ExperimentName": "rest-exp", "ParameterAssignments": {"text": "hi", "not_declared": 1}}

        # Refused before anything runs: no token, unknown name, a parameter of the wrong type.
        assert request(f"{base}/mlw/api/pipelines/writer/runs", body=run_body)[0] == 401
        assert request(f"{base}/mlw/api/pipelines/nope/runs", token=token, body=run_body)[0] == 404
        assert request(f"{base}/mlw/api/endpoints/nope/runs", token=token, body=run_body)[0] == 404
        bad = {"ParameterAssignments": {"text": 3}}
        status, refused = request(f"{base}/mlw/api/pipelines/writer/runs", token=token, body=bad)
        assert status == 400 and "'text' must be of type string" in refused["detail"], refused

        # The plugin's own route, then Azure's route shapes (from .endpoint) for pipeline and endpoint.
        status, answer = request(f"{base}/mlw/api/pipelines/writer/runs", token=token, body=run_body)
        assert status == 200, answer
        azure_body = {"ExperimentName": "rest-exp", "ParameterAssignments": {"text": "az"}}
        assert published.endpoint.startswith(base)
        status, by_id = request(published.endpoint, token=token, body=azure_body)
        assert status == 200, by_id
        status, by_endpoint = request(
            PipelineEndpoint.get(ws, name="writer-endpoint").endpoint, token=token, body={}
        )
        assert status == 200, by_endpoint
        by_name_url = f"{base}/mlw/api/v1.0/workspaces/{ws.name}/PipelineRuns/PipelineEndpointSubmit/Name"
        status, by_name = request(
            f"{by_name_url}?name=writer-endpoint&pipelineVersion=0", token=token, body={}
        )
        assert status == 200 and by_name["PipelineEndpointId"] == endpoint.id

        done = wait_run(base, token, answer["Id"])
        assert done["Status"] == "Finished", done
        [step] = done["Steps"]
        out = step["Outputs"]["out"]
        assert out["DataStoreName"] == "workspacelocalstore"
        data_root = ws.get_default_datastore()
        files = Path(tmp_path / "got")
        data_root.download(str(files), prefix=out["RelativePath"], show_progress=False)
        assert (files / out["RelativePath"] / "value.txt").read_text() == "hihi"
        for other in (by_id, by_endpoint, by_name):
            got = wait_run(base, token, other["Id"])
            assert got["Status"] == "Finished", got
            assert got["Steps"][0]["Outputs"]["out"]["Fingerprint"]
        assert by_name["Id"] != by_endpoint["Id"]

        # The DAG's own callback writes the final status into the registry.
        row_status = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and row_status != "Finished":
            with ws.store.session() as session:
                from airflow_mlw.registry.rows import RunRow

                row_status = session.get(RunRow, answer["Id"]).status
            time.sleep(1)
        assert row_status == "Finished"

        # Python clients over REST (JWT from the environment): a published pipeline, then a pipeline
        # built here and submitted (written as a DAG file, parsed by the deployment, triggered).
        monkeypatch.setenv("MLW_API_TOKEN", token)
        run = published.submit(ws, "client-exp", pipeline_parameters={"text": "cl"})
        run.wait_for_completion(show_output=False)
        assert run.get_status() == "Finished"
        submitted = Experiment(ws, "adhoc").submit(
            make_pipeline(ws, tmp_path), pipeline_parameters={"text": "q"}
        )
        submitted.wait_for_completion(show_output=False)
        assert PipelineRun(ws, submitted.id).get_steps()[0].get_metrics() == {"chars": 2}
        # A single script over REST: a one-task DAG in the deployment.
        config = ScriptRunConfig(str(tmp_path / "scripts"), "write.py", arguments=["zz", "out-dir"])
        script_run = Experiment(ws, "script-over-rest").submit(config)
        script_run.wait_for_completion(show_output=False)
        assert script_run.get_status() == "Finished"
        assert script_run.get_metrics() == {"chars": 4}

        # A dataset parameter chosen over REST by Azure's saved-dataset id; an unknown id is a 404.
        data = dataset_params_data(ws, tmp_path / "ds")
        counter = counting_pipeline(ws, data, data["v1"]).publish("counter")
        url = f"{base}/mlw/api/pipelines/counter/runs"
        unknown = {
            "DataSetDefinitionValueAssignments": {"ds_param": {"SavedDataSetReference": {"Id": "gone-id"}}}
        }
        status, refused = request(url, token=token, body=unknown)
        assert status == 404 and "'gone-id'" in refused["detail"], refused
        chosen = {
            "DataSetDefinitionValueAssignments": {
                "ds_param": {"SavedDataSetReference": {"Id": data["v2"].id}}
            }
        }
        status, answer = request(url, token=token, body=chosen)
        assert status == 200, answer
        assert wait_run(base, token, answer["Id"])["Status"] == "Finished"
        assert PipelineRun(ws, answer["Id"]).get_steps()[0].get_metrics() == {"rows": 5, "total": 36}
        assert counter.id

        # The CLI uses the same API.
        cli_env = {**__import__("os").environ}
        listing = subprocess.run(
            [sys.executable, "-m", "airflow_mlw.cli", "--json", "pipeline", "list"],
            env=cli_env,
            capture_output=True,
            text=True,
        )
        assert listing.returncode == 0, listing.stderr
        assert "writer" in {p["Name"] for p in json.loads(listing.stdout)}
        trigger = subprocess.run(
            [sys.executable, "-m", "airflow_mlw.cli", "--json", "pipeline", "trigger", "writer"]
            + ["--param", "text=cli", "--wait"],
            env=cli_env,
            capture_output=True,
            text=True,
        )
        assert trigger.returncode == 0, trigger.stderr
        assert json.loads(trigger.stdout)["Status"] == "Finished"

        # An ordinary DAG run: Airflow's own REST API triggers the same DAG.
        status, dag_run = request(
            f"{base}/api/v2/dags/{published.dag_id}/dagRuns",
            token=token,
            body={"logical_date": None, "conf": {"text": "v2"}},
        )
        assert status == 200, dag_run
