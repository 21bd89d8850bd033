"""DP-100 seed: the three ways to make an environment, then an Estimator run on local compute.

Ported from ``azureml`` by replacing the package name; run it with ``python dags_examples/seed_estimator.py``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from airflow_mlw.core import Environment, Experiment, Workspace
from airflow_mlw.core.conda_dependencies import CondaDependencies
from airflow_mlw.exceptions import MlwEnvironmentError
from airflow_mlw.train.estimator import Estimator

HERE = Path(__file__).resolve().parent


def main(ws: Workspace | None = None, compute_target: str = "local") -> object:
    ws = ws or Workspace.from_config()

    # 1. from a conda specification file
    spec = Path(tempfile.mkdtemp()) / "conda.yml"
    spec.write_text(
        "name: py_env\ndependencies:\n  - numpy\n  - pandas\n  - scikit-learn\n  - pip\n  - pip:\n    - airflow_mlw-defaults\n"
    )
    env = Environment.from_conda_specification(name="training_environment", file_path=str(spec))

    # 2. from an existing conda environment: its spec is exported now, so it needs conda and py_env here
    try:
        env = Environment.from_existing_conda_environment(
            name="training_environment", conda_environment_name="py_env"
        )
    except MlwEnvironmentError as exc:
        print(f"skipping the existing conda environment: {exc}")

    # 3. by specifying packages
    env = Environment("training_environment")
    deps = CondaDependencies.create(
        conda_packages=["scikit-learn", "pandas", "numpy"], pip_packages=["airflow_mlw-defaults"]
    )
    env.python.conda_dependencies = deps
    env.register(workspace=ws)
    training_env = Environment.get(workspace=ws, name="training_environment")
    training_env.docker.enabled = compute_target != "local"

    estimator = Estimator(
        source_directory=str(HERE / "experiment_folder"),
        entry_script="training_script.py",
        compute_target=compute_target,
        environment_definition=training_env,
        script_params={"--reg_rate": 0.1},
    )
    experiment = Experiment(workspace=ws, name="training_experiment")
    run = experiment.submit(config=estimator)
    run.wait_for_completion(show_output=True)
    return run


if __name__ == "__main__":
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    main()
