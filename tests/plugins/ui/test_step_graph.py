"""The pipeline run page's step graph: steps as nodes with their state, reuse and duration, data
edges between them, links to the Airflow task instances; pipelines run for real in-process (Airflow's
dag.test() on the session's metadata DB, which the page reads as the api-server would), drawn by
Chromium. Screenshots under test-artifacts/ui/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_mlw.core import Experiment
from airflow_mlw.pipelines import Pipeline, PipelineData, PythonScriptStep
from tests.plugins.ui.conftest import ARTIFACTS

WRITE = """
import argparse, os
from airflow_mlw.core import Run
p = argparse.ArgumentParser(); p.add_argument("--inp", action="append", default=[]); p.add_argument("--out")
a = p.parse_args()
text = "".join(open(os.path.join(i, "value.txt")).read() for i in a.inp) + "x"
os.makedirs(a.out, exist_ok=True)
open(os.path.join(a.out, "value.txt"), "w").write(text)
Run.get_context().log("length", len(text))
"""

#: The graph as the page draws it, read back from the browser: nodes (box, reuse) and edge paths.
DRAWN = """
() => ({
  nodes: [...document.querySelectorAll(".step-node")].map((n) => {
    const box = n.getBoundingClientRect();
    return {id: n.dataset.step, reuse: n.dataset.reuse, top: box.top, bottom: box.bottom,
            left: box.left, right: box.right, airflow: n.querySelector("a[data-airflow]")?.getAttribute("href")};
  }),
  edges: [...document.querySelectorAll("path.step-edge")].map((p) => ({
    source: p.dataset.source, target: p.dataset.target, length: p.getTotalLength()})),
  labels: [...document.querySelectorAll("text.step-edge-label")].map((t) => t.textContent),
})
"""


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "write.py").write_text(WRITE)
    (folder / "fail.py").write_text("import sys\nprint('no good', file=sys.stderr)\nsys.exit(3)\n")
    return folder


def diamond(ws: Any, scripts: Path) -> Pipeline:
    """prepare -> (train_a, train_b) -> evaluate; evaluate always runs (allow_reuse=False)."""
    prepared, model_a, model_b, report = (
        PipelineData(n) for n in ("prepared", "model_a", "model_b", "report")
    )

    def step(name: str, inputs: list[Any], output: Any, **kw: Any) -> PythonScriptStep:
        arguments: list[Any] = [x for i in inputs for x in ("--inp", i)] + ["--out", output]
        return PythonScriptStep(
            "write.py",
            name=name,
            source_directory=str(scripts),
            arguments=arguments,
            inputs=inputs,
            outputs=[output],
            **kw,
        )

    steps = [
        step("prepare", [], prepared),
        step("train_a", [prepared], model_a),
        step("train_b", [prepared], model_b),
        step("evaluate", [model_a, model_b], report, allow_reuse=False),
    ]
    return Pipeline(ws, steps)


def graph_of(page: Any) -> dict[str, Any]:
    return dict(json.loads(page.locator("#step-graph-data").text_content()))


def test_step_graph_shows_state_reuse_durations_and_data_edges(
    workspace: Any, scripts: Path, ui_server: str, browser: Any
) -> None:
    first = Experiment(workspace, "graph").submit(diamond(workspace, scripts))
    first.wait_for_completion(show_output=False)
    second = Experiment(workspace, "graph").submit(diamond(workspace, scripts))
    second.wait_for_completion(show_output=False)
    assert second.get_status() == "Finished"

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    response = page.goto(f"{ui_server}/ui/runs/{second.id}")
    assert response is not None and response.status == 200
    graph = graph_of(page)
    assert graph["source"] == "airflow"
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert set(nodes) == {"prepare", "train_a", "train_b", "evaluate"}
    assert {k: n["reuse"] for k, n in nodes.items()} == {
        "prepare": "reused",
        "train_a": "reused",
        "train_b": "reused",
        "evaluate": "ran",
    }
    assert all(n["status"] == "Finished" for n in nodes.values())
    assert {k: n["layer"] for k, n in nodes.items()} == {
        "prepare": 0,
        "train_a": 1,
        "train_b": 1,
        "evaluate": 2,
    }
    # A reused step reports the time it saved: the duration of the run it reused.
    first_steps = {s.name: s for s in first.get_steps()}
    assert nodes["prepare"]["saved"] == pytest.approx(
        (first_steps["prepare"]._row().finished_at - first_steps["prepare"]._row().started_at).total_seconds()
    )
    assert nodes["evaluate"]["duration"] > 0
    edges = {(e["source"], e["target"]): e["data"] for e in graph["edges"]}
    assert edges == {
        ("prepare", "train_a"): ["prepared"],
        ("prepare", "train_b"): ["prepared"],
        ("train_a", "evaluate"): ["model_a"],
        ("train_b", "evaluate"): ["model_b"],
    }

    drawn = page.evaluate(DRAWN)
    boxes = {n["id"]: n for n in drawn["nodes"]}
    assert len(drawn["nodes"]) == 4 and len(drawn["edges"]) == 4
    assert {k: n["reuse"] for k, n in boxes.items()} == {k: n["reuse"] for k, n in nodes.items()}
    for edge in drawn["edges"]:  # each edge runs down from its source's box to its target's
        assert boxes[edge["source"]]["bottom"] < boxes[edge["target"]]["top"] and edge["length"] > 0
    a, b = boxes["train_a"], boxes["train_b"]
    assert a["top"] == b["top"] and (a["right"] <= b["left"] or b["right"] <= a["left"])
    assert sorted(drawn["labels"]) == ["model_a", "model_b", "prepared", "prepared"]
    dag_run = second._row().dag_run_id
    assert (
        boxes["evaluate"]["airflow"]
        == f"/dags/{second._row().dag_id}/runs/{quote(dag_run, safe='')}/tasks/evaluate"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "pipeline-run-graph.png"), full_page=True)


def test_step_graph_marks_the_failed_step_and_the_steps_it_stopped(
    workspace: Any, scripts: Path, ui_server: str, browser: Any
) -> None:
    prepared, bad_out = PipelineData("prepared"), PipelineData("bad_out")
    prepare = PythonScriptStep(
        "write.py",
        name="prepare",
        source_directory=str(scripts),
        arguments=["--out", prepared],
        outputs=[prepared],
    )
    bad = PythonScriptStep(
        "fail.py",
        name="bad",
        source_directory=str(scripts),
        arguments=[prepared, bad_out],
        inputs=[prepared],
        outputs=[bad_out],
    )
    done = PipelineData("done")
    after = PythonScriptStep(
        "write.py",
        name="after",
        source_directory=str(scripts),
        arguments=["--inp", bad_out, "--out", done],
        inputs=[bad_out],
        outputs=[done],
    )
    run = Experiment(workspace, "graph-failing").submit(Pipeline(workspace, [prepare, bad, after]))
    assert run.get_status() == "Failed"

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{ui_server}/ui/runs/{run.id}")
    nodes = {n["id"]: n for n in graph_of(page)["nodes"]}
    assert {k: (n["reuse"], n["status"]) for k, n in nodes.items()} == {
        "prepare": ("ran", "Finished"),
        "bad": ("failed", "Failed"),
        "after": ("not run", "NotStarted"),
    }
    assert nodes["after"]["airflow_state"] == "upstream_failed" and nodes["after"]["run_url"] is None
    assert page.locator('.step-node[data-reuse="failed"]').count() == 1
    assert page.locator('.step-node[data-reuse="not run"]').count() == 1
    page.screenshot(path=str(ARTIFACTS / "pipeline-run-graph-failed.png"), full_page=True)


ECHO = """
import os

def run(mini_batch):
    return [os.path.basename(path) for path in mini_batch]
"""


def test_a_parallel_run_step_is_one_node_with_its_mapped_tasks(
    workspace: Any, scripts: Path, tmp_path: Path, ui_server: str, browser: Any
) -> None:
    from airflow_mlw.core import Dataset, Datastore, Environment
    from airflow_mlw.pipeline.steps import ParallelRunConfig, ParallelRunStep
    from airflow_mlw.pipelines import OutputFileDatasetConfig

    (tmp_path / "items").mkdir()
    for i in range(6):
        (tmp_path / "items" / f"{i}.txt").write_text(str(i))
    (scripts / "echo.py").write_text(ECHO)
    (scripts / "count.py").write_text(
        "import os, sys\nprint(sum(len(f) for _, _, f in os.walk(sys.argv[1])))\n"
    )
    store = Datastore.register_local(workspace, "items_store", tmp_path)
    items = Dataset.File.from_files((store, "items")).as_named_input("items")
    config = ParallelRunConfig(
        source_directory=str(scripts),
        entry_script="echo.py",
        mini_batch_size="2",
        error_threshold=0,
        output_action="append_row",
        environment=Environment("default"),
        compute_target="local",
        process_count_per_node=1,
        node_count=2,
        run_max_try=1,
    )
    listed = OutputFileDatasetConfig("listed")
    score = ParallelRunStep("score", config, inputs=[items], output=listed)
    after = PythonScriptStep(
        "count.py", name="after", source_directory=str(scripts), arguments=[listed.as_input("listed")]
    )
    run = Experiment(workspace, "graph-parallel").submit(Pipeline(workspace, [score, after]))
    assert run.get_status() == "Finished"

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{ui_server}/ui/runs/{run.id}")
    graph = graph_of(page)
    assert [(n["id"], n["reuse"], n["mapped"]) for n in graph["nodes"]] == [
        ("score", "ran", 2),
        ("after", "ran", 0),
    ]
    assert [(e["source"], e["target"], e["data"]) for e in graph["edges"]] == [("score", "after", ["listed"])]
    assert page.locator('.step-node[data-step="score"]').inner_text().count("2 mapped") == 1
