"""``mlflow.log_*`` in a script on Docker compute: the image gets the MLflow client from the
environment's ``azureml-mlflow`` pin, the mounted runtime folder gives it the ``mlw://`` plugins, and
what the script logs lands in its run without Airflow or the registry in the image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")

from airflow_mlw.core import Environment, Experiment, ScriptRunConfig  # noqa: E402
from airflow_mlw.core.compute import ComputeTarget, DockerCompute  # noqa: E402
from airflow_mlw.core.conda_dependencies import CondaDependencies  # noqa: E402

SCRIPT = """
import sys
import mlflow
from pathlib import Path

Path("summary.txt").write_text("in a container")
with mlflow.start_run():
    mlflow.log_metric("accuracy", 0.8)
    mlflow.log_metric("accuracy", 0.9)
    mlflow.log_param("kernel", "rbf")
    mlflow.set_tag("where", "docker")
    mlflow.log_artifact("summary.txt", "reports")
    with mlflow.start_run(nested=True, run_name="inner"):
        mlflow.log_metric("inner_loss", 0.1)
print("registry code loaded:", sorted(m for m in ("airflow", "sqlalchemy") if m in sys.modules), file=sys.stderr)
"""


@pytest.mark.docker
def test_mlflow_in_a_docker_image_lands_in_the_run(
    workspace: Any, docker_engine: Any, base_image: str, tmp_path: Path
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(SCRIPT)
    target = ComputeTarget.create(workspace, "docker-mlflow", DockerCompute.provisioning_configuration())
    env = Environment("mlflow-in-docker")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["azureml-mlflow"])
    config = ScriptRunConfig(str(tmp_path / "src"), "train.py", compute_target=target, environment=env)
    run = Experiment(workspace, "mlflow-docker").submit(config)
    run.wait_for_completion(show_output=True)
    assert run.get_status() == "Finished"
    assert "registry code loaded: []" in run.driver_output()
    assert run.get_metrics() == {"accuracy": [0.8, 0.9]}
    assert run.get_properties() == {"azureml.param.kernel": "rbf"}
    assert run.get_tags()["where"] == "docker"
    assert run.get_file_names() == ["reports/summary.txt", "logs/driver_log.txt"]
    assert (
        Path(run.download_file("reports/summary.txt", str(tmp_path / "s.txt"))).read_text()
        == "in a container"
    )
    (child,) = run.get_children()
    assert (child.name, child.get_status(), child.get_metrics()) == ("inner", "Finished", {"inner_loss": 0.1})
