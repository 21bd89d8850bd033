"""RegisterModelOperator and DeployModelOperator in real DAG runs; the example DAG trains, registers
and deploys a scikit-learn model, and parses without touching the registry or Docker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Model, Webservice
from airflow_mlw.core.model import InferenceConfig
from tests.airflow_harness import run_dag, task_states, xcom_of
from tests.models.conftest import scoring_source
from tests.pipelines.test_reuse import build, scripts  # noqa: F401
from tests.runs.test_script_runs import load_example


def register_and_deploy_dag(workspace: Any, weights: Path, r2: float, source: Path) -> Any:
    from airflow.sdk import DAG

    from airflow_mlw.operators.model import DeployModelOperator, RegisterModelOperator

    with DAG("mlw_register_and_deploy", schedule=None) as dag:
        register = RegisterModelOperator(
            task_id="register",
            model_name="linear",
            model_path=str(weights),
            properties={"r2": r2},
            workspace=workspace,
        )
        deploy = DeployModelOperator(
            task_id="deploy",
            service_name="linear-svc",
            model_name="linear",
            model_version="{{ ti.xcom_pull(task_ids='register')['version'] }}",
            metric="r2",
            inference_config=InferenceConfig("score.py", source_directory=source),
            workspace=workspace,
        )
        register >> deploy
    return dag


def test_a_new_version_is_deployed_only_when_its_metric_wins(
    workspace: Any, deployed: list[str], tmp_path: Path
) -> None:
    source = scoring_source(tmp_path / "src")
    weights = tmp_path / "weights.json"
    deployed.append("linear-svc")
    decisions = []
    for factor, r2 in ((1.0, 0.5), (2.0, 0.4), (3.0, 0.9), (3.0, 0.9)):
        weights.write_text(json.dumps([factor]))
        dag_run = run_dag(register_and_deploy_dag(workspace, weights, r2, source))
        assert task_states(dag_run) == {"register": "success", "deploy": "success"}
        decision = xcom_of(dag_run, "deploy")
        decisions.append((xcom_of(dag_run, "register")["version"], decision["deployed"], decision["reason"]))
    assert decisions == [
        (1, True, "no service yet: deploying linear:1"),
        (2, False, "linear:2 does not win: r2 0.4 vs 0.5 of deployed linear:1"),
        (3, True, "linear:3 wins: r2 0.9 vs 0.5 of deployed linear:1"),
        (3, False, "it already serves linear:3"),
    ]
    service = Webservice(workspace, "linear-svc")
    assert service.run({"data": [[2]]}) == {"version": 3, "scores": [6.0]}


def test_the_example_dag_parses_without_io(monkeypatch: pytest.MonkeyPatch) -> None:
    # Any registry access would fail: nothing listens on port 1.
    monkeypatch.setenv("AIRFLOW__MLW__REGISTRY_URL", "postgresql+psycopg2://mlw@127.0.0.1:1/none")
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    dag = load_example("model_deploy").dag
    assert sorted(dag.task_ids) == ["deploy_if_better", "register", "training.train"]


def test_the_example_dag_trains_registers_and_deploys_a_scikit_learn_model(
    workspace: Any, deployed: list[str]
) -> None:
    example = load_example("model_deploy")
    deployed.append(example.SERVICE)
    first = run_dag(example.build_dag(workspace))
    assert task_states(first) == {
        "training.train": "success",
        "register": "success",
        "deploy_if_better": "success",
    }
    model = Model(workspace, "diabetes-model")
    assert model.version == 1 and 0.5 < model.get_metrics()["AUC"] <= 1.0
    assert model.tags == {"Training context": "Pipeline"}
    service = Webservice(workspace, example.SERVICE)
    patients = {"data": [[6, 182, 40, 29, 167, 42.11, 1.975, 74], [11, 73, 60, 31, 340, 18.17, 0.282, 30]]}
    assert json.loads(service.run(json.dumps(patients))) == ["diabetic", "not-diabetic"]
    # Nothing changed: the step is reused, the same content is the same version, the service stays.
    second = run_dag(example.build_dag(workspace))
    assert xcom_of(second, "register")["version"] == 1
    assert xcom_of(second, "deploy_if_better")["reason"] == "it already serves diabetes-model:1"


def test_a_model_is_registered_from_a_step_the_planning_task_reused(
    workspace: Any,
    scripts: Path,  # noqa: F811
) -> None:
    """The second run's planning task reuses the training step (it never runs on a worker): the
    registration after it reads the step's result from the plan and registers the reused run's model."""
    from airflow_mlw.operators.model import RegisterModelOperator

    def dag() -> Any:
        dag = build(workspace, scripts).to_dag("mlw_register_after_reuse")
        with dag:
            register = RegisterModelOperator(
                task_id="register",
                model_name="reused-model",
                step_task_id="train",
                model_path="model.txt",
                trigger_rule="none_failed",  # as the README says for tasks added after to_dag
                workspace=workspace,
            )
        dag.get_task("train") >> register
        return dag

    first, second = run_dag(dag()), run_dag(dag())
    assert task_states(first) == {"prep": "success", "train": "success", "register": "success"}
    assert task_states(second) == {"prep": "skipped", "train": "skipped", "register": "success"}
    assert xcom_of(second, "mlw_plan")["reused"] == ["prep", "train"]
    made, again = xcom_of(first, "register"), xcom_of(second, "register")
    assert again["run_id"] == made["run_id"], "the model of a reused step is that of the run it reused"
    assert (again["version"], again["fingerprint"]) == (made["version"], made["fingerprint"])
    model = Model(workspace, "reused-model")
    assert model.run.get_metrics() == {"alpha": 0.1}
    assert Path(model.download(str(Path(workspace.settings.home) / "got"))).read_text() == "x0.1"
