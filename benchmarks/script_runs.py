"""Issue 5 figures, side by side in one process (Airflow metadata DB in a temp AIRFLOW_HOME):

- a second ``env.build()`` of an unchanged spec: seconds and Docker build calls (target < 0.5 s, 0 calls);
- a trivial script on Docker compute (``Experiment.submit``) vs a plain ``DockerOperator`` running
  the same command in the same image, both as one-task DAG runs (target <= 1.5x);
- the same script on local compute vs a ``BashOperator`` running ``python script.py`` (target <= 1.2x).
Starts the machine's Docker engine when it is not running and builds the base image when missing
(``scripts/build-base-image.sh``), as the tests do.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _report import report, with_docker_engine  # noqa: E402

ROUNDS = 5


def measure() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="mlw-bench-runs-"))
    os.environ["AIRFLOW_HOME"] = str(scratch / "airflow")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.providers.docker.operators.docker import DockerOperator
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG

    from airflow_mlw.core import Environment, Experiment, ScriptRunConfig, Workspace
    from airflow_mlw.core.compute import ComputeTarget, DockerCompute
    from airflow_mlw.environments import docker_build
    from airflow_mlw.runs.inprocess import run_dag

    ws = Workspace.create("bench", registry_url=f"sqlite:///{scratch / 'registry.db'}")
    source = scratch / "src"
    source.mkdir()
    (source / "hello.py").write_text("print('hello')\n")

    env = Environment.get(ws, "MLW-minimal")
    image = env.build(ws)
    calls = []
    original = docker_build._build
    docker_build._build = lambda *a, **k: calls.append(a) or original(*a, **k)  # type: ignore[assignment]
    started = time.perf_counter()
    env.build(ws)
    second = time.perf_counter() - started
    docker_build._build = original  # type: ignore[assignment]
    report(
        "second env.build() of an unchanged spec",
        f"{second * 1000:.0f} ms, {len(calls)} build calls",
        "-",
        None,
        "< 500 ms, 0 calls",
        line=f"second env.build() of an unchanged spec: {second * 1000:.0f} ms, {len(calls)} build calls [< 500 ms, 0]",
    )

    ComputeTarget.create(ws, "docker", DockerCompute.provisioning_configuration())

    def ours(target: str, environment: Environment) -> float:
        started = time.perf_counter()
        run = Experiment(ws, "bench").submit(
            ScriptRunConfig(str(source), "hello.py", compute_target=target, environment=environment)
        )
        elapsed = time.perf_counter() - started
        assert run.get_status() == "Finished", run.get_status()
        return elapsed

    def plain(index: int, make_task) -> float:  # type: ignore[no-untyped-def]
        with DAG(f"bench_plain_{index}_{time.monotonic_ns()}", schedule=None) as dag:
            make_task()
        started = time.perf_counter()
        dag_run = run_dag(dag)
        elapsed = time.perf_counter() - started
        assert str(dag_run.state) == "success"
        return elapsed

    docker_ours, docker_plain, local_ours, local_plain = [], [], [], []
    local_env = Environment("bench-local")
    for i in range(ROUNDS):
        docker_plain.append(
            plain(
                i,
                lambda: DockerOperator(
                    task_id="t",
                    image=image,
                    command=["python", "-c", "print('hello')"],
                    auto_remove="success",
                    mount_tmp_dir=False,
                ),
            )
        )
        docker_ours.append(ours("docker", env))
        local_plain.append(
            plain(
                i, lambda: BashOperator(task_id="t", bash_command=f"cd {source} && {sys.executable} hello.py")
            )
        )
        local_ours.append(ours("local", local_env))
    for label, o, b, target in (
        ("Docker compute vs plain DockerOperator", docker_ours, docker_plain, "<= 1.5"),
        ("local compute vs BashOperator", local_ours, local_plain, "<= 1.2"),
    ):
        mo, mb = statistics.median(o), statistics.median(b)
        report(
            f"{label}, one-task DAG run, time ratio",
            f"{mo:.2f} s",
            f"{mb:.2f} s",
            mo / mb,
            target,
            line=f"{label:<40} airflow_mlw {mo:5.2f}s  baseline {mb:5.2f}s  ratio {mo / mb:.2f} [{target}]",
        )


if __name__ == "__main__":
    with_docker_engine(measure)
