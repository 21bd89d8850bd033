"""Issue 18 figures: HyperDrive sweeps in-process.

1. Per-trial overhead of a 20-trial sweep of a no-op script (one trial at a time) vs the same 20
   configurations through Optuna's ``study.optimize`` in-process: with a no-op objective, and
   with an objective that runs the same script as a subprocess (what a trial needs at least).
   Target: overhead <= 0.5 s per trial over the in-process baseline.
2. Best value found by Bayesian (TPE) vs random sampling at 30 trials on a known 4-parameter
   function (the 4-d Rosenbrock function over [-2, 4]^4, minimised; its minimum is 0), median over 5 seeds, each
   trial a real script run. Target: Bayesian better.
3. Wall time saved by BanditPolicy on a sweep where half the trials are bad (8 trials, 2 at a
   time, each logging its metric 10 times over ~2 s) vs the same sweep without a policy.
   Target: >= 30 % saved.
"""

from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _report import report

NOOP = """\
import argparse
from airflow_mlw.core import Run
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
args = parser.parse_args()
Run.get_context().log("value", args.x)
"""

ROSENBROCK = """\
import argparse
from airflow_mlw.core import Run
parser = argparse.ArgumentParser()
for name in ("a", "b", "c", "d"):
    parser.add_argument(f"--{name}", type=float)
args = parser.parse_args()
x = [args.a, args.b, args.c, args.d]  # the minimum, 0, at (1, 1, 1, 1)
value = sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3))
Run.get_context().log("value", value)
"""

EPOCHS = """\
import argparse, time
from airflow_mlw.core import Run
parser = argparse.ArgumentParser()
parser.add_argument("--quality", type=float)
args = parser.parse_args()
run = Run.get_context()
for step in range(10):
    time.sleep(0.2)
    run.log("score", args.quality + 0.01 * step)
"""


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="mlw-bench-hyperdrive-"))
    os.environ.setdefault("AIRFLOW_HOME", str(scratch / "airflow"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    logging.disable(logging.INFO)
    import optuna

    from airflow_mlw.core import Experiment, ScriptRunConfig, Workspace
    from airflow_mlw.train.hyperdrive import (
        BanditPolicy,
        BayesianParameterSampling,
        GridParameterSampling,
        HyperDriveConfig,
        NoTerminationPolicy,
        PrimaryMetricGoal,
        RandomParameterSampling,
        choice,
        uniform,
    )

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ws = Workspace.create("bench", registry_url=f"sqlite:///{scratch / 'registry.db'}")
    source = scratch / "src"
    source.mkdir()
    for name, text in (("noop.py", NOOP), ("rosenbrock.py", ROSENBROCK), ("epochs.py", EPOCHS)):
        (source / name).write_text(text)

    def sweep(
        script: str, sampling: object, metric: str, goal: object, **options: object
    ) -> tuple[float, object]:
        config = HyperDriveConfig(
            run_config=ScriptRunConfig(str(source), script),
            hyperparameter_sampling=sampling,
            primary_metric_name=metric,
            primary_metric_goal=goal,
            **options,
        )
        start = time.perf_counter()
        run = Experiment(ws, "bench").submit(config)
        run.wait_for_completion()
        return time.perf_counter() - start, run

    # 1. per-trial overhead -------------------------------------------------------------------------
    trials = 20
    space = {"--x": uniform(0, 1)}
    sweep(
        "noop.py", RandomParameterSampling(space), "value", PrimaryMetricGoal.MAXIMIZE, max_total_runs=2
    )  # warm-up
    ours, run = sweep(
        "noop.py",
        RandomParameterSampling(space, properties={"seed": 1}),
        "value",
        PrimaryMetricGoal.MAXIMIZE,
        max_total_runs=trials,
        max_concurrent_runs=1,
    )
    assert len(run.get_children()) == trials  # type: ignore[attr-defined]
    configurations = [
        {"x": float(value)}
        for value in (json_value(h) for h in run.get_hyperparameters().values())  # type: ignore[attr-defined]
    ]

    def baseline(objective: object) -> float:
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
        for configuration in configurations:
            study.enqueue_trial(configuration)
        start = time.perf_counter()
        study.optimize(objective, n_trials=trials)  # type: ignore[arg-type]
        return time.perf_counter() - start

    in_process = baseline(lambda trial: trial.suggest_float("x", 0, 1))
    script = str(source / "noop.py")
    as_process = baseline(
        lambda trial: (
            subprocess.run(
                [sys.executable, script, "--x", str(trial.suggest_float("x", 0, 1))],
                check=True,
                stdout=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
            ).returncode
        )
    )
    overhead = (ours - in_process) / trials
    report(
        "hyperdrive: per-trial overhead, 20-trial sweep of a no-op script vs Optuna study.optimize in-process",
        f"{overhead:.3f} s/trial ({ours:.2f} s for {trials})",
        f"{in_process / trials * 1000:.2f} ms/trial ({in_process:.3f} s)",
        None,
        "overhead <= 0.5 s",
    )
    report(
        "hyperdrive: 20-trial sweep of a no-op script vs study.optimize running it as a subprocess, time ratio",
        f"{ours:.2f} s ({ours / trials:.3f} s/trial)",
        f"{as_process:.2f} s ({as_process / trials:.3f} s/trial)",
        ours / as_process,
        "reported",
    )

    # 2. Bayesian vs random -------------------------------------------------------------------------
    box = {f"--{n}": uniform(-2.0, 4.0) for n in ("a", "b", "c", "d")}
    best: dict[str, list[float]] = {"bayes": [], "random": []}
    for seed in range(5):
        for kind, sampling in (
            ("bayes", BayesianParameterSampling(box, properties={"seed": seed, "n_startup_trials": 10})),
            ("random", RandomParameterSampling(box, properties={"seed": seed})),
        ):
            _, run = sweep(
                "rosenbrock.py",
                sampling,
                "value",
                PrimaryMetricGoal.MINIMIZE,
                max_total_runs=30,
                max_concurrent_runs=1,
            )
            top = run.get_children_sorted_by_primary_metric(top=1)  # type: ignore[attr-defined]
            best[kind].append(float(top[0]["best_primary_metric"]))
    bayes, rand = statistics.median(best["bayes"]), statistics.median(best["random"])
    report(
        "hyperdrive: best value at 30 trials on a 4-d Rosenbrock (min 0), Bayesian vs random, median of 5 seeds",
        f"{bayes:.2f} (seeds: {', '.join(f'{v:.1f}' for v in best['bayes'])})",
        f"{rand:.2f} (seeds: {', '.join(f'{v:.1f}' for v in best['random'])})",
        rand / bayes if bayes else None,
        "Bayesian better (ratio random/Bayesian > 1)",
    )

    # 3. BanditPolicy wall time ---------------------------------------------------------------------
    qualities = choice(1.0, 0.0, 1.1, 0.1, 1.2, 0.2, 1.3, 0.3)  # half bad
    times = {}
    for name, policy in (
        ("bandit", BanditPolicy(slack_factor=0.2, delay_evaluation=2)),
        ("none", NoTerminationPolicy()),
    ):
        elapsed, run = sweep(
            "epochs.py",
            GridParameterSampling({"--quality": qualities}),
            "score",
            PrimaryMetricGoal.MAXIMIZE,
            max_concurrent_runs=2,
            policy=policy,
        )
        statuses = [c.get_status() for c in run.get_children()]  # type: ignore[attr-defined]
        times[name] = (elapsed, statuses.count("Canceled"))
    saved = 1 - times["bandit"][0] / times["none"][0]
    report(
        "hyperdrive: wall time of an 8-trial sweep, half the trials bad, BanditPolicy vs no policy",
        f"{times['bandit'][0]:.2f} s ({times['bandit'][1]} trials canceled, {saved:.0%} saved)",
        f"{times['none'][0]:.2f} s",
        times["bandit"][0] / times["none"][0],
        ">= 30 % saved (ratio <= 0.70)",
    )


def json_value(text: str) -> float:
    import json

    return float(json.loads(text)["--x"])


if __name__ == "__main__":
    main()
