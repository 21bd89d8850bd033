"""Issue 15 figures, side by side in one process:

- ``run.log`` of 10,000 scalars inside a script (the in-script ``Run``, one JSON line per call,
  flushed so a SIGKILLed script loses nothing) vs a plain loop appending the same JSON lines to a
  local file it keeps open (target <= 3x);
- ``Experiment.start_logging()`` -> ``log`` -> ``complete()`` of an interactive run on the embedded
  SQLite registry (target < 200 ms), next to opening, writing and closing a local file.
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

METRICS = 10_000
ROUNDS = 5
IN_SCRIPT = """
import sys, time
from airflow_mlw.run import Run
run = Run({"run_id": "bench", "metrics_file": sys.argv[1]})
t = time.perf_counter()
for i in range(int(sys.argv[2])):
    run.log("loss", i * 0.001)
print(time.perf_counter() - t)
"""
PLAIN = """
import json, sys, time
t = time.perf_counter()
with open(sys.argv[1], "a", encoding="utf-8") as handle:
    for i in range(int(sys.argv[2])):
        handle.write(json.dumps({"kind": "scalar", "name": "loss", "value": i * 0.001, "time": time.time()}) + "\\n")
        handle.flush()
print(time.perf_counter() - t)
"""


def timed(code: str, scratch: Path, repo: Path) -> float:
    target = scratch / f"metrics-{time.monotonic_ns()}.jsonl"
    out = subprocess.run(
        [sys.executable, "-c", code, str(target), str(METRICS)],
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        check=True,
    )
    lines = target.read_text().splitlines()
    assert len(lines) == METRICS, len(lines)
    return float(out.stdout.strip())


def main() -> None:
    repo = Path(__file__).resolve().parent.parent
    scratch = Path(tempfile.mkdtemp(prefix="mlw-bench-runs-"))
    ours = statistics.median(timed(IN_SCRIPT, scratch, repo) for _ in range(ROUNDS))
    plain = statistics.median(timed(PLAIN, scratch, repo) for _ in range(ROUNDS))
    report(
        f"run.log x{METRICS} in a script vs appending the same JSON lines to a file",
        f"{ours * 1000:.0f} ms",
        f"{plain * 1000:.0f} ms",
        ours / plain,
        "<= 3",
    )

    os.environ["AIRFLOW_HOME"] = str(scratch / "airflow")
    from airflow_mlw.core import Experiment, Workspace

    ws = Workspace.create("bench", registry_url=f"sqlite:///{scratch / 'registry.db'}")
    experiment = Experiment(ws, "interactive")
    experiment.start_logging().complete()  # registry migrated, engine warm
    interactive, local = [], []
    for _ in range(ROUNDS * 4):
        t = time.perf_counter()
        run = experiment.start_logging()
        run.log("alpha", 0.1)
        run.complete()
        interactive.append(time.perf_counter() - t)
        t = time.perf_counter()
        with open(scratch / "one.json", "w") as handle:
            json.dump({"alpha": 0.1}, handle)
        local.append(time.perf_counter() - t)
    median = statistics.median(interactive)
    report(
        "start_logging -> log -> complete (interactive run, SQLite registry)",
        f"{median * 1000:.1f} ms",
        f"{statistics.median(local) * 1000:.2f} ms (write a local file)",
        None,
        "< 200 ms",
    )


if __name__ == "__main__":
    main()
