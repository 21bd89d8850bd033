"""Early-termination policies: Azure's rules on report series, and each policy stopping a trial a
test makes clearly worse in a real sweep (the trial ends ``Canceled``, its process is gone)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Experiment, ScriptRunConfig
from airflow_mlw.train.hyperdrive import (
    BanditPolicy,
    GridParameterSampling,
    HyperDriveConfig,
    HyperDriveConfigError,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    PrimaryMetricGoal,
    TruncationSelectionPolicy,
    choice,
)
from tests.train.scripts import EPOCHS, write_source
from tests.train.test_hyperdrive import process_gone


def test_policies_evaluate_at_multiples_of_the_interval_from_the_delay() -> None:
    policy = BanditPolicy(evaluation_interval=2, slack_factor=0.1, delay_evaluation=5)
    assert [k for k in range(1, 13) if policy.evaluates_at(k)] == [6, 8, 10, 12]


def test_bandit_slack_factor_and_amount_follow_azure() -> None:
    reports = {"best": [0.8], "close": [0.7], "far": [0.6]}
    by_factor = BanditPolicy(slack_factor=0.2)  # maximising: below 0.8 / 1.2 = 0.667 stops
    assert by_factor.to_cancel("close", 1, reports, maximize=True) == set()
    assert by_factor.to_cancel("far", 1, reports, maximize=True) == {"far"}
    by_amount = BanditPolicy(slack_amount=0.15)  # below 0.8 - 0.15 stops
    assert by_amount.to_cancel("far", 1, reports, maximize=True) == {"far"}
    losses = {"best": [1.0], "close": [1.1], "far": [1.5]}  # minimising: above 1.0 * 1.2 stops
    assert by_factor.to_cancel("close", 1, losses, maximize=False) == set()
    assert by_factor.to_cancel("far", 1, losses, maximize=False) == {"far"}
    with pytest.raises(HyperDriveConfigError, match="exactly one of slack_factor and slack_amount"):
        BanditPolicy(slack_factor=0.1, slack_amount=0.1)


def test_median_stopping_compares_best_so_far_with_the_median_of_running_averages() -> None:
    policy = MedianStoppingPolicy()
    reports = {"a": [0.5, 0.7], "b": [0.6, 0.6], "c": [0.2, 0.55], "d": [0.1, 0.61]}
    # averages of the others at 2: a 0.6, b 0.6, c 0.375 -> median 0.6
    assert policy.to_cancel("d", 2, reports, maximize=True) == set()  # best so far 0.61
    assert policy.to_cancel("c", 2, reports, maximize=True) == {"c"}  # best so far 0.55


def test_truncation_selection_stops_the_lowest_percentage_at_the_interval() -> None:
    policy = TruncationSelectionPolicy(truncation_percentage=50)
    reports = {"a": [0.9], "b": [0.1], "c": [0.5], "d": [0.3], "late": []}
    assert policy.to_cancel("a", 1, reports, maximize=True) == {"b", "d"}
    assert policy.to_cancel("a", 1, reports, maximize=False) == {"a", "c"}
    with pytest.raises(HyperDriveConfigError, match="truncation_percentage must be between 1 and 99"):
        TruncationSelectionPolicy(truncation_percentage=100)


@pytest.mark.parametrize(
    "policy",
    [
        BanditPolicy(evaluation_interval=1, slack_factor=0.1),
        MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=2),
        TruncationSelectionPolicy(truncation_percentage=50, evaluation_interval=2),
    ],
    ids=lambda p: type(p).__name__,
)
def test_policy_cancels_the_clearly_worse_trial(workspace: Any, tmp_path: Path, policy: Any) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    source = write_source(tmp_path / "src", "epochs.py", EPOCHS)
    config = HyperDriveConfig(
        run_config=ScriptRunConfig(
            source,
            "epochs.py",
            arguments=["--steps", "12", "--pause", "0.15", "--pid_dir", str(pids), "--barrier", "2"],
        ),
        hyperparameter_sampling=GridParameterSampling({"--quality": choice(1.0, 0.0)}),
        policy=policy,
        primary_metric_name="score",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_concurrent_runs=2,
    )
    run = Experiment(workspace, "policy").submit(config)
    run.wait_for_completion()

    assert run.get_status() == "Finished"
    sampled = run.get_hyperparameters()
    by_quality = {json.loads(sampled[child.id])["--quality"]: child for child in run.get_children()}
    good, bad = by_quality[1.0], by_quality[0.0]
    assert good.get_status() == "Finished" and len(good.get_metrics()["score"]) == 12
    assert bad.get_status() == "Canceled"
    logged = bad.get_metrics()["score"]
    assert (
        1 <= len(logged if isinstance(logged, list) else [logged]) < 12
    )  # stopped early, what it logged kept
    trials = run._sweep()["trials"]
    assert trials[bad.id]["canceled"].startswith(type(policy).__name__)
    bad_pid = next(int(p.name.split("-")[1]) for p in pids.iterdir() if p.name.startswith("0.0-"))
    assert process_gone(bad_pid)
    assert run.get_best_run_by_primary_metric().id == good.id  # type: ignore[union-attr]


def test_no_termination_policy_lets_every_trial_finish(workspace: Any, tmp_path: Path) -> None:
    source = write_source(tmp_path / "src", "epochs.py", EPOCHS)
    config = HyperDriveConfig(
        run_config=ScriptRunConfig(source, "epochs.py", arguments=["--steps", "3", "--pause", "0.01"]),
        hyperparameter_sampling=GridParameterSampling({"--quality": choice(1.0, 0.0)}),
        policy=NoTerminationPolicy(),
        primary_metric_name="score",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
    )
    run = Experiment(workspace, "no-policy").submit(config)
    run.wait_for_completion()
    assert [c.get_status() for c in run.get_children()] == ["Finished", "Finished"]
