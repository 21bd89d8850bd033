"""The same spec without Docker: a virtualenv under ``<home>/venvs/<spec-hash>``, made once under
a file lock and reused; a marker written last means complete, so a killed build is redone."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw.environments.conda_packages import pip_requirements
from airflow_mlw.exceptions import MlwEnvironmentError

if TYPE_CHECKING:
    from airflow_mlw.environments.spec import Environment

log = logging.getLogger(__name__)
COMPLETE = ".mlw-complete"


def interpreter(env: Environment, workspace: Any) -> str:
    """The Python that runs scripts of ``env`` on this worker (venv built on first use)."""
    python = env.python
    if python.interpreter_path:
        if not Path(python.interpreter_path).exists():
            raise MlwEnvironmentError(
                f"environment {env.name!r}: interpreter {python.interpreter_path} does not exist"
            )
        return python.interpreter_path
    if python.conda_environment_name:
        conda = shutil.which("conda") or shutil.which("micromamba")
        if conda is None:
            raise MlwEnvironmentError(
                f"environment {env.name!r} names conda environment {python.conda_environment_name!r} but no conda is installed"
            )
        out = subprocess.run(
            [
                conda,
                "run",
                "-n",
                python.conda_environment_name,
                "python",
                "-c",
                "import sys; print(sys.executable)",
            ],
            capture_output=True,
            text=True,
        )
        if out.returncode:
            raise MlwEnvironmentError(
                f"conda environment {python.conda_environment_name!r}: {out.stderr.strip()[-300:]}"
            )
        return out.stdout.strip()
    deps = python.conda_dependencies
    if python.user_managed_dependencies or not (deps.installable_pip_packages() or deps.conda_packages):
        return sys.executable
    return str(ensure_venv(env, workspace) / "bin" / "python")


def ensure_venv(env: Environment, workspace: Any) -> Path:
    settings = workspace.settings
    folder = Path(settings.home) / "venvs" / env.spec_hash[:24]
    if (folder / COMPLETE).exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{folder}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / COMPLETE).exists():
            return folder
        shutil.rmtree(folder, ignore_errors=True)
        deps = env.python.conda_dependencies
        packages = deps.installable_pip_packages()
        if deps.conda_packages:
            requirements, skipped = pip_requirements(list(deps.conda_packages))
            log.info(
                "virtualenv of %r: conda packages %s installed from the pip index as %s%s",
                env.name,
                " ".join(deps.conda_packages),
                " ".join(requirements) or "nothing",
                f" (conda-only {' '.join(skipped)} left out)" if skipped else "",
            )
            packages = requirements + packages
        if deps.runtime_pip_packages():
            log.info(
                "virtualenv of %r: pip packages %s need no install: the airflow_mlw runtime is mounted into every run",
                env.name,
                " ".join(deps.runtime_pip_packages()),
            )
        log.info("creating virtualenv %s for environment %r", folder, env.name)
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        command = [str(folder / "bin" / "pip"), "install", "--disable-pip-version-check", *packages]
        environ = dict(os.environ)
        if settings.build_ca_bundle:
            environ["PIP_CERT"] = settings.build_ca_bundle
        if settings.pip_index_url:
            environ["PIP_INDEX_URL"] = settings.pip_index_url
        if settings.pip_extra_index_url:
            environ["PIP_EXTRA_INDEX_URL"] = settings.pip_extra_index_url
        run = subprocess.run(command, capture_output=True, text=True, env=environ)
        if run.returncode:
            shutil.rmtree(folder, ignore_errors=True)
            raise MlwEnvironmentError(f"virtualenv of {env.name!r}: pip failed: {run.stderr.strip()[-800:]}")
        (folder / COMPLETE).write_text(env.spec_hash)
    return folder
