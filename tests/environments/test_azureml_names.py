"""Environments as ported Azure ML v1 code names them: ``azureml-*`` pins and ``AzureML-*`` curated names."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airflow_mlw.config import load_settings
from airflow_mlw.core.conda_dependencies import CondaDependencies
from airflow_mlw.core.environment import Environment
from airflow_mlw.environments.conda_packages import route_from_settings
from airflow_mlw.environments.docker_build import build_notes, dockerfile
from airflow_mlw.exceptions import MlwEnvironmentError

AZUREML_PINS = [
    "azureml-sdk",
    "azureml-defaults==1.53.0",
    "azureml-core",
    "azureml-dataset-runtime[pandas,fuse]",
    "azureml-mlflow",
    "azureml-dataprep[pandas]>=4.0",
    "azureml-interpret",
    "azureml-widgets",
    "airflow_mlw-dataset-runtime[fuse]",  # as code ported by renaming azureml spells it
]


def pip_env(name: str, *packages: str) -> Environment:
    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=list(packages))
    return env


def test_azureml_pins_do_not_change_the_spec_hash(workspace: Any, caplog: pytest.LogCaptureFixture) -> None:
    # (pandas and mlflow named: azureml-defaults and azureml-mlflow would bring them otherwise, see below)
    plain = pip_env("train", "six", "pandas", "mlflow")
    ported = pip_env("train", "six", "pandas", "mlflow", *AZUREML_PINS)
    assert ported.spec_hash == plain.spec_hash
    assert plain.register(workspace).version == 1
    caplog.set_level(logging.INFO, logger="airflow_mlw.environments.registration")
    assert ported.register(workspace).version == 1, "adding azureml pins rebuilds nothing"
    assert any(
        "pip packages azureml-sdk azureml-defaults==1.53.0" in r.getMessage()
        and "not part of the spec hash" in r.getMessage()
        for r in caplog.records
    )


def test_azureml_pins_are_not_installed_and_the_build_log_says_so() -> None:
    env = pip_env("ported", "six", "pandas", *AZUREML_PINS)
    text = dockerfile(env, load_settings(), "mlw-base:bookworm")
    # azureml-mlflow brings the MLflow client (the runtime's mlw:// plugins need it)
    assert (
        "/opt/mlw-env/bin/pip install --no-cache-dir --disable-pip-version-check six pandas mlflow-skinny\n"
        in text
    )
    assert "azureml" not in text
    notes = build_notes(env, route_from_settings(load_settings()))
    assert notes == [
        f"pip packages {' '.join(AZUREML_PINS)} need no install: the airflow_mlw runtime is mounted into every run"
    ]
    # the pins survive the spec round trip (a DAG's operator rebuilds the env from its spec)
    again = Environment.from_spec("ported", env.spec())
    assert sorted(again.python.conda_dependencies.runtime_pip_packages()) == sorted(AZUREML_PINS)


@pytest.mark.parametrize(
    ("azure_name", "mlw_name"),
    [
        ("AzureML-Minimal", "MLW-minimal"),
        ("AzureML-Tutorial", "MLW-sklearn"),
        ("AzureML-sklearn-0.24-ubuntu18.04-py37-cpu", "MLW-sklearn"),
        ("AzureML-Scikit-learn-0.20.3", "MLW-sklearn"),
        ("AzureML-lightgbm-3.2-ubuntu18.04-py37-cpu", "MLW-lightgbm"),
        ("AzureML-pytorch-1.10-ubuntu18.04-py38-cuda11-gpu", "MLW-pytorch"),
        ("AzureML-PyTorch-1.6-CPU", "MLW-pytorch"),
        ("AzureML-tensorflow-2.4-ubuntu18.04-py37-cuda11-gpu", "MLW-tensorflow"),
    ],
)
def test_curated_azureml_names_resolve_to_mlw_ones(
    workspace: Any, caplog: pytest.LogCaptureFixture, azure_name: str, mlw_name: str
) -> None:
    caplog.set_level(logging.INFO, logger="airflow_mlw.environments.registration")
    env = Environment.get(workspace, azure_name)
    assert env.name == mlw_name
    assert (
        env.python.conda_dependencies.pip_packages
        == Environment.get(workspace, mlw_name).python.conda_dependencies.pip_packages
    )
    assert f"curated environment {azure_name!r} resolves to {mlw_name!r}" in caplog.messages


def test_an_azureml_name_without_a_near_one_lists_the_curated_names(workspace: Any) -> None:
    with pytest.raises(MlwEnvironmentError) as info:
        Environment.get(workspace, "AzureML-AutoML")
    message = str(info.value)
    assert message.startswith("curated environment 'AzureML-AutoML' has no counterpart here")
    assert "MLW-minimal, MLW-pandas, MLW-pytorch, MLW-sklearn, MLW-tensorflow" in message


def test_azureml_names_are_reserved_and_a_curated_env_is_cloned(workspace: Any) -> None:
    with pytest.raises(MlwEnvironmentError, match="names starting with 'AzureML-' are reserved"):
        Environment("AzureML-mine").register(workspace)
    mine = Environment.get(workspace, "AzureML-Tutorial").clone("my-tutorial")
    mine.python.conda_dependencies.add_pip_package("six")
    registered = mine.register(workspace)
    assert (registered.name, registered.version) == ("my-tutorial", 1)
    assert registered.python.conda_dependencies.pip_packages == ["pandas", "pyarrow", "scikit-learn", "six"]


def test_azureml_defaults_brings_pandas_unless_the_environment_names_it() -> None:
    """DP-100 lab 11's environment lists scikit-learn and azureml-defaults, and its script imports
    pandas: azureml-defaults brought it (through azureml-model-management-sdk) in SDK v1."""
    lab = CondaDependencies.create(conda_packages=["scikit-learn"], pip_packages=["azureml-defaults"])
    assert lab.installable_pip_packages() == ["pandas"]
    named = CondaDependencies.create(conda_packages=["pandas=1.1"], pip_packages=["azureml-defaults"])
    assert named.installable_pip_packages() == []
    assert CondaDependencies.create(pip_packages=["azureml-core"]).installable_pip_packages() == []
    env = pip_env("lab", "azureml-defaults")
    assert Environment.from_spec("lab", env.spec()).spec_hash == env.spec_hash  # stable round trip
