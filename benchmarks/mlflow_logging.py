"""Issue 20 figures (MLflow tracking into runs), side by side, each in its own interpreter:

- inside a script: ``mlflow.log_metric`` x2,000 through the ``mlw://`` store's script side (one
  JSON line per call through the run context) vs the same calls into MLflow's own local file store
  (``file:``, a folder per run), and vs ``run.log`` x2,000, the project's own call (what MLflow's
  client costs around the store);
- in a notebook: ``mlflow.log_metric`` x200 into an active MLflow run (the registry side, the
  embedded SQLite registry) vs ``run.log`` x200 on an interactive run of ``start_logging``.

Only the logging loops are timed (imports and run start-up are not).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _report import report

ROUNDS = 3
IN_SCRIPT_CALLS = 2_000
NOTEBOOK_CALLS = 200
SCRIPT_MLFLOW = """
import sys, time
import mlflow
mlflow.start_run()
t = time.perf_counter()
for i in range(int(sys.argv[1])):
    mlflow.log_metric("loss", i * 0.001)
print(time.perf_counter() - t)
"""
SCRIPT_RUN_LOG = """
import sys, time
from airflow_mlw.core import Run
run = Run.get_context()
t = time.perf_counter()
for i in range(int(sys.argv[1])):
    run.log("loss", i * 0.001)
print(time.perf_counter() - t)
"""
NOTEBOOK_MLFLOW = """
import os, sys, time
import mlflow
from airflow_mlw.core import Workspace
ws = Workspace.create("bench", registry_url=os.environ["BENCH_REGISTRY"], exist_ok=True)
mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
mlflow.set_experiment("bench-mlflow")
with mlflow.start_run():
    t = time.perf_counter()
    for i in range(int(sys.argv[1])):
        mlflow.log_metric("loss", i * 0.001)
    print(time.perf_counter() - t)
"""
NOTEBOOK_RUN_LOG = """
import os, sys, time
from airflow_mlw.core import Experiment, Workspace
ws = Workspace.create("bench", registry_url=os.environ["BENCH_REGISTRY"], exist_ok=True)
with Experiment(ws, "bench-start-logging").start_logging() as run:
    t = time.perf_counter()
    for i in range(int(sys.argv[1])):
        run.log("loss", i * 0.001)
    print(time.perf_counter() - t)
"""


def timed(code: str, calls: int, env: dict[str, str], metrics_file: Path | None = None) -> float:
    if metrics_file is not None:
        metrics_file.write_text("")
    out = subprocess.run(
        [sys.executable, "-c", code, str(calls)], env=env, capture_output=True, text=True, check=True
    )
    if metrics_file is not None:
        assert len(metrics_file.read_text().splitlines()) == calls, "every call is one line"
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from airflow_mlw.runtime import mlflow_environment, runtime_path

    scratch = Path(tempfile.mkdtemp(prefix="mlw-bench-mlflow-"))
    metrics = scratch / "metrics.jsonl"
    context = scratch / "context.json"
    context.write_text(
        json.dumps(
            {
                "run_id": "bench0000",
                "workspace": "bench",
                "experiment": "bench",
                "metrics_file": str(metrics),
                "outputs_dir": str(scratch / "outputs"),
                "artifacts_dir": str(scratch / "artifacts"),
            }
        )
    )
    # As a step starts a script: the runtime folder on PYTHONPATH, the run context, MLflow's variables.
    script_env = {
        **os.environ,
        "PYTHONPATH": str(runtime_path()),
        "MLW_RUN_CONTEXT": str(context),
        **mlflow_environment("bench", "bench0000", "bench"),
    }
    file_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
        "MLFLOW_TRACKING_URI": (scratch / "mlruns").as_uri(),
        "MLFLOW_ALLOW_FILE_STORE": "true",
    }
    ours = statistics.median(
        timed(SCRIPT_MLFLOW, IN_SCRIPT_CALLS, script_env, metrics) for _ in range(ROUNDS)
    )
    files = statistics.median(timed(SCRIPT_MLFLOW, IN_SCRIPT_CALLS, file_env) for _ in range(ROUNDS))
    base = statistics.median(
        timed(SCRIPT_RUN_LOG, IN_SCRIPT_CALLS, script_env, metrics) for _ in range(ROUNDS)
    )
    report(
        f"mlflow.log_metric x{IN_SCRIPT_CALLS} inside a script: mlw:// vs MLflow's own file store",
        f"{ours * 1000:.0f} ms",
        f"{files * 1000:.0f} ms",
        ours / files,
        "<= 1.5",
    )
    report(
        f"mlflow.log_metric x{IN_SCRIPT_CALLS} inside a script (mlw://) vs run.log x{IN_SCRIPT_CALLS}",
        f"{ours * 1000:.0f} ms",
        f"{base * 1000:.0f} ms",
        ours / base,
        "- (MLflow's client)",
    )

    notebook_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
        "AIRFLOW_HOME": str(scratch / "airflow"),
        "BENCH_REGISTRY": f"sqlite:///{scratch / 'registry.db'}",
    }
    timed(NOTEBOOK_RUN_LOG, 1, notebook_env)  # registry migrated once
    ours = statistics.median(timed(NOTEBOOK_MLFLOW, NOTEBOOK_CALLS, notebook_env) for _ in range(ROUNDS))
    base = statistics.median(timed(NOTEBOOK_RUN_LOG, NOTEBOOK_CALLS, notebook_env) for _ in range(ROUNDS))
    report(
        f"mlflow.log_metric x{NOTEBOOK_CALLS} in a notebook (SQLite registry) vs start_logging run.log x{NOTEBOOK_CALLS}",
        f"{ours * 1000:.0f} ms",
        f"{base * 1000:.0f} ms",
        ours / base,
        "<= 2",
    )


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
