"""``Environment.from_existing_conda_environment``: a local conda environment's spec, exported at the call.

As Azure does, ``conda env export -n <name>`` runs when the environment object is made, so the
result carries that environment's python version, channels, conda and pip packages and rebuilds
anywhere; build strings (``numpy=1.21.2=py38h…``) are dropped, since they pin one platform.
"""

from __future__ import annotations

import shutil
import subprocess

from airflow_mlw.environments.spec import CondaDependencies
from airflow_mlw.exceptions import MlwEnvironmentError

CONDA_COMMANDS = ("conda", "mamba", "micromamba")
EXPORT_TIMEOUT = 120


def export_conda_environment(conda_environment_name: str) -> CondaDependencies:
    """The dependencies of conda environment ``conda_environment_name`` on this machine."""
    executable = next((path for path in map(shutil.which, CONDA_COMMANDS) if path), None)
    if executable is None:
        raise MlwEnvironmentError(
            f"cannot export conda environment {conda_environment_name!r}: no conda executable on PATH "
            f"(looked for {', '.join(CONDA_COMMANDS)})"
        )
    command = [executable, "env", "export", "-n", conda_environment_name]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=EXPORT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise MlwEnvironmentError(
            f"conda environment {conda_environment_name!r}: `{' '.join(command)}` did not finish in {EXPORT_TIMEOUT} s"
        ) from None
    if run.returncode:
        detail = (run.stderr.strip() or run.stdout.strip())[-400:]
        raise MlwEnvironmentError(
            f"conda environment {conda_environment_name!r} cannot be exported by {executable}: {detail}"
        )
    return parse_export(run.stdout, conda_environment_name)


def parse_export(text: str, conda_environment_name: str) -> CondaDependencies:
    """``CondaDependencies`` of ``conda env export`` output (its ``name`` and ``prefix`` are dropped)."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MlwEnvironmentError(
            f"conda environment {conda_environment_name!r}: the export is not YAML ({exc})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("dependencies"), list):
        raise MlwEnvironmentError(
            f"conda environment {conda_environment_name!r}: the export has no 'dependencies' list"
        )
    return CondaDependencies(
        _underlying_structure={k: data[k] for k in ("channels", "dependencies") if k in data}
    )
