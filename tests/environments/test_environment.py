"""Environment API, registry versions, curated environments, Dockerfiles, virtualenv runtime."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.config import load_settings
from airflow_mlw.core.conda_dependencies import CondaDependencies
from airflow_mlw.core.environment import Environment
from airflow_mlw.environments.docker_build import dockerfile
from airflow_mlw.exceptions import MlwEnvironmentError
from tests.environments.conda_standin import PY_ENV_EXPORT, install_conda_standin

CONDA_YML = """name: py_env
channels:
  - conda-forge
dependencies:
  - python=3.11
  - scikit-learn
  - pip
  - pip:
    - azureml-defaults
    - six
"""


def test_three_seed_ways_to_make_an_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conda.yml").write_text(CONDA_YML)
    from_file = Environment.from_conda_specification(
        name="training_environment", file_path=str(tmp_path / "conda.yml")
    )
    deps = from_file.python.conda_dependencies
    assert (deps.python_version, deps.conda_packages, deps.pip_packages) == (
        "3.11",
        ["scikit-learn"],
        ["azureml-defaults", "six"],
    )
    install_conda_standin(tmp_path / "bin", {"py_env": PY_ENV_EXPORT})  # no real conda here
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    existing = Environment.from_existing_conda_environment(
        name="training_environment", conda_environment_name="py_env"
    )
    exported = existing.python.conda_dependencies
    assert (exported.python_version, "six=1.16.0" in exported.conda_packages, exported.pip_packages) == (
        "3.11.4",
        True,
        ["azureml-core==1.53.0", "idna==3.4"],
    )
    env = Environment("training_environment")
    env.python.conda_dependencies = CondaDependencies.create(
        conda_packages=["scikit-learn", "pandas", "numpy"], pip_packages=["azureml-defaults"]
    )
    assert env.python.conda_dependencies.installable_pip_packages() == [], (
        "the mounted runtime stands for azureml-defaults"
    )


def test_spec_hash_ignores_package_order() -> None:
    a, b = Environment("e"), Environment("e")
    a.python.conda_dependencies = CondaDependencies.create(pip_packages=["x", "y"])
    b.python.conda_dependencies = CondaDependencies.create(pip_packages=["y", "x"])
    assert a.spec_hash == b.spec_hash
    b.environment_variables["K"] = "v"
    assert a.spec_hash != b.spec_hash


def test_register_returns_same_version_until_the_spec_changes(workspace: Any) -> None:
    env = Environment("train")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["six"])
    assert env.register(workspace).version == 1
    assert env.register(workspace).version == 1
    env.python.conda_dependencies.add_pip_package("idna")
    assert env.register(workspace).version == 2
    assert Environment.get(workspace, "train").version == 2
    assert Environment.get(workspace, "train", version=1).python.conda_dependencies.pip_packages == ["six"]
    listed = Environment.list(workspace)
    assert {"MLW-minimal", "MLW-pandas", "MLW-sklearn", "train"} <= set(listed)
    assert Environment.get(workspace, "MLW-sklearn").python.conda_dependencies.pip_packages == [
        "pandas",
        "pyarrow",
        "scikit-learn",
    ]


def test_curated_prefix_is_reserved_and_unknown_names_are_named(workspace: Any) -> None:
    with pytest.raises(MlwEnvironmentError, match="names starting with 'MLW-' are reserved"):
        Environment("MLW-mine").register(workspace)
    with pytest.raises(MlwEnvironmentError, match="environment 'nope' is not registered"):
        Environment.get(workspace, "nope")


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    env = Environment("roundtrip")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["six"], conda_packages=["numpy"], python_version="3.11"
    )
    env.docker.enabled = True
    env.environment_variables = {"A": "1"}
    env.save_to_directory(str(tmp_path / "env"))
    assert Environment.load_from_directory(str(tmp_path / "env")).spec() == env.spec()
    assert "numpy" in (tmp_path / "env" / "conda_dependencies.yml").read_text()


def test_malformed_conda_yaml_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("dependencies: [python=3.11\n  - oops")
    with pytest.raises(MlwEnvironmentError, match=r"malformed conda specification .*bad.yml at line"):
        Environment.from_conda_specification("bad", str(tmp_path / "bad.yml"))


def test_dockerfiles_for_pip_and_conda_specs(mlw_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(
        pip_index_url="https://mirror.example/simple", build_ca_bundle="/etc/ssl/certs/ca-certificates.crt"
    )
    pip_env = Environment("pip")
    pip_env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["six==1.16.0", "azureml-defaults"]
    )
    text = dockerfile(pip_env, settings, "mlw-base:bookworm")
    assert (
        "RUN python3 -m venv /opt/mlw-env && /opt/mlw-env/bin/pip install --no-cache-dir --disable-pip-version-check six==1.16.0"
        in text
    )
    assert (
        "COPY ca-bundle.crt /etc/mlw/ca-bundle.crt" in text
        and "ENV PIP_INDEX_URL=https://mirror.example/simple" in text
    )
    assert "micromamba" not in text and "azureml-defaults" not in text
    conda_env = Environment("conda")
    conda_env.python.conda_dependencies = CondaDependencies.create(
        conda_packages=["scikit-learn"], pip_packages=["six"], python_version="3.10"
    )
    text = dockerfile(conda_env, replace(settings, conda_packages_via="conda"), "mlw-base:bookworm")
    assert '"$CONDA_EXE" create -y -p /opt/mlw-env -c conda-forge python=3.10 pip scikit-learn' in text
    assert "/opt/mlw-env/bin/pip install --no-cache-dir --disable-pip-version-check six" in text
    via_pip = dockerfile(conda_env, load_settings(conda_packages_via="pip"), "mlw-base:bookworm")
    assert "micromamba" not in via_pip and "conda_packages_via = pip" in via_pip
    assert "pip install --no-cache-dir --disable-pip-version-check scikit-learn six" in via_pip


def test_virtualenv_is_built_once_and_reused(workspace: Any) -> None:
    from airflow_mlw.environments.virtualenv import interpreter

    env = Environment("venv_env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["six"])
    python = Path(interpreter(env, workspace))
    assert python.exists() and python.parent.parent.name == env.spec_hash[:24]
    marker = python.parent.parent / ".mlw-complete"
    stamp = marker.stat().st_mtime_ns
    assert Path(interpreter(env, workspace)) == python
    assert marker.stat().st_mtime_ns == stamp, "the second call reuses the venv"
    import subprocess

    assert subprocess.run([str(python), "-c", "import six"], capture_output=True).returncode == 0
