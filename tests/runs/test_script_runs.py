"""Single script runs through a one-task Airflow DAG: local compute, metrics, files, failures."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Environment, Experiment, ScriptRunConfig
from airflow_mlw.core.compute import AmlCompute, ComputeTarget, ComputeTargetException, DockerCompute
from airflow_mlw.exceptions import MlwError

REPO = Path(__file__).resolve().parents[2]


def load_example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, REPO / "dags_examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_seed_estimator_on_local_compute(workspace: Any, tmp_path: Path) -> None:
    run = load_example("seed_estimator").main(workspace)
    assert run.get_status() == "Finished"
    metrics = run.get_metrics()
    assert metrics["Regularization Rate"] == 0.1
    assert 0.5 < metrics["Accuracy"] <= 1.0 and 0.5 < metrics["AUC"] <= 1.0
    assert run.get_file_names() == ["outputs/diabetes_model.pkl", "logs/driver_log.txt"]
    local = run.download_file("outputs/diabetes_model.pkl", str(tmp_path))
    assert Path(local).stat().st_size > 100
    assert "training_experiment" in workspace.experiments


def test_failing_script_reports_exit_code_and_stderr(workspace: Any, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "fail.py").write_text(
        "import sys\nprint('to stderr', file=sys.stderr)\nsys.exit(3)\n"
    )
    run = Experiment(workspace, "failing").submit(ScriptRunConfig(str(tmp_path / "src"), "fail.py"))
    assert run.get_status() == "Failed"
    with pytest.raises(MlwError, match="failed"):
        run.wait_for_completion()


def test_failure_message_names_exit_code_and_tail(
    workspace: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from airflow.sdk import DAG

    from airflow_mlw.operators.script import LocalScriptOperator
    from tests.airflow_harness import run_dag, task_states

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "fail.py").write_text(
        "import sys\nprint('boom: bad input', file=sys.stderr)\nsys.exit(3)\n"
    )
    with DAG("mlw_failing_script", schedule=None) as dag:
        LocalScriptOperator(
            task_id="s", source_directory=str(tmp_path / "src"), script="fail.py", workspace=workspace
        )
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {"s": "failed"}
    from airflow_mlw.execution.process import failure_message

    assert (
        failure_message("fail.py", 3, ["boom: bad input"])
        == "script fail.py exited with code 3; last stderr lines:\nboom: bad input"
    )


def test_missing_script_and_unknown_target_are_named(workspace: Any, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    experiment = Experiment(workspace, "bad")
    with pytest.raises(ComputeTargetException, match="compute target 'gpu-cluster' not found"):
        experiment.submit(ScriptRunConfig(str(tmp_path / "src"), "x.py", compute_target="gpu-cluster"))
    run = experiment.submit(ScriptRunConfig(str(tmp_path / "src"), "missing.py"))
    assert run.get_status() == "Failed"


def test_compute_targets_registry(workspace: Any) -> None:
    try:
        cluster = ComputeTarget(workspace=workspace, name="cpu-cluster")
    except ComputeTargetException:
        config = AmlCompute.provisioning_configuration(vm_size="STANDARD_DS11_V2", max_nodes=2)
        cluster = ComputeTarget.create(workspace, "cpu-cluster", config)
    cluster.wait_for_completion(show_output=True)
    assert (cluster.type, cluster.queue, cluster.pool, cluster.config["max_nodes"]) == (
        "AmlCompute",
        "cpu-cluster",
        "mlw-cpu-cluster",
        2,
    )
    ComputeTarget.create(workspace, "docker", DockerCompute.provisioning_configuration(mem_limit="1g"))
    assert sorted(workspace.compute_targets) == ["cpu-cluster", "docker", "local"]
    assert workspace.compute_targets["cpu-cluster"].type == "AmlCompute"
    with pytest.raises(ComputeTargetException, match="'docker' is a Docker, not a AmlCompute"):
        AmlCompute(workspace, "docker")
    with pytest.raises(ComputeTargetException, match="not found"):
        AmlCompute(workspace, "missing")


def test_run_context_outside_a_run_prints_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    from airflow_mlw.core import Run

    run = Run.get_context()
    run.log("accuracy", 0.91)
    assert "accuracy" in capsys.readouterr().out and run.id == "OfflineRun"
    assert Environment("x").name == "x"


def test_compute_sync_creates_cluster_pools(workspace: Any) -> None:
    from airflow.models.pool import Pool

    from airflow_mlw.compute import sync_pools
    from tests.airflow_harness import ensure_metadata_db

    ensure_metadata_db()
    ComputeTarget.create(workspace, "gpu-pool", AmlCompute.provisioning_configuration(max_nodes=3))
    assert sync_pools(workspace) == {"mlw-gpu-pool": 3}
    assert Pool.get_pool("mlw-gpu-pool").slots == 3


def test_in_process_runs_leave_no_task_context_behind() -> None:
    """``Experiment.submit`` in a notebook runs tasks in that process; afterwards, registrations
    made there must not be recorded as made by that task."""
    import os

    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG

    from airflow_mlw.runs.inprocess import run_dag

    seen: dict[str, str] = {}
    with DAG("mlw_ctx_leak", schedule=None) as dag:
        PythonOperator(task_id="t", python_callable=lambda: seen.update(os.environ))
    run_dag(dag)
    assert seen.get("AIRFLOW_CTX_TASK_ID") == "t"
    assert not [k for k in os.environ if k.startswith("AIRFLOW_CTX_")]
