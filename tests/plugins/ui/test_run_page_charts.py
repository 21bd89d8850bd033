"""The run page draws every kind of logged value as Azure ML Studio does, in real Chromium from the
vendored Vega libraries: repeated ``log``, ``log_list`` and ``log_row`` as lines, ``log_table`` as a
table, ``log_image`` inline, the confusion matrix as a heatmap, the accuracy table as ROC and
precision-recall curves, residuals as a histogram, predictions against true values."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from tests.plugins.ui.conftest import open_charts, shot_of

CONFUSION = {
    "schema_type": "confusion_matrix",
    "schema_version": "1.0.0",
    "data": {"class_labels": ["cat", "dog", "fox"], "matrix": [[5, 1, 0], [2, 7, 1], [0, 1, 9]]},
}
THRESHOLDS = [0.0, 0.25, 0.5, 0.75, 1.0]
#: Per class, per threshold: [TP, FP, TN, FN] (Azure's accuracy table).
ACCURACY = {
    "schema_type": "accuracy_table",
    "schema_version": "1.0.1",
    "data": {
        "class_labels": ["no", "yes"],
        "probability_thresholds": THRESHOLDS,
        "probability_tables": [
            [[10, 10, 0, 0], [9, 4, 6, 1], [8, 2, 8, 2], [5, 1, 9, 5], [0, 0, 10, 10]],
            [[10, 10, 0, 0], [10, 5, 5, 0], [7, 1, 9, 3], [4, 0, 10, 6], [0, 0, 10, 10]],
        ],
    },
}
RESIDUALS = {
    "schema_type": "residuals",
    "data": {"bin_edges": [-3, -2, -1, 0, 1, 2, 3], "bin_counts": [1, 4, 9, 8, 3, 1]},
}
PREDICTIONS = {
    "schema_type": "predictions",
    "data": {
        "bin_edges": [0, 10, 20, 30, 40],
        "bin_averages": [4.0, 16.0, 24.0, 37.0],
        "bin_errors": [1.0, 2.0, 1.5, 3.0],
        "bin_counts": [5, 6, 7, 4],
    },
}


def logged_run(workspace: Any, tmp_path: Path) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from airflow_mlw.core import Experiment

    run = Experiment(workspace, "charts").start_logging()
    for loss in (0.9, 0.6, 0.45, 0.4, float("nan"), 0.35):  # a NaN is a gap, not a broken page
        run.log("loss", loss)
    run.log("alpha", 0.1)
    run.log_list("folds", [0.81, 0.79, 0.84, 0.8])
    for label, precision, recall in (("cat", 0.9, 0.8), ("dog", 0.7, 0.75), ("fox", 0.95, 0.9)):
        run.log_row("per_class", label=label, precision=precision, recall=recall)
    run.log_table("coefficients", {"feature": ["age", "bmi", "<b>bp</b>"], "weight": [0.5, -0.2, 0.1]})
    figure, axes = plt.subplots(figsize=(3, 2))
    axes.plot([1, 2, 3], [3, 1, 2])
    run.log_image("curve", plot=figure)
    run.log_confusion_matrix("confusion", CONFUSION)
    run.log_accuracy_table("accuracy", ACCURACY)
    run.log_residuals("residuals", RESIDUALS)
    run.log_predictions("predictions", PREDICTIONS)
    run.log_residuals(
        "broken", {"schema_type": "residuals", "data": {"bin_edges": [0, 1], "bin_counts": [1, 2]}}
    )
    run.complete()
    return run


def test_the_run_page_draws_each_logged_kind(
    workspace: Any, ui_server: str, browser: Any, tmp_path: Path
) -> None:
    run = logged_run(workspace, tmp_path)
    page, charts = open_charts(browser, f"{ui_server}/ui/runs/{run.id}", "run-charts.png")

    assert {name: chart["state"] for name, chart in charts.items()} == dict.fromkeys(
        [
            "metric-loss",
            "list-folds",
            "rows-per_class",
            "confusion-confusion",
            "roc-accuracy",
            "pr-accuracy",
            "residuals-residuals",
            "predictions-predictions",
        ],
        "drawn",
    ), "a single scalar (alpha) is only in the metrics table"
    for name, chart in charts.items():
        assert chart["svg"] and chart["marks"] > 0, f"{name} drew nothing"

    loss = charts["metric-loss"]
    assert [(r["x"], r["y"]) for r in loss["rows"]] == [
        (1, 0.9),
        (2, 0.6),
        (3, 0.45),
        (4, 0.4),
        (5, None),
        (6, 0.35),
    ]
    assert loss["series"] == ["loss"]
    assert [r["y"] for r in charts["list-folds"]["rows"]] == [0.81, 0.79, 0.84, 0.8]
    rows = charts["rows-per_class"]
    assert sorted(rows["series"]) == ["precision", "recall"] and len(rows["rows"]) == 6

    confusion = charts["confusion-confusion"]["rows"]
    assert len(confusion) == 9
    assert {(r["actual"], r["predicted"]): r["count"] for r in confusion}[("dog", "cat")] == 2
    assert charts["confusion-confusion"]["marks"] >= 9  # one cell each

    roc = charts["roc-accuracy"]
    assert sorted(roc["series"]) == ["no", "yes"] and len(roc["rows"]) == 10
    # class "no" at threshold 0.5: TP 8, FP 2, TN 8, FN 2 -> FPR 0.2, TPR 0.8; precision 0.8
    (point,) = [r for r in roc["rows"] if r["series"] == "no" and r["threshold"] == 0.5]
    assert (point["x"], point["y"]) == (0.2, 0.8)
    (pr,) = [r for r in charts["pr-accuracy"]["rows"] if r["series"] == "no" and r["threshold"] == 0.5]
    assert (pr["x"], pr["y"]) == (0.8, 0.8)

    bins = charts["residuals-residuals"]["rows"]
    assert [(b["start"], b["end"], b["count"]) for b in bins][:2] == [(-3, -2, 1), (-2, -1, 4)]
    assert len(bins) == 6
    predicted = charts["predictions-predictions"]["rows"]
    assert [(p["x"], p["y"], p["low"], p["high"]) for p in predicted][1] == (15, 16.0, 14.0, 18.0)

    # log_table and log_row as tables; registry text shown as text.
    table = page.locator('figure[data-table="coefficients"] table').inner_text()
    assert "feature\tweight" in table and "<b>bp</b>\t0.1" in table
    assert "fox\t0.95\t0.9" in page.locator('figure[data-table="per_class"] table').inner_text()
    # log_image inline, streamed from the run's files.
    image = page.locator("figure.mlw-image img")
    assert image.evaluate("img => img.complete && img.naturalWidth") > 0
    # A value off Azure's schema is named, not drawn.
    assert "broken (residuals) is not drawn: not in Azure's residuals schema" in page.inner_text("main")
    shot_of(
        page,
        ".mlw-chart-box:has([data-chart^='metric-']), .mlw-chart-box:has([data-chart^='rows-'])",
        "run-lines.png",
    )
    shot_of(
        page,
        ".mlw-chart-box:has([data-chart^='confusion-']), .mlw-chart-box:has([data-chart^='predictions-'])",
        "run-azure-charts.png",
    )
    page.close()


def test_the_runs_json_and_files_are_served_only_for_that_run(
    workspace: Any, ui_server: str, tmp_path: Path
) -> None:
    run = logged_run(workspace, tmp_path)
    with urllib.request.urlopen(f"{ui_server}/ui/data/runs/{run.id}/metrics") as response:
        body = json.loads(response.read())
    assert body["metrics_source"] == run.id and body["images"] == [["curve", "outputs/curve.png"]]
    kinds = {chart["name"]: chart["kind"] for chart in body["charts"]}
    assert kinds["confusion-confusion"] == "heatmap" and kinds["roc-accuracy"] == "curve"
    (loss,) = [chart for chart in body["charts"] if chart["name"] == "metric-loss"]
    assert [row["y"] for row in loss["data"]["rows"]][4] is None  # NaN is a gap, valid JSON
    with urllib.request.urlopen(f"{ui_server}/ui/runs/{run.id}/files/outputs/curve.png") as response:
        assert response.headers["Content-Type"] == "image/png"
        assert response.read()[:8] == b"\x89PNG\r\n\x1a\n"
    for path, detail in (
        (f"runs/{run.id}/files/outputs/nope.png", f"run {run.id!r} has no file 'outputs/nope.png'"),
        ("runs/nope/files/outputs/curve.png", "no run 'nope' in this workspace"),
        (f"data/runs/{run.id}/sweep", f"run {run.id!r} is no HyperDrive sweep"),
    ):
        try:
            urllib.request.urlopen(f"{ui_server}/ui/{path}")
        except urllib.error.HTTPError as exc:
            assert (exc.code, json.loads(exc.read())["detail"]) == (404, detail)
        else:
            raise AssertionError(f"{path} was served")
