"""Issue 7 and 19 figures, side by side in one process:

- a fully reused re-run of a 20-step pipeline (its planning task skips every step) vs 20 chained
  EmptyOperators and vs 20 chained no-op PythonOperators, all with ``dag.test()`` (targets: at most
  10% more than either);
- computing the source-tree part of a reuse key for a 2,000-file, 200 MB source folder, unchanged
  (memo warm; target < 50 ms), next to the first, cold computation.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from _report import report


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="mlw-bench-reuse-"))
    os.environ["AIRFLOW_HOME"] = str(scratch / "airflow")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG

    from airflow_mlw.core import Workspace
    from airflow_mlw.datastores.checksums import ContentHashMemo
    from airflow_mlw.execution.reuse import source_tree
    from airflow_mlw.pipelines import Pipeline, PipelineData, PythonScriptStep
    from airflow_mlw.runs.inprocess import run_dag

    ws = Workspace.create("bench", registry_url=f"sqlite:///{scratch / 'registry.db'}")
    source = scratch / "src"
    source.mkdir()
    (source / "step.py").write_text(
        "import os, sys\nos.makedirs(sys.argv[1], exist_ok=True)\nopen(os.path.join(sys.argv[1], 'x'), 'w').write('x')\n"
    )

    def pipeline_dag() -> object:
        steps, previous = [], None
        for i in range(20):
            out = PipelineData(f"out{i}")
            inputs = [previous] if previous is not None else []
            steps.append(
                PythonScriptStep(
                    "step.py",
                    name=f"s{i}",
                    source_directory=str(source),
                    arguments=[out],
                    inputs=inputs,
                    outputs=[out],
                )
            )
            previous = out
        return Pipeline(ws, steps).to_dag("bench_reuse20")

    assert str(run_dag(pipeline_dag()).state) == "success"  # first run computes every step
    ours, base, python_base = [], [], []
    for round_ in range(3):
        dag = pipeline_dag()
        started = time.perf_counter()
        assert str(run_dag(dag).state) == "success"
        ours.append(time.perf_counter() - started)
        with DAG(f"bench_empty20_{round_}", schedule=None) as empty:
            previous = None
            for i in range(20):
                task = EmptyOperator(task_id=f"t{i}")
                if previous is not None:
                    previous >> task
                previous = task
        started = time.perf_counter()
        assert str(run_dag(empty).state) == "success"
        base.append(time.perf_counter() - started)
        with DAG(f"bench_python20_{round_}", schedule=None) as noop:
            previous = None
            for i in range(20):
                task = PythonOperator(task_id=f"t{i}", python_callable=lambda: None)
                if previous is not None:
                    previous >> task
                previous = task
        started = time.perf_counter()
        assert str(run_dag(noop).state) == "success"
        python_base.append(time.perf_counter() - started)
    o, b, p = statistics.median(ours), statistics.median(base), statistics.median(python_base)
    report(
        "fully reused 20-step re-run vs 20 EmptyOperators, time ratio",
        f"{o:.2f} s",
        f"{b:.2f} s",
        o / b,
        "<= 1.10",
        line=f"fully reused 20-step re-run vs 20 EmptyOperators: {o:.2f}s vs {b:.2f}s, ratio {o / b:.2f} [<= 1.10]",
    )
    report(
        "fully reused 20-step re-run vs 20 no-op PythonOperators, time ratio",
        f"{o:.2f} s",
        f"{p:.2f} s",
        o / p,
        "<= 1.1",
        line=f"  vs 20 no-op PythonOperators (run through the task runner, unlike EmptyOperator): {p:.2f}s, ratio {o / p:.2f} [<= 1.1]",
    )

    tree = scratch / "tree"
    block = os.urandom(1 << 20)
    for i in range(2000):
        path = tree / f"pkg{i % 20}" / f"m{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        size = 100_000 if i % 10 else 100_000 + (i % 7)
        path.write_bytes((block[i % 1000 :] + block)[:size])
    total = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
    memo = ContentHashMemo(scratch / "memo.db")
    started = time.perf_counter()
    source_tree(tree, memo)
    cold = time.perf_counter() - started
    warm = []
    for _ in range(5):
        started = time.perf_counter()
        source_tree(tree, memo)
        warm.append(time.perf_counter() - started)
    fresh_process = ContentHashMemo(scratch / "memo.db")  # persisted memo, as a new task sees it
    started = time.perf_counter()
    source_tree(tree, fresh_process)
    persisted = time.perf_counter() - started
    report(
        f"source-tree key part, 2,000 files / {total / 1e6:.0f} MB unchanged: memo warm vs cold",
        f"{statistics.median(warm) * 1000:.1f} ms (new process {persisted * 1000:.1f} ms)",
        f"{cold * 1000:.0f} ms",
        statistics.median(warm) / cold,
        "< 50 ms",
        line=f"source-tree key part, 2,000 files / {total / 1e6:.0f} MB: cold {cold * 1000:.0f} ms, "
        f"warm {statistics.median(warm) * 1000:.1f} ms, new process (persisted memo) {persisted * 1000:.1f} ms [< 50 ms]",
    )


if __name__ == "__main__":
    main()
