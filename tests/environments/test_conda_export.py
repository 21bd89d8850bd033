"""``Environment.from_existing_conda_environment`` exports the conda environment at the call.

No conda can be installed here (no channel is reachable; the ``conda`` package on PyPI is not
usable standalone), so the export is tested against ``conda_standin``: an executable ``conda`` on
PATH that prints a recorded ``conda env export``. The missing-conda error is tested for real.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core.environment import Environment
from airflow_mlw.exceptions import MlwEnvironmentError
from tests.environments.conda_standin import PY_ENV_EXPORT, install_conda_standin


@pytest.fixture
def conda_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    conda = install_conda_standin(tmp_path / "bin", {"py_env": PY_ENV_EXPORT})
    monkeypatch.setenv("PATH", f"{conda.parent}:/usr/bin:/bin")
    return conda


def test_without_conda_the_call_fails_naming_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(
        MlwEnvironmentError,
        match=r"cannot export conda environment 'py_env': no conda executable on PATH \(looked for conda, mamba, micromamba\)",
    ):
        Environment.from_existing_conda_environment("training_environment", "py_env")


def test_a_missing_conda_environment_is_named_at_the_call(conda_on_path: Path) -> None:
    with pytest.raises(MlwEnvironmentError) as info:
        Environment.from_existing_conda_environment("training_environment", "missing_env")
    message = str(info.value)
    assert message.startswith(f"conda environment 'missing_env' cannot be exported by {conda_on_path}")
    assert "EnvironmentLocationNotFound: Not a conda environment: /opt/conda/envs/missing_env" in message


def test_the_export_becomes_the_spec_without_build_strings(conda_on_path: Path) -> None:
    env = Environment.from_existing_conda_environment("training_environment", "py_env")
    deps = env.python.conda_dependencies
    assert deps.python_version == "3.11.4"
    assert deps.channels == ["conda-forge", "defaults"]
    assert "six=1.16.0" in deps.conda_packages and "libgcc-ng=13.1.0" in deps.conda_packages
    assert not any(p.startswith("pip") or p.startswith("python") for p in deps.conda_packages)
    assert deps.pip_packages == ["azureml-core==1.53.0", "idna==3.4"]
    assert not env.python.user_managed_dependencies, "the spec is rebuilt, as Azure's is"


def test_the_exported_environment_rebuilds_in_docker(
    conda_on_path: Path, workspace: Any, docker_engine: Any, base_image: str
) -> None:
    import docker

    env = Environment.from_existing_conda_environment("exported-env", "py_env")
    env.docker.enabled = True
    env.environment_variables = {"MLW_TEST_RUN": uuid.uuid4().hex}
    tag = env.build(workspace)  # no channel answers here: the conda names go through pip
    out = docker.from_env().containers.run(
        tag, ["python", "-c", "import six, idna; print(six.__version__, idna.__version__)"], remove=True
    )
    assert out.decode().split() == ["1.16.0", "3.4"]
    docker.from_env().images.remove(tag, force=True)
