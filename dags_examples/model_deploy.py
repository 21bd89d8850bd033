"""Train, register, deploy if better: a scikit-learn model trained by a ``PythonScriptStep``, registered
with ``RegisterModelOperator`` and served by ``DeployModelOperator`` only when its AUC beats the
deployed version's.

As a DAG file it reads nothing at parse time (no registry, no Docker). ``python
dags_examples/model_deploy.py`` runs it once in this process and scores two patients.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from airflow.sdk import DAG

from airflow_mlw.core import Workspace
from airflow_mlw.core.model import InferenceConfig
from airflow_mlw.core.runconfig import RunConfiguration
from airflow_mlw.core.webservice import LocalWebservice
from airflow_mlw.environments.spec import curated_environment
from airflow_mlw.operators.model import DeployModelOperator, RegisterModelOperator
from airflow_mlw.pipeline.core import Pipeline
from airflow_mlw.pipeline.steps import PythonScriptStep

HERE = Path(__file__).resolve().parent
SERVICE = "diabetes-service"


def build_dag(
    ws: Workspace | None = None, port: int | None = None, dag_id: str = "mlw_train_and_deploy"
) -> DAG:
    ws = ws or Workspace.from_config()
    sklearn = curated_environment("MLW-sklearn")  # the curated spec, without a registry lookup
    run_config = RunConfiguration()
    run_config.environment = sklearn
    train = PythonScriptStep(
        name="train",
        source_directory=str(HERE / "experiment_folder"),
        script_name="training_script.py",
        arguments=["--reg_rate", 0.1],
        runconfig=run_config,
    )
    with DAG(dag_id, schedule=None, tags=["mlw", "models"]) as dag:
        training = Pipeline(workspace=ws, steps=[train]).as_task_group("training")
        register = RegisterModelOperator(
            task_id="register",
            model_name="diabetes-model",
            step_task_id="training.train",
            model_path="outputs/diabetes_model.pkl",
            tags={"Training context": "Pipeline"},
            workspace=ws,
        )
        deploy = DeployModelOperator(
            task_id="deploy_if_better",
            service_name=SERVICE,
            model_name="diabetes-model",
            model_version="{{ ti.xcom_pull(task_ids='register')['version'] }}",
            metric="AUC",
            inference_config=InferenceConfig(
                "score_diabetes.py", source_directory=HERE / "scoring", environment=sklearn
            ),
            deployment_config=LocalWebservice.deploy_configuration(port=port),
            workspace=ws,
        )
        training >> register >> deploy
    return dag


dag = build_dag()


def main(ws: Workspace | None = None) -> Any:
    from airflow_mlw.core import Webservice
    from airflow_mlw.runs.inprocess import run_dag

    ws = ws or Workspace.from_config()
    dag_run = run_dag(build_dag(ws))
    print(f"DAG run {dag_run.run_id}: {dag_run.state}")
    service = Webservice(ws, SERVICE)
    patients = {"data": [[6, 182, 40, 29, 167, 42.11, 1.975, 74], [11, 73, 60, 31, 340, 18.17, 0.282, 30]]}
    print(f"{service.name} ({service.scoring_uri}) serves {[m.id for m in service.models]}")
    print("predictions:", json.loads(service.run(json.dumps(patients))))
    return service


if __name__ == "__main__":
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    main()
