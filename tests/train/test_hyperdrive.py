"""HyperDrive sweeps in-process: real scikit-learn trial scripts as child runs, Optuna's samplers,
concurrency, time limits, cancel, and the errors of a sweep that cannot run."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Experiment, ScriptRunConfig
from airflow_mlw.exceptions import ActivityFailedException
from airflow_mlw.train.hyperdrive import (
    BanditPolicy,
    BayesianParameterSampling,
    GridParameterSampling,
    HyperDriveConfig,
    HyperDriveConfigError,
    HyperDriveRun,
    NoTerminationPolicy,
    PrimaryMetricGoal,
    RandomParameterSampling,
    choice,
    loguniform,
    normal,
    qlognormal,
    quniform,
    randint,
    uniform,
)
from tests.train.scripts import EPOCHS, LOSS_ONLY, SKLEARN_TRAIN, write_source


def sweep(source: str, script: str, sampling: Any, metric: str = "AUC", **options: Any) -> HyperDriveConfig:
    options.setdefault("primary_metric_goal", PrimaryMetricGoal.MAXIMIZE)
    arguments = options.pop("arguments", [])
    return HyperDriveConfig(
        run_config=ScriptRunConfig(source, script, arguments=arguments),
        hyperparameter_sampling=sampling,
        primary_metric_name=metric,
        **options,
    )


def process_gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "\nState:\tZ" in status.read_text()


def test_grid_sweep_runs_every_combination_as_child_runs_two_at_a_time(
    workspace: Any, tmp_path: Path
) -> None:
    source = write_source(tmp_path / "src", "train.py", SKLEARN_TRAIN)
    config = sweep(
        source,
        "train.py",
        GridParameterSampling({"--reg": choice(0.01, 1.0, 100.0), "--max_iter": choice(20, 200)}),
        max_total_runs=10,
        max_concurrent_runs=2,
    )
    run = Experiment(workspace, "grid").submit(config)
    assert isinstance(run, HyperDriveRun)
    run.wait_for_completion(show_output=True)

    assert run.get_status() == "Finished"
    children = run.get_children()
    assert len(children) == 6  # the grid's size, not max_total_runs
    sampled = {tuple(sorted(json.loads(h).items())) for h in run.get_hyperparameters().values()}
    assert sampled == {(("--max_iter", i), ("--reg", r)) for r in (0.01, 1.0, 100.0) for i in (20, 200)}
    for child in children:
        assert child.get_status() == "Finished"
        arguments = child.get_details()["runDefinition"]["arguments"]
        hyperparameters = json.loads(run.get_hyperparameters()[child.id])
        assert arguments == [
            "--reg",
            str(hyperparameters["--reg"]),
            "--max_iter",
            str(hyperparameters["--max_iter"]),
        ]
        assert child.get_metrics()["reg"] == hyperparameters["--reg"]
        assert "outputs/model.pkl" in child.get_file_names()
    # Never more than two trials at once, by the runs' own start and end times.
    spans = sorted((c._row().started_at, c._row().finished_at) for c in children)
    for start, _ in spans:
        assert sum(1 for s, e in spans if s <= start < e) <= 2
    assert any(s2 < e1 for (_, e1), (s2, _) in zip(spans, spans[1:], strict=False))  # two did overlap

    metrics = run.get_metrics()
    best = run.get_best_run_by_primary_metric()
    assert best is not None
    assert metrics[best.id]["AUC"] == max(m["AUC"] for m in metrics.values())
    ranked = run.get_children_sorted_by_primary_metric()
    assert [r["best_primary_metric"] for r in ranked] == sorted(
        (m["AUC"] for m in metrics.values()), reverse=True
    )
    assert ranked[0]["run_id"] == best.id and ranked[0]["status"] == "Finished"
    assert run.get_children_sorted_by_primary_metric(top=2, reverse=True)[0]["best_primary_metric"] == min(
        m["AUC"] for m in metrics.values()
    )
    assert Experiment(workspace, "grid").get_runs()[0].id == run.id  # the sweep, as a run of the experiment


def test_random_sweep_of_sklearn_script_is_reproducible_with_its_seed(workspace: Any, tmp_path: Path) -> None:
    source = write_source(tmp_path / "src", "train.py", SKLEARN_TRAIN)
    (tmp_path / "src" / "score.py").write_text(LOSS_ONLY)

    def sampled(
        script: str, space: dict[str, Any], seed: int, metric: str
    ) -> tuple[list[dict[str, Any]], Any]:
        config = sweep(
            source,
            script,
            RandomParameterSampling(space, properties={"seed": seed}),
            metric=metric,
            primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
            max_total_runs=2,
            max_concurrent_runs=2,
        )
        run = Experiment(workspace, "random").submit(config)
        run.wait_for_completion()
        assert run.get_status() == "Finished"
        by_trial = run.get_hyperparameters()
        return [json.loads(by_trial[c.id]) for c in run.get_children()], run

    sklearn_space = {"--reg": loguniform(-3, 3), "--max_iter": randint(200)}
    first, run = sampled("train.py", sklearn_space, 7, "AUC")
    again, _ = sampled("train.py", sklearn_space, 7, "AUC")
    assert first == again  # the same seed draws the same configurations
    metrics = run.get_metrics()
    assert all(0.5 < m["AUC"] <= 1 for m in metrics.values())
    best = run.get_best_run_by_primary_metric()
    assert best is not None and metrics[best.id]["AUC"] == max(m["AUC"] for m in metrics.values())
    space = {"--x": uniform(-1, 1), "--k": randint(5), "--q": quniform(0, 10, 2), "--n": normal(0, 1)}
    seven, _ = sampled("score.py", space, 7, "loss")
    eight, _ = sampled("score.py", space, 8, "loss")
    assert seven != eight
    for values in seven + eight:
        assert -1 <= values["--x"] <= 1 and values["--k"] in range(5) and values["--q"] % 2 == 0


def test_bayesian_sweep_of_sklearn_script_finds_the_best_metric(workspace: Any, tmp_path: Path) -> None:
    source = write_source(tmp_path / "src", "train.py", SKLEARN_TRAIN)
    config = sweep(
        source,
        "train.py",
        BayesianParameterSampling({"--reg": loguniform(-5, 5)}, properties={"n_startup_trials": 2}),
        max_total_runs=4,
        max_concurrent_runs=2,
        policy=NoTerminationPolicy(),
    )
    run = Experiment(workspace, "bayes").submit(config)
    run.wait_for_completion()
    assert run.get_status() == "Finished"
    metrics = run.get_metrics()
    assert len(metrics) == 4 and all("AUC" in m for m in metrics.values())
    for values in map(json.loads, run.get_hyperparameters().values()):
        assert 0.0067 < values["--reg"] < 148.5  # exp(-5) .. exp(5)
    best = run.get_best_run_by_primary_metric()
    assert best is not None and metrics[best.id]["AUC"] == max(m["AUC"] for m in metrics.values())
    assert run.hyperdrive_config["sampling"]["sampling"] == "BayesianOptimization"


def test_max_duration_minutes_cancels_running_trials_and_ends_the_sweep(
    workspace: Any, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    source = write_source(tmp_path / "src", "epochs.py", EPOCHS)
    config = sweep(
        source,
        "epochs.py",
        GridParameterSampling({"--quality": choice(1.0, 2.0, 3.0, 4.0)}),
        metric="score",
        arguments=["--steps", "200", "--pause", "0.1", "--pid_dir", str(pids)],
        max_concurrent_runs=2,
        max_duration_minutes=0.05,
    )
    run = Experiment(workspace, "time-limit").submit(config)
    run.wait_for_completion()
    assert run.get_status() == "Finished"
    children = run.get_children()
    assert len(children) == 2  # the other two never started
    assert {c.get_status() for c in children} == {"Canceled"}
    assert all(len(c.get_metrics().get("score", [])) < 200 for c in children)
    started = [int(p.name.split("-")[1]) for p in pids.iterdir()]
    assert len(started) == 2 and all(process_gone(pid) for pid in started)


def test_cancel_stops_the_sweep_and_its_running_trials(workspace: Any, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    source = write_source(tmp_path / "src", "epochs.py", EPOCHS)
    config = sweep(
        source,
        "epochs.py",
        RandomParameterSampling({"--quality": uniform(0, 1)}),
        metric="score",
        arguments=["--steps", "200", "--pause", "0.1", "--pid_dir", str(pids)],
        max_total_runs=5,
        max_concurrent_runs=1,
    )
    run = Experiment(workspace, "cancel").submit(config)
    while not list(pids.iterdir()):
        time.sleep(0.05)
    run.cancel()
    assert run.get_status() == "Canceled"
    (child,) = run.get_children()
    assert child.get_status() == "Canceled"
    (pid_file,) = pids.iterdir()
    assert process_gone(int(pid_file.name.split("-")[1]))


# -- bad input -------------------------------------------------------------------------------------


def test_bayesian_sweep_refuses_an_early_termination_policy(tmp_path: Path) -> None:
    with pytest.raises(
        HyperDriveConfigError,
        match="Bayesian sampling does not support early termination: policy BanditPolicy",
    ):
        sweep(
            str(tmp_path),
            "train.py",
            BayesianParameterSampling({"--reg": uniform(0, 1)}),
            max_total_runs=4,
            policy=BanditPolicy(slack_factor=0.1),
        )


def test_grid_sampling_refuses_a_continuous_expression() -> None:
    with pytest.raises(
        HyperDriveConfigError,
        match=r"grid sampling takes choice expressions only; parameter '--lr' is uniform\(0.01, 0.1\)",
    ):
        GridParameterSampling({"--n": choice(1, 2), "--lr": uniform(0.01, 0.1)})


def test_unknown_parameter_expression_is_named() -> None:
    with pytest.raises(HyperDriveConfigError, match="parameter '--lr': unknown parameter expression 'gamma'"):
        RandomParameterSampling({"--lr": ["gamma", [1.0, 2.0]]})
    with pytest.raises(HyperDriveConfigError, match="parameter '--lr': 0.1 is not a parameter expression"):
        RandomParameterSampling({"--lr": 0.1})
    # Azure's serialised form of known expressions is read.
    space = RandomParameterSampling({"--lr": ["uniform", [0.01, 0.1]], "--n": ["choice", [[1, 2]]]})
    assert space.get_parameter_space() == {"--lr": ["uniform", [0.01, 0.1]], "--n": ["choice", [[1, 2]]]}
    assert repr(qlognormal(0, 1, 1)) == "qlognormal(0, 1, 1)"


def test_max_concurrent_runs_above_max_total_runs_is_clamped_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="airflow_mlw.hyperdrive.config"):
        config = sweep(
            str(tmp_path),
            "train.py",
            RandomParameterSampling({"--reg": uniform(0, 1)}),
            max_total_runs=3,
            max_concurrent_runs=8,
        )
    assert config.max_concurrent_runs == 3
    assert "max_concurrent_runs 8 is more than max_total_runs 3: it is set to 3" in caplog.text


def test_primary_metric_never_logged_fails_the_sweep_after_the_first_trial(
    workspace: Any, tmp_path: Path
) -> None:
    source = write_source(tmp_path / "src", "score.py", LOSS_ONLY)
    config = sweep(
        source,
        "score.py",
        GridParameterSampling({"--x": choice(1, 2, 3, 4)}),
        metric="accuracy",
        max_concurrent_runs=1,
    )
    run = Experiment(workspace, "no-metric").submit(config)
    with pytest.raises(
        ActivityFailedException,
        match=r"primary metric 'accuracy' was not logged by trial \S+_0 \(it logged: loss\)",
    ):
        run.wait_for_completion()
    assert run.get_status() == "Failed"
    assert len(run.get_children()) == 1  # said after the first trial, not at the end of four


def test_estimator_sweep_replaces_a_script_param_of_the_same_name(workspace: Any, tmp_path: Path) -> None:
    from airflow_mlw.train.estimator import Estimator

    source = write_source(tmp_path / "src", "score.py", LOSS_ONLY)
    estimator = Estimator(source, entry_script="score.py", script_params={"--x": 100, "--keep": "yes"})
    config = HyperDriveConfig(
        estimator=estimator,
        hyperparameter_sampling=GridParameterSampling({"x": choice(1, 2)}),  # no dashes: "--x", as Azure
        primary_metric_name="loss",
        primary_metric_goal=PrimaryMetricGoal.MINIMIZE,
    )
    run = Experiment(workspace, "estimator").submit(config)
    run.wait_for_completion()
    arguments = sorted(tuple(c.get_details()["runDefinition"]["arguments"]) for c in run.get_children())
    assert arguments == [("--keep", "yes", "--x", "1"), ("--keep", "yes", "--x", "2")]
    assert run.get_best_run_by_primary_metric().get_metrics() == {"loss": 1}  # type: ignore[union-attr]


def test_a_running_trials_metrics_arrive_live(workspace: Any, tmp_path: Path) -> None:
    source = write_source(tmp_path / "src", "epochs.py", EPOCHS)
    config = sweep(
        source,
        "epochs.py",
        GridParameterSampling({"--quality": choice(5.0)}),
        metric="score",
        arguments=["--steps", "300", "--pause", "0.05"],
    )
    run = Experiment(workspace, "live").submit(config)
    deadline = time.monotonic() + 60
    while True:
        children = run.get_children()
        live = run.get_metrics()[children[0].id].get("score") if children else None
        if isinstance(live, list) and len(live) >= 3:
            break
        assert time.monotonic() < deadline, "no live metric arrived"
        time.sleep(0.1)
    assert children[0].get_status() == "Running"
    assert live[:3] == [5.0, 5.01, 5.02]
    run.cancel()
    assert children[0].get_status() == "Canceled"
