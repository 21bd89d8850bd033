"""Issue 2 figures: import cost of airflow_mlw and DAG-parse cost of building a workspace.

Runs each side in fresh interpreters, alternating, and prints medians and differences:
- ``import airflow.sdk`` alone vs ``import airflow.sdk`` + airflow_mlw (short and façade names);
- parsing (DagBag) a DAG file with one task vs the same file that also builds a Workspace and a
  Datastore reference, each parse timed inside an interpreter that already imported Airflow, as
  Airflow's dag-processor does. Targets: < 0.3 s and < 10 ms.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from _report import report

ROUNDS = 9

IMPORT_BASE = "import time; t=time.perf_counter(); import airflow.sdk; print(time.perf_counter()-t)"
IMPORT_MLW = (
    "import time; t=time.perf_counter(); import airflow.sdk; import airflow_mlw; "
    "from airflow_mlw import Workspace; from airflow_mlw.core import Datastore; print(time.perf_counter()-t)"
)
DAG_BASE = """
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator
with DAG("bench_plain", schedule=None):
    EmptyOperator(task_id="t")
"""
DAG_MLW = """
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow_mlw.core import Workspace, Datastore
ws = Workspace.from_config()
store = Datastore(ws, "workspaceblobstore")
with DAG("bench_mlw", schedule=None):
    EmptyOperator(task_id="t")
"""
PARSE = textwrap.dedent("""
    import gc, sys, time
    from airflow.dag_processing.dagbag import DagBag
    from airflow.providers.standard.operators.empty import EmptyOperator
    gc.freeze()  # as Airflow's dag-processor manager does before it forks parsers
    t = time.perf_counter()
    bag = DagBag(dag_folder=sys.argv[1])
    elapsed = time.perf_counter() - t
    assert not bag.import_errors, bag.import_errors
    assert len(bag.dags) == 1
    print(elapsed)
""")


def timed(code: str, *args: str) -> float:
    # As deployed: byte-compiled modules (this machine sets PYTHONDONTWRITEBYTECODE for sessions).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def compare(
    label: str, base: tuple[str, ...], ours: tuple[str, ...], unit: float, unit_name: str
) -> tuple[float, float]:
    base_times, our_times = [], []
    for _ in range(ROUNDS):
        base_times.append(timed(*base))
        our_times.append(timed(*ours))
    b, o = statistics.median(base_times), statistics.median(our_times)
    print(
        f"{label:<48} baseline {b * unit:8.1f} {unit_name}  airflow_mlw {o * unit:8.1f} {unit_name}  "
        f"added {(o - b) * unit:7.1f} {unit_name}  ratio {o / b:.2f}"
    )
    return b, o


def main() -> None:
    import compileall

    import airflow_mlw

    compileall.compile_dir(str(Path(airflow_mlw.__file__).parent), quiet=1)
    home = tempfile.mkdtemp(prefix="mlw-bench-")
    os.environ["AIRFLOW_HOME"] = home
    folder = Path(home) / "dags"
    folder.mkdir()
    (folder / "plain.py").write_text(DAG_BASE)
    (folder / "mlw.py").write_text(DAG_MLW)
    b, o = compare("import (target: added < 300 ms)", (IMPORT_BASE,), (IMPORT_MLW,), 1000, "ms")
    report(
        "import airflow_mlw (short and façade names) after airflow.sdk, added time",
        f"{o * 1000:.0f} ms ({(o - b) * 1000:+.0f} ms)",
        f"{b * 1000:.0f} ms",
        o / b,
        "added < 300 ms",
        line="",
    )
    assert o - b < 0.3, "import target missed"
    b, o = compare(
        "DAG parse with a workspace (target: added < 10 ms)",
        (PARSE, str(folder / "plain.py")),
        (PARSE, str(folder / "mlw.py")),
        1000,
        "ms",
    )
    report(
        "DAG parse with a Workspace and a Datastore, added time",
        f"{o * 1000:.1f} ms ({(o - b) * 1000:+.1f} ms)",
        f"{b * 1000:.1f} ms",
        o / b,
        "added < 10 ms",
        line="",
    )
    registry = Path(home) / "mlw" / "registry.db"
    report(
        "registry created by parsing a DAG file",
        str(registry.exists()),
        "-",
        None,
        "False",
        line=f"registry created by parsing: {registry.exists()} (must be False)",
    )


if __name__ == "__main__":
    main()
