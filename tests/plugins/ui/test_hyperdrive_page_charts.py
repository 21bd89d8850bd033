"""A HyperDrive sweep's page: the primary metric of every trial over its reports and the
hyperparameters against the metric as parallel coordinates, early-terminated trials dashed and
named; from a real sweep whose Bandit policy stops the poor trials, drawn in real Chromium."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from airflow_mlw.core import Experiment, ScriptRunConfig
from airflow_mlw.train.hyperdrive import (
    BanditPolicy,
    GridParameterSampling,
    HyperDriveConfig,
    PrimaryMetricGoal,
    choice,
)
from tests.plugins.ui.conftest import open_charts, shot_of
from tests.train.scripts import EPOCHS, write_source


def policed_sweep(workspace: Any, tmp_path: Path) -> Any:
    """Four trials (quality 1.0 or 0.0, 8 or 10 reports) started together; Bandit stops quality 0.0."""
    pids = tmp_path / "pids"
    pids.mkdir()
    source = write_source(tmp_path / "src", "epochs.py", EPOCHS)
    config = HyperDriveConfig(
        run_config=ScriptRunConfig(
            source, "epochs.py", arguments=["--pause", "0.15", "--pid_dir", str(pids), "--barrier", "4"]
        ),
        hyperparameter_sampling=GridParameterSampling(
            {"--quality": choice(1.0, 0.0), "--steps": choice(8, 10)}
        ),
        policy=BanditPolicy(evaluation_interval=1, slack_factor=0.1),
        primary_metric_name="score",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_concurrent_runs=4,
    )
    run = Experiment(workspace, "sweep-ui").submit(config)
    run.wait_for_completion()
    return run


def test_the_sweep_page_draws_trials_and_parallel_coordinates(
    workspace: Any, ui_server: str, browser: Any, tmp_path: Path
) -> None:
    run = policed_sweep(workspace, tmp_path)
    trials = run._sweep()["trials"]
    statuses = {child.id: child.get_status() for child in run.get_children()}
    stopped = {run_id for run_id, status in statuses.items() if status == "Canceled"}
    assert len(trials) == 4 and len(stopped) == 2, statuses
    assert all(trials[run_id]["hyperparameters"]["--quality"] == 0.0 for run_id in stopped)
    reported = {}
    for child in run.get_children():
        logged = child.get_metrics().get("score", [])
        reported[child.id] = logged if isinstance(logged, list) else [logged]

    page, charts = open_charts(browser, f"{ui_server}/ui/runs/{run.id}", "hyperdrive-run.png")
    progress, parallel = charts["sweep-progress"], charts["sweep-parallel"]
    for chart in (progress, parallel):
        assert chart["state"] == "drawn" and chart["svg"] and chart["marks"] > 0

    # A line per trial, a point per reported value; the stopped trials' lines dashed.
    label = {run_id: f"trial {trial['number']}" for run_id, trial in trials.items()}
    assert sorted(progress["series"]) == sorted(label.values())
    by_trial: dict[str, list[Any]] = {}
    for row in progress["rows"]:
        by_trial.setdefault(row["series"], []).append(row)
    for run_id, values in reported.items():
        rows = by_trial[label[run_id]]
        assert [r["y"] for r in rows] == values
        assert {r["marked"] for r in rows} == {run_id in stopped}
    dashed = page.locator(
        '.mlw-chart-view[data-chart="sweep-progress"] g.mark-line path[stroke-dasharray="4,3"]'
    )
    assert dashed.count() == 2

    # Parallel coordinates: an axis per hyperparameter, then the metric; a line per trial.
    dimensions = sorted({row["dimension"] for row in parallel["rows"]})
    assert dimensions == ["--quality", "--steps", "score (best)"]
    assert sorted(parallel["series"]) == sorted(label.values())
    for run_id, trial in trials.items():
        rows = {r["dimension"]: r for r in parallel["rows"] if r["trial"] == label[run_id]}
        assert (
            rows["--quality"]["position"] == trial["hyperparameters"]["--quality"]
        )  # 0.0 and 1.0 span the axis
        assert rows["--steps"]["position"] == (0.0 if trial["hyperparameters"]["--steps"] == 8 else 1.0)
        assert rows["score (best)"]["metric"] == trial["best_primary_metric"]
        assert rows["--quality"]["marked"] == (run_id in stopped)

    # The trials table: best first, the stopped ones naming the policy.
    table = page.locator("#sweep ~ table").first.inner_text().splitlines()[1:]
    assert [line.split("\t")[1] for line in table][:2] == [
        run_id
        for run_id, _ in sorted(
            ((r, t["best_primary_metric"]) for r, t in trials.items() if r not in stopped),
            key=lambda p: -p[1],
        )
    ]
    for line in table:
        run_id = line.split("\t")[1]
        assert ("Canceled" in line and "BanditPolicy" in line) == (run_id in stopped), line
    shot_of(page, "#sweep, #sweep ~ .mlw-chart-box, #sweep ~ table", "hyperdrive-charts.png")
    page.close()

    with urllib.request.urlopen(f"{ui_server}/ui/data/runs/{run.id}/sweep?view=parallel") as response:
        body = json.loads(response.read())
    assert [axis["dimension"] for axis in body["axes"]] == ["--quality", "--steps", "score (best)"]
    assert body["axes"][1] == {"dimension": "--steps", "low": "8", "high": "10"}
