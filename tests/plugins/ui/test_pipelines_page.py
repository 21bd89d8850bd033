"""The pipelines page on a real Airflow deployment (api-server, scheduler, dag-processor; the
SimpleAuthManager with an admin and a viewer): each published pipeline and endpoint with its
parameters and last runs, and the Submit dialog, which posts to the REST submit routes from
Chromium with the user's Airflow session. The admin's submit triggers a DAG run that runs (its step
graph read from Airflow's metadata DB); the viewer, without Airflow's DAG-run permission, is offered
no Submit and the route refuses the post. Screenshots under test-artifacts/ui/."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Workspace
from airflow_mlw.pipeline.core import PipelineEndpoint
from airflow_mlw.pipelines import Pipeline, PipelineData, PipelineParameter, PythonScriptStep
from tests.airflow_stack import airflow_stack
from tests.plugins.ui.conftest import ARTIFACTS
from tests.test_plugin_api import request

PASSWORD = "s3cret-pw"

GREET = """
import os, sys
text, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "value.txt"), "w").write(text * count)
"""
SHOUT = """
import os, sys
inp, loud, out = sys.argv[1], sys.argv[2] == "True", sys.argv[3]
text = open(os.path.join(inp, "value.txt")).read()
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "value.txt"), "w").write(text.upper() if loud else text)
"""


def greeting(ws: Any, scripts: Path) -> Pipeline:
    """greet(text, count) -> shout(loud): three parameters of three types."""
    scripts.mkdir(exist_ok=True)
    (scripts / "greet.py").write_text(GREET)
    (scripts / "shout.py").write_text(SHOUT)
    greeted, shouted = PipelineData("greeted"), PipelineData("shouted")
    text = PipelineParameter("text", default_value="hi")
    count = PipelineParameter("count", default_value=2)
    loud = PipelineParameter("loud", default_value=False)
    greet = PythonScriptStep(
        "greet.py",
        name="greet",
        source_directory=str(scripts),
        arguments=[text, count, greeted],
        outputs=[greeted],
    )
    shout = PythonScriptStep(
        "shout.py",
        name="shout",
        source_directory=str(scripts),
        arguments=[greeted, loud, shouted],
        inputs=[greeted],
        outputs=[shouted],
    )
    return Pipeline(ws, [greet, shout])


def log_in(browser: Any, base: str, user: str) -> Any:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{base}/")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="ML Workspace").wait_for()
    return page


def dag_runs(base: str, token: str, dag_id: str) -> list[dict[str, Any]]:
    status, body = request(f"{base}/api/v2/dags/{dag_id}/dagRuns", token=token)
    assert status == 200, body
    return sorted(body["dag_runs"], key=lambda run: run["run_after"])


def wait_finished(base: str, token: str, run_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = request(f"{base}/mlw/api/runs/{run_id}", token=token)
        assert status == 200, body
        if body["Status"] in ("Finished", "Failed", "Canceled"):
            return dict(body)
        time.sleep(1)
    raise TimeoutError(f"run {run_id} did not end")


def test_submit_from_the_pipelines_page_triggers_a_run_and_needs_the_dag_run_permission(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, browser: Any
) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    settings = {
        "AIRFLOW__MLW__HOME": str(tmp_path / "mlw"),
        "AIRFLOW__MLW__REGISTRY_URL": f"sqlite:///{tmp_path / 'mlw' / 'registry.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    ws = Workspace.from_config()
    published = greeting(ws, tmp_path / "scripts").publish("greeting", description="greets", version="1.0")
    endpoint = PipelineEndpoint.publish(ws, "greeting-endpoint", "stable name", published)
    env = {
        **settings,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
    }

    def passwords(home: Path) -> None:
        generated = home / "simple_auth_manager_passwords.json.generated"
        generated.write_text(json.dumps({"admin": PASSWORD, "viewer": PASSWORD}))

    with airflow_stack(dags, parallelism=1, extra_env=env, before_start=passwords) as stack:
        base = f"http://127.0.0.1:{stack.port}"
        stack.wait_for_dags([published.dag_id])
        status, body = request(f"{base}/auth/token", body={"username": "admin", "password": PASSWORD})
        assert status == 201, body
        token = body["access_token"]

        page = log_in(browser, base, "admin")
        page.goto(f"{base}/mlw/ui/pipelines")
        row = page.locator("tbody tr", has_text="greeting").first
        assert "no runs yet" in row.inner_text()
        parameters = row.locator("td").nth(5).inner_text()
        for shown in ("count: integer = 2", "loud: boolean = false", 'text: string = "hi"'):
            assert shown in parameters, parameters

        # The dialog offers each parameter with its type and default, as Azure Studio's does.
        row.get_by_role("button", name="Submit…").click()
        dialog = page.locator(f"#submit-p-{published.id}")
        assert dialog.is_visible()
        assert dialog.locator("input[name=ExperimentName]").input_value() == "greeting"
        assert dialog.locator("input[name=text]").input_value() == "hi"
        assert dialog.locator("input[name=count]").get_attribute("type") == "number"
        assert dialog.locator("input[name=count]").input_value() == "2"
        assert not dialog.locator("input[name=loud]").is_checked()
        assert not dialog.locator("input[name=regenerate_outputs]").is_checked()
        dialog.locator("input[name=ExperimentName]").fill("from-the-page")
        dialog.locator("input[name=text]").fill("yo")
        dialog.locator("input[name=count]").fill("3")
        dialog.locator("input[name=loud]").check()
        page.screenshot(path=str(ARTIFACTS / "pipelines-submit.png"))
        submit_url = dialog.locator("form").get_attribute("data-url")
        dialog.get_by_role("button", name="Submit", exact=True).click()
        result = dialog.locator(".submit-result.submitted")
        result.wait_for(timeout=60_000)
        run_id = result.get_attribute("data-run-id")
        assert run_id and run_id in result.inner_text()

        # A real DAG run of the published pipeline's DAG, with the dialog's values as its conf.
        [dag_run] = dag_runs(base, token, published.dag_id)
        assert {k: dag_run["conf"][k] for k in ("text", "count", "loud")} == {
            "text": "yo",
            "count": 3,
            "loud": True,
        }
        assert dag_run["triggering_user_name"] == "admin"
        done = wait_finished(base, token, run_id)
        assert done["Status"] == "Finished" and done["ExperimentName"] == "from-the-page", done
        assert done["DagRunId"] == dag_run["dag_run_id"]
        shout = next(step for step in done["Steps"] if step["Name"] == "shout")
        got = tmp_path / "got"
        ws.get_default_datastore().download(str(got), prefix=shout["Outputs"]["shouted"]["RelativePath"])
        assert (got / shout["Outputs"]["shouted"]["RelativePath"] / "value.txt").read_text() == "YOYOYO"

        # The endpoint's dialog, inside Airflow's UI (the page in its sandboxed iframe): its default
        # version with the defaults.
        page.goto(f"{base}/")
        page.get_by_role("link", name="ML Workspace").click()
        frame = page.frame_locator("iframe")
        frame.get_by_role("link", name="Pipelines").click()
        frame.locator("tbody tr", has_text="greeting-endpoint").get_by_role("button", name="Submit…").click()
        endpoint_dialog = frame.locator(f"#submit-e-{endpoint.id}")
        assert endpoint_dialog.locator("select[name=pipelineVersion]").input_value() == "0"
        endpoint_dialog.get_by_role("button", name="Submit", exact=True).click()
        endpoint_result = endpoint_dialog.locator(".submit-result.submitted")
        endpoint_result.wait_for(timeout=60_000)
        endpoint_run = endpoint_result.get_attribute("data-run-id")
        assert wait_finished(base, token, endpoint_run or "")["Status"] == "Finished"

        # Both runs are the last runs of the pipeline and of the endpoint, newest first, with status.
        page.goto(f"{base}/mlw/ui/pipelines")
        row_text = page.locator("tbody tr", has_text="greeting").first.inner_text()
        endpoint_text = page.locator("tbody tr", has_text="greeting-endpoint").inner_text()
        for text in (row_text, endpoint_text):
            assert text.index(endpoint_run[:12]) < text.index(run_id[:12]), text
            assert text.count("Finished") == 2, text
        page.screenshot(path=str(ARTIFACTS / "pipelines.png"), full_page=True)

        # The run's page: its step graph from the DAG run Airflow ran, linked to Airflow's task pages.
        page.locator("tbody tr", has_text="greeting").first.get_by_role("link", name=run_id[:12]).click()
        page.locator("#step-graph-data").wait_for(state="attached")
        graph = json.loads(page.locator("#step-graph-data").text_content() or "{}")
        assert graph["source"] == "airflow"
        assert [(n["id"], n["reuse"]) for n in graph["nodes"]] == [("greet", "ran"), ("shout", "ran")]
        assert [(e["source"], e["target"], e["data"]) for e in graph["edges"]] == [
            ("greet", "shout", ["greeted"])
        ]
        href = page.locator('.step-node[data-step="shout"] a[data-airflow]').get_attribute("href")
        assert href == f"/dags/{published.dag_id}/runs/{dag_run['dag_run_id']}/tasks/shout"
        page.screenshot(path=str(ARTIFACTS / "pipeline-run.png"), full_page=True)

        # A viewer may read the page but not create DAG runs: no Submit, and the route refuses it.
        viewer = log_in(browser, base, "viewer")  # a page of its own context: its own session
        viewer.goto(f"{base}/mlw/ui/pipelines")
        button = viewer.locator("tbody tr", has_text="greeting").first.get_by_role("button", name="Submit…")
        assert button.is_disabled() and "may not create runs" in (button.get_attribute("title") or "")
        assert viewer.locator("dialog.submit-dialog").count() == 0
        refused = viewer.evaluate(
            """async (url) => {
                const response = await fetch(url, {method: "POST", credentials: "same-origin",
                    headers: {"Content-Type": "application/json"}, body: JSON.stringify({})});
                return {status: response.status, body: await response.json()};
            }""",
            submit_url,
        )
        assert refused == {
            "status": 403,
            "body": {"detail": f"not allowed to trigger DAG {published.dag_id!r}"},
        }
        assert len(dag_runs(base, token, published.dag_id)) == 2, "the refused post triggered nothing"
        assert dag_runs(base, token, published.dag_id)[1]["conf"]["text"] == "hi"  # the endpoint's defaults
