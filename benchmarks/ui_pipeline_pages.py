"""Issue 20 figures: server time of the pipelines page and of a pipeline run's page (its step graph)
on a large workspace (embedded SQLite registry), side by side with the overview page of the same
workspace and a bare FastAPI route (``ui_pages`` times them the same way):

- the pipelines page of 20 published pipelines and 5 endpoints (2 versions each) over 1,000
  pipeline runs: each pipeline's and endpoint's last 5 runs (one window-function query), the
  Submit dialogs;
- the run page of a 100-step pipeline run (10 layers of 10 steps, each reading two outputs of the
  layer above: 180 data edges), laid out server-side. Airflow's metadata DB here has no such DAG
  run, so the graph is drawn from the registry's step runs (on a deployment the api-server reads
  the DAG run's task instances and its DAG version's dependencies as well).

Target: each page under 1 s. The DAG-run permission check is replaced by "allowed" (no auth
manager runs here; tests/plugins/ui/test_pipelines_page.py checks it on a deployment).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _report import report
from ui_pages import median_time, page_client

PIPELINES = 20
ENDPOINTS = 5
RUNS = 1_000
LAYERS, WIDTH = 10, 10


def fill(ws: Any) -> str:
    """Published pipelines, endpoints, their runs and one big pipeline run; that run's id."""
    from airflow_mlw.registry.rows import (
        PipelineEndpointRow,
        PipelineEndpointVersionRow,
        PublishedPipelineRow,
        RunRow,
    )

    ws_id = ws._workspace_id()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    parameters = {
        "text": {"type": "string", "default": "hi"},
        "count": {"type": "integer", "default": 2},
        "rate": {"type": "number", "default": 0.5},
        "loud": {"type": "boolean", "default": False},
        "regenerate_outputs": {"type": "boolean", "default": False},
    }
    with ws.store.session(write=True) as session:
        published = [
            PublishedPipelineRow(
                id=f"pub-{i:02d}",
                workspace_id=ws_id,
                name=f"pipeline-{i:02d}",
                version="1.0",
                dag_id=f"mlw_published_pipeline_{i:02d}",
                parameters=parameters,
                status="Active",
                created_at=start,
            )
            for i in range(PIPELINES)
        ]
        session.add_all(published)
        for e in range(ENDPOINTS):
            session.add(
                PipelineEndpointRow(id=f"end-{e}", workspace_id=ws_id, name=f"endpoint-{e}", created_at=start)
            )
        session.flush()
        for e in range(ENDPOINTS):
            for version in range(2):
                session.add(
                    PipelineEndpointVersionRow(
                        endpoint_id=f"end-{e}",
                        version=str(version),
                        published_pipeline_id=f"pub-{2 * e + version:02d}",
                    )
                )
        session.add_all(
            RunRow(
                id=f"prun-{i:04d}",
                workspace_id=ws_id,
                kind="pipeline",
                experiment_name="bench",
                name=published[i % PIPELINES].dag_id,
                dag_id=published[i % PIPELINES].dag_id,
                dag_run_id=f"manual__{i}",
                status="Finished" if i % 13 else "Failed",
                created_at=start + timedelta(minutes=i),
                outputs={},
                tags={},
                properties={},
            )
            for i in range(RUNS)
        )
        big = "prun-big"
        session.add(
            RunRow(
                id=big,
                workspace_id=ws_id,
                kind="pipeline",
                experiment_name="bench",
                name="mlw_big",
                dag_id="mlw_big",
                dag_run_id="manual__big",
                status="Finished",
                created_at=start,
                outputs={},
                tags={},
                properties={},
            )
        )
        for layer in range(LAYERS):
            for i in range(WIDTH):
                task = f"s{layer}_{i}"
                inputs = {}
                if layer:
                    for j in (i, (i + 1) % WIDTH):
                        inputs[f"in_{j}"] = {"producer": f"s{layer - 1}_{j}"}
                began = start + timedelta(seconds=layer * 10)
                session.add(
                    RunRow(
                        id=f"step-{task}",
                        workspace_id=ws_id,
                        kind="step",
                        parent_id=big,
                        name=task,
                        dag_id="mlw_big",
                        dag_run_id="manual__big",
                        task_id=task,
                        status="Finished",
                        created_at=began,
                        started_at=began,
                        finished_at=began + timedelta(seconds=5),
                        key_document={"key": {}, "info": {"inputs": inputs}},
                        outputs={},
                        tags={},
                        properties={},
                    )
                )
    return big


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="mlw-bench-ui-pipelines-"))
    os.environ["AIRFLOW_HOME"] = str(scratch / "airflow")

    from airflow_mlw.plugins import pipelines_api
    from airflow_mlw.runs.inprocess import ensure_metadata_db
    from airflow_mlw.workspace import Workspace

    ensure_metadata_db()  # the page reads Airflow's metadata DB (here: no DAG run of the pipeline)
    ws = Workspace.create("bench", registry_url=f"sqlite:///{scratch / 'registry.db'}")
    t = time.perf_counter()
    big = fill(ws)
    print(
        f"registry filled: {PIPELINES} published pipelines, {ENDPOINTS} endpoints, {RUNS} pipeline runs, "
        f"a {LAYERS * WIDTH}-step run ({time.perf_counter() - t:.1f} s)"
    )
    pipelines_api.may_trigger = lambda dag_id, user: True  # type: ignore[assignment]
    client, timer, bare, overview = page_client(ws)
    baseline = f"{overview * 1000:.1f} ms overview page ({bare * 1000:.1f} ms bare route)"
    page = client.get("/ui/pipelines").text
    assert page.count('class="submit-dialog"') == PIPELINES + ENDPOINTS, "a dialog per pipeline and endpoint"
    pipelines = median_time(client, timer, "/ui/pipelines")
    report(
        f"pipelines page, {PIPELINES} pipelines + {ENDPOINTS} endpoints over {RUNS} runs",
        f"{pipelines * 1000:.0f} ms",
        baseline,
        pipelines / overview,
        "< 1 s",
    )
    page = client.get(f"/ui/runs/{big}").text
    assert page.count('class="step-node"') == LAYERS * WIDTH, "a node per step"
    graph = median_time(client, timer, f"/ui/runs/{big}")
    report(
        f"pipeline run page, {LAYERS * WIDTH} steps, {(LAYERS - 1) * WIDTH * 2} edges",
        f"{graph * 1000:.0f} ms",
        baseline,
        graph / overview,
        "< 1 s",
    )


if __name__ == "__main__":
    main()
