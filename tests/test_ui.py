"""The "ML Workspace" pages in a real Airflow UI: the nav entry, the pages in Airflow's iframe, the
step tasks' extra links, and Airflow's auth in front of every page.

A real deployment (api-server, scheduler, dag-processor) runs a one-step pipeline twice on a
workspace the test filled first; headless Chromium logs in through Airflow's login page.
Screenshots go to ``test-artifacts/ui/`` in the repository.
"""

from __future__ import annotations

import json
import runpy
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from tests import services
from tests.airflow_stack import AirflowStack, airflow_stack
from tests.conftest import require
from tests.datasets.conftest import write
from tests.plugins.ui.conftest import CHARTS

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "ui"
PASSWORD = "s3cret-pw"
DAG_ID = "mlw_ui_scoring"

SCORE = """
import argparse, glob, os
from airflow_mlw.core import Run
p = argparse.ArgumentParser(); p.add_argument("--data"); p.add_argument("--out"); a = p.parse_args()
rows = sum(len(open(f).read().splitlines()) - 1 for f in glob.glob(os.path.join(a.data, "*.csv")))
os.makedirs(a.out, exist_ok=True)
open(os.path.join(a.out, "scores.txt"), "w").write(f"{rows}\\n")
Run.get_context().log("rows", rows)
"""

DAG_FILE = """
from airflow_mlw.core import Dataset, Workspace
from airflow_mlw.pipeline.core import Pipeline, PipelineData
from airflow_mlw.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
scores = PipelineData("scores").as_dataset().register("iris_scores", tags={{"made_by": "score"}})
step = PythonScriptStep(
    "score.py",
    name="score",
    source_directory={source!r},
    arguments=["--data", Dataset.get_by_name(ws, "iris").as_named_input("iris"), "--out", scores],
    outputs=[scores],
)
pipeline = Pipeline(ws, [step])
dag = pipeline.to_dag({dag_id!r})
"""


def find_chromium() -> str:
    """The system Chromium and Playwright's Python package (never a downloaded browser)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise services.ServiceUnavailable("the playwright package is not installed") from None
    if not Path(CHROMIUM).is_file():
        raise services.ServiceUnavailable(f"no Chromium at {CHROMIUM}")
    return CHROMIUM


@pytest.fixture
def chromium() -> str:
    return require("Chromium", find_chromium)


def request(url: str, token: str | None = None, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """Status and body (JSON, else text) of a GET, or of a POST when ``body`` is given."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=30) as response:
            status, raw = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read().decode(errors="replace")
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


@pytest.fixture
def mlw_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``[mlw]`` settings shared by this test process and every Airflow service."""
    env = {
        "AIRFLOW__MLW__HOME": str(tmp_path / "mlw"),
        "AIRFLOW__MLW__REGISTRY_URL": f"sqlite:///{tmp_path / 'mlw' / 'registry.db'}",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def workspace_content(mlw_env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    """A datastore, a dataset with two versions, an environment with two versions, a cluster target,
    and the DAG file of a pipeline that reads the dataset and registers its output."""
    from airflow_mlw import Datastore
    from airflow_mlw.core import Dataset, Environment, Workspace
    from airflow_mlw.core.compute import AmlCompute, ComputeTarget
    from airflow_mlw.core.conda_dependencies import CondaDependencies

    ws = Workspace.from_config()
    store = Datastore.register_local(ws, "ui_store", tmp_path / "store")
    root = Path(store.config["root"])
    iris = Dataset.Tabular.from_delimited_files(path=(store, "iris/*.csv"))
    write(root, {"iris/part-1.csv": "sepal,petal\n5.1,1.4\n"})
    first = iris.register(ws, "iris", tags={"source": "ui-test"})
    write(root, {"iris/part-2.csv": "sepal,petal\n6.2,4.5\n"})
    second = iris.register(
        ws,
        "iris",
        tags={"source": "ui-test", "grown": "yes", "note": "<b>2 files</b>"},
        create_new_version=True,
    )
    assert (first.version, second.version) == (1, 2)

    env = Environment("ui-env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["numpy"])
    env.register(ws)
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["numpy", "pandas"])
    env.docker.enabled = True
    env.register(ws)
    ComputeTarget.create(ws, "ui-cluster", AmlCompute.provisioning_configuration(max_nodes=2))

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "score.py").write_text(SCORE)
    (tmp_path / "dags").mkdir()
    dag_file = tmp_path / "dags" / "ui_scoring.py"
    dag_file.write_text(DAG_FILE.format(source=str(tmp_path / "src"), dag_id=DAG_ID))
    pipeline = runpy.run_path(str(dag_file))["pipeline"]
    published = pipeline.publish("ui_scoring", description="scores iris", version="1.0")
    from airflow_mlw.pipeline.core import PipelineEndpoint

    PipelineEndpoint.publish(ws, "ui_scoring_endpoint", "stable name", published)
    from airflow_mlw.core import Experiment

    with Experiment(ws, "ui_sweep").start_logging() as parent:
        children = parent.create_children(tag_key="fold", tag_values=["0", "1"])
        for child in children:
            child.log("auc", 0.8)
            child.complete()
        for loss in (0.9, 0.4, 0.2):  # a line chart on the parent's page
            parent.log("loss", loss)
    return {
        "workspace": ws,
        "versions": [first, second],
        "published": published,
        "parent": parent.id,
        "children": [child.id for child in children],
    }


@pytest.fixture
def stack(tmp_path: Path, mlw_env: dict[str, str], workspace_content: Any) -> Iterator[AirflowStack]:
    env = {
        **mlw_env,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
    }

    def passwords(home: Path) -> None:
        (home / "simple_auth_manager_passwords.json.generated").write_text(json.dumps({"admin": PASSWORD}))

    with airflow_stack(tmp_path / "dags", parallelism=1, extra_env=env, before_start=passwords) as running:
        yield running


def run_pipeline(base: str, token: str) -> str:
    """Trigger the pipeline's DAG over Airflow's REST API and wait until the run succeeds."""
    status, body = request(f"{base}/api/v2/dags/{DAG_ID}/dagRuns", token, {"logical_date": None})
    assert status == 200, body
    run_id = body["dag_run_id"]
    states: list[str] = []

    def finished() -> bool:
        states.append(request(f"{base}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", token)[1]["state"])
        return states[-1] in ("success", "failed")

    services.wait_until(finished, 300, f"DAG run {run_id}")
    assert states[-1] == "success", f"{run_id} ended {states[-1]}"
    return str(run_id)


def test_ml_workspace_pages_in_the_airflow_ui(
    chromium: str, stack: AirflowStack, workspace_content: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{stack.port}"
    first, second = workspace_content["versions"]

    # Airflow's own auth guards the pages: no credential is 401, a forged one 403.
    assert request(f"{base}/mlw/ui/")[0] == 401
    assert request(f"{base}/mlw/ui/static/vendor/vega.min.js")[0] == 401
    assert request(f"{base}/mlw/ui/datasets", token="not-a-jwt")[0] == 403
    status, body = request(f"{base}/auth/token", body={"username": "admin", "password": PASSWORD})
    assert status == 201, body
    token = body["access_token"]
    assert request(f"{base}/mlw/ui/static/charts.js", token)[0] == 200
    status, overview = request(f"{base}/mlw/ui/", token)
    assert status == 200 and "<h1>ML Workspace default</h1>" in overview
    assert request(f"{base}/mlw/ui/datasets/nope", token) == (
        404,
        {"detail": "no dataset 'nope' in this workspace"},
    )
    # Child runs are listed under their parent, and name it.
    status, parent_page = request(f"{base}/mlw/ui/runs/{workspace_content['parent']}", token)
    assert status == 200 and '<h2 id="children">Child runs</h2>' in parent_page
    assert all(child in parent_page for child in workspace_content["children"])
    status, child_page = request(f"{base}/mlw/ui/runs/{workspace_content['children'][0]}", token)
    assert status == 200 and "Parent run" in child_page and workspace_content["parent"] in child_page
    status, body = request(f"{base}/mlw/ui/task-run?dag_id=d&dag_run_id=r&task_id=t", token)
    assert (status, body["detail"]) == (404, "task 't' of DAG run d/r has no run in this workspace")

    services.wait_until(
        lambda: request(f"{base}/api/v2/dags/{DAG_ID}", token)[0] == 200,
        180,
        f"DAG {DAG_ID} parsed",
        stack.home / "dag-processor.log",
    )
    computed = run_pipeline(base, token)
    reused = run_pipeline(base, token)

    # The step task's extra links open the task instance's page in the ML Workspace view.
    status, body = request(f"{base}/api/v2/dags/{DAG_ID}/dagRuns/{computed}/taskInstances/score/links", token)
    assert status == 200, body
    links = body["extra_links"]
    query = urlencode({"dag_id": DAG_ID, "dag_run_id": computed, "task_id": "score"})
    assert links["ML run"] == f"/plugin/mlw/mlw/ui/task-run?{query}"
    assert links["ML outputs"] == links["ML run"] + "#outputs"
    assert links["ML dataset versions"] == links["ML run"] + "#datasets"
    # The reused step never ran (the planning task skipped it): the api-server still gives its links,
    # because the registry has its run; a task instance without a run gets none.
    status, body = request(f"{base}/api/v2/dags/{DAG_ID}/dagRuns/{reused}/taskInstances/score/links", token)
    assert status == 200, body
    query = urlencode({"dag_id": DAG_ID, "dag_run_id": reused, "task_id": "score"})
    assert body["extra_links"]["ML run"] == f"/plugin/mlw/mlw/ui/task-run?{query}"

    shots = tmp_path / "screenshots"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-background-networking"]
        )
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{base}/")
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("link", name="ML Workspace").click()
            frame = page.frame_locator("iframe")
            frame.get_by_role("heading", name="ML Workspace default").wait_for()
            frame.get_by_role("link", name="Datasets").click()
            frame.get_by_role("heading", name="Datasets").wait_for()
            rows = frame.locator("tbody tr")
            iris = [text for text in rows.all_inner_texts() if text.startswith("iris\t")]
            assert [line.split("\t")[2] for line in iris] == ["2", "1"]
            for line, version in zip(iris, (second, first), strict=True):
                assert version.fingerprint[:12] in line
            assert "grown=yes" in iris[0] and "grown=yes" not in iris[1]
            assert "note=<b>2 files</b>" in iris[0], "registry text is shown, never interpreted as markup"
            (scored,) = [text for text in rows.all_inner_texts() if text.startswith("iris_scores\t")]
            assert f"{DAG_ID} / {computed} / score" in scored, "produced-by lineage names the DAG run"
            assert f"{DAG_ID} / {computed} / score" in iris[0], "consumed-by lineage names the DAG run"
            page.screenshot(path=str(shots / "datasets.png"), full_page=True)

            # A lineage link opens Airflow's own task instance page in the whole window...
            task_page = f"/dags/{DAG_ID}/runs/{quote(computed, safe='')}/tasks/score"
            frame.locator(f'a[data-airflow][href="{task_page}"]').first.click()
            page.wait_for_url(base + task_page)
            page.get_by_text("Success", exact=True).first.wait_for()
            # ...whose extra links open the step's run in the ML Workspace view.
            page.get_by_role("link", name="Details", exact=True).click()
            page.get_by_role("link", name="ML dataset versions").wait_for()
            page.screenshot(path=str(shots / "airflow-task-details.png"))
            page.get_by_role("link", name="ML dataset versions").click()
            page.wait_for_url(base + links["ML dataset versions"])
            frame = page.frame_locator("iframe")
            datasets = frame.locator("#datasets + table").inner_text()
            assert "output\tscores\tiris_scores v1" in datasets and "input\tiris\tiris v2" in datasets
            assert "rows\tscalar\t2" in frame.locator("#metrics + table").inner_text()
            outputs = frame.locator("#outputs + table").inner_text()
            assert "scores\tworkspacelocalstore\t" in outputs and "iris_scores v1" in outputs
            origin = frame.locator("dt:text-is('Run id') + dd").inner_text()
            page.screenshot(path=str(shots / "computed-run.png"), full_page=True)

            # The reused step's run: the origin's outputs and metrics, and the time it saved.
            page.goto(
                f"{base}/mlw/ui/task-run?"
                + urlencode({"dag_id": DAG_ID, "dag_run_id": reused, "task_id": "score"})
            )
            reuse = page.locator("dt:text-is('Reuse') + dd").inner_text()
            assert reuse.startswith(f"reused the outputs of {origin} (saved "), reuse
            assert "rows\tscalar\t2" in page.locator("#metrics + p + table").inner_text()
            page.screenshot(path=str(shots / "reused-run.png"), full_page=True)

            # Charts draw inside Airflow's frame: charts.js and the vendored Vega come from the
            # plugin's app with the UI's session cookie.
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            page.goto(f"{base}/plugin/mlw/mlw/ui/runs/{workspace_content['parent']}")
            page.frame_locator("iframe").locator('.mlw-chart-view[data-state="drawn"]').wait_for()
            scripts = [url for url in requested if url.endswith(".js") and "/mlw/ui/static/" in url]
            assert len(scripts) == 4 and all(url.startswith(f"{base}/mlw/ui/static/") for url in scripts), (
                scripts
            )
            (frame,) = [f for f in page.frames if f != page.main_frame and "/mlw/ui/runs/" in f.url]
            charts = frame.evaluate(CHARTS)
            assert charts["metric-loss"]["state"] == "drawn" and charts["metric-loss"]["svg"]
            assert [row["y"] for row in charts["metric-loss"]["rows"]] == [0.9, 0.4, 0.2]
            page.screenshot(path=str(shots / "run-chart-in-airflow.png"), full_page=True)

            for name, expected in (
                ("environments", "built on first use"),
                ("compute", "ui-cluster"),
                ("pipelines", "ui_scoring_endpoint\tActive\t0\t0 (default): ui_scoring"),
                ("runs", "1 of 2 step runs listed were reuse hits"),
                ("datastores", "ui_store"),
            ):
                page.goto(f"{base}/mlw/ui/{name}")
                assert expected in page.inner_text("main"), name
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        finally:
            browser.close()
            if shots.exists():
                # Other UI tests leave their screenshots there too (in parallel, under xdist).
                shutil.copytree(shots, ARTIFACTS, dirs_exist_ok=True)
