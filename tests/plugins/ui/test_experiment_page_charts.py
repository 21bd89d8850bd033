"""The experiment page puts its runs side by side: a metric picked on the page drawn across the
runs (a bar per run of its last value, a line per run of every value), fed by the JSON route, and a
table of each run's tags, properties, duration, reuse and metrics; in real Chromium."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from tests.plugins.ui.conftest import ARTIFACTS, CHARTS, open_charts, shot_of


def experiment_runs(workspace: Any) -> list[Any]:
    from airflow_mlw.core import Experiment

    experiment = Experiment(workspace, "compare")
    runs = []
    for index, (losses, acc) in enumerate(
        (([0.9, 0.5, 0.3], 0.7), ([0.8, 0.6], None), ([0.7, 0.4, 0.2, 0.1], 0.9))
    ):
        run = experiment.start_logging()
        for loss in losses:
            run.log("loss", loss)
        if acc is not None:
            run.log("acc", acc)
        run.tag("lr", str(0.1 * (index + 1)))
        run.add_properties({"fold": str(index)})
        run.complete()
        runs.append(run)
    Experiment(workspace, "other").start_logging().complete()
    return runs


def test_the_experiment_page_compares_a_picked_metric_across_runs(
    workspace: Any, ui_server: str, browser: Any
) -> None:
    runs = experiment_runs(workspace)
    listing = urllib.request.urlopen(f"{ui_server}/ui/experiments").read().decode()
    assert '<a href="/ui/experiments/compare">compare</a></td><td>3</td>' in listing
    assert '<a href="/ui/experiments/other">other</a></td><td>1</td>' in listing

    page, charts = open_charts(browser, f"{ui_server}/ui/experiments/compare", "experiment.png")
    # "acc" comes first by name; the run that never logged it has no bar.
    assert page.locator('select[name="metric"]').input_value() == "acc"
    bars = charts["compare-last"]
    assert bars["state"] == "drawn" and bars["svg"] and bars["marks"] == 2
    assert [(b["run_id"], b["value"]) for b in bars["rows"]] == [(runs[0].id, 0.7), (runs[2].id, 0.9)]

    page.select_option('select[name="metric"]', "loss")
    charts = page.evaluate(CHARTS)
    bars, lines = charts["compare-last"], charts["compare-steps"]
    assert [b["value"] for b in bars["rows"]] == [0.3, 0.6, 0.1] and bars["marks"] == 3
    assert len(lines["series"]) == 3 and len(lines["rows"]) == 3 + 2 + 4
    assert lines["state"] == "drawn" and lines["marks"] >= 3
    page.screenshot(path=str(ARTIFACTS / "experiment-loss.png"), full_page=True)
    shot_of(page, "h1, #compare, .mlw-chart-box, #runs + table", "experiment-charts.png")

    table = page.locator("#runs + table tbody").inner_text()
    lines_of = {line.split("\t")[0]: line for line in table.splitlines()}
    first = lines_of[runs[0].id[:12]]
    assert "lr=0.1" in first and "fold=0" in first and "Finished" in first
    assert "acc=0.7, loss=0.3" in first
    page.close()


def test_the_comparison_route_answers_what_the_charts_draw(workspace: Any, ui_server: str) -> None:
    runs = experiment_runs(workspace)
    url = f"{ui_server}/ui/data/experiments/compare/compare?metric=loss&view=steps"
    with urllib.request.urlopen(url) as response:
        body = json.loads(response.read())
    assert body["metric"] == "loss" and body["legend"] is True
    assert [(r["series"], r["x"], r["y"]) for r in body["rows"]][:3] == [
        (runs[0].id[:8], 1, 0.9),
        (runs[0].id[:8], 2, 0.5),
        (runs[0].id[:8], 3, 0.3),
    ]
    try:
        urllib.request.urlopen(f"{ui_server}/ui/data/experiments/nope/compare?metric=loss")
    except urllib.error.HTTPError as exc:
        assert (exc.code, json.loads(exc.read())["detail"]) == (404, "no experiment 'nope' in this workspace")
    else:
        raise AssertionError("an unknown experiment was answered")
