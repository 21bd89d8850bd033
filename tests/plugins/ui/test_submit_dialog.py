"""The pipelines page's Submit dialog in Chromium, as a form: an endpoint's versions each with their
own parameters, the body it builds (typed values, the chosen version) and how it shows the route's
answer. The route itself is answered by the browser here (``page.route``), so that nothing runs;
tests/plugins/ui/test_pipelines_page.py posts to the real route on a deployment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Experiment
from airflow_mlw.pipeline.core import PipelineEndpoint
from airflow_mlw.pipelines import Pipeline, PipelineData, PipelineParameter, PythonScriptStep


def one_step(ws: Any, scripts: Path, **defaults: Any) -> Pipeline:
    out = PipelineData("out")
    parameters = [PipelineParameter(name, default_value=value) for name, value in defaults.items()]
    step = PythonScriptStep(
        "noop.py", name="noop", source_directory=str(scripts), arguments=[*parameters, out], outputs=[out]
    )
    return Pipeline(ws, [step])


@pytest.fixture
def endpoint(workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An endpoint of two versions whose pipelines take different parameters."""
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(tmp_path / "dags"))
    (tmp_path / "dags").mkdir()
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "noop.py").write_text("import sys\n")
    first = one_step(workspace, scripts, text="hi", count=2).publish("first")
    second = one_step(workspace, scripts, rate=0.5, loud=False).publish("second")
    made = PipelineEndpoint.publish(workspace, "two-versions", None, first)
    made.add(second)
    with Experiment(workspace, "existing-experiment").start_logging() as run:
        run.log("x", 1)
    # No auth manager runs here: every DAG may be run (the deployment test checks the refusal).
    monkeypatch.setattr("airflow_mlw.plugins.pipelines_api.may_trigger", lambda dag_id, user: True)
    return made


def test_the_endpoint_dialog_posts_the_chosen_versions_typed_parameters(
    endpoint: Any, ui_server: str, browser: Any
) -> None:
    page = browser.new_page()
    posted: list[dict[str, Any]] = []

    def answer(route: Any) -> None:
        posted.append({"url": route.request.url, "body": json.loads(route.request.post_data or "{}")})
        if len(posted) == 1:
            route.fulfill(status=200, json={"Id": "run-1", "ExperimentName": "exp", "DagId": "d"})
        else:
            route.fulfill(status=400, json={"detail": "pipeline parameter 'rate' must be of type number"})

    page.route("**/PipelineEndpointSubmit/**", answer)
    page.goto(f"{ui_server}/ui/pipelines")
    page.locator("tbody tr", has_text="two-versions").get_by_role("button", name="Submit…").click()
    dialog = page.locator(f"#submit-e-{endpoint.id}")
    assert dialog.locator("select[name=pipelineVersion]").input_value() == "0"
    experiment = dialog.locator("input[name=ExperimentName]")
    offered = page.locator(f"datalist#{experiment.get_attribute('list')} option")
    assert [option.get_attribute("value") for option in offered.all()] == ["existing-experiment"]
    assert (
        dialog.locator("input[name=text]").is_visible()
        and not dialog.locator("input[name=rate]").is_visible()
    )

    dialog.locator("select[name=pipelineVersion]").select_option("1")
    assert (
        dialog.locator("input[name=rate]").is_visible()
        and not dialog.locator("input[name=text]").is_visible()
    )
    assert dialog.locator("input[name=rate]").get_attribute("step") == "any"
    dialog.locator("input[name=rate]").fill("0.25")
    dialog.locator("input[name=loud]").check()
    dialog.get_by_role("button", name="Submit", exact=True).click()
    result = dialog.locator(".submit-result.submitted")
    result.wait_for()
    assert result.locator("a").get_attribute("href") == "/ui/runs/run-1"

    [sent] = posted
    assert sent["url"].endswith(
        f"/api/v1.0/workspaces/test/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint.id}?pipelineVersion=1"
    )
    assert sent["body"] == {
        "ExperimentName": "two-versions",
        "ParameterAssignments": {"rate": 0.25, "loud": True, "regenerate_outputs": False},
    }

    # The route's refusal is shown with its status and detail.
    dialog.get_by_role("button", name="Submit", exact=True).click()
    refused = dialog.locator(".submit-result.error")
    refused.wait_for()
    assert refused.inner_text() == "Refused 400: pipeline parameter 'rate' must be of type number"
