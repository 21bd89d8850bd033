"""Where the in-script runtime (the ``airflow_mlw`` package itself) is found by scripts.

Script processes and containers import ``Run`` from this package without installing it: a folder
holding only ``airflow_mlw`` goes on their ``PYTHONPATH`` (mounted at :data:`RUNTIME_MOUNT` in
containers). Beside it, a minimal ``.dist-info`` declares the package's MLflow plugins, so that
``import mlflow`` in any interpreter that has the folder on its path finds the ``mlw://`` tracking
store through ``importlib.metadata`` entry points. Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

#: Where containers and pods see the runtime folder.
RUNTIME_MOUNT = "/opt/mlw-runtime"
#: The distribution the runtime folder declares (only its entry points matter).
RUNTIME_DISTRIBUTION = "airflow_mlw_runtime"
#: URI scheme of ``ws.get_mlflow_tracking_uri()``: the tracking store and artifact repository plugins.
MLFLOW_SCHEME = "mlw"
#: The MLflow plugins, as setup.cfg declares them for the installed package too.
ENTRY_POINTS = f"""[mlflow.artifact_repository]
{MLFLOW_SCHEME} = airflow_mlw.runs.mlflow_tracking.artifacts:MlwArtifactRepository

[mlflow.tracking_store]
{MLFLOW_SCHEME} = airflow_mlw.runs.mlflow_tracking.store:MlwTrackingStore
"""


def mlflow_tracking_uri(workspace_name: str) -> str:
    """``mlw://<workspace>``: what ``ws.get_mlflow_tracking_uri()`` returns and scripts get."""
    return f"{MLFLOW_SCHEME}://{quote(workspace_name, safe='')}"


def mlflow_experiment_id(name: str) -> str:
    """An experiment's MLflow id: derived from its name (MLflow ids are short tokens; ``0`` is
    MLflow's ``Default`` experiment)."""
    return "0" if name == "Default" else hashlib.sha256(name.encode()).hexdigest()[:16]


def mlflow_environment(workspace_name: str, run_id: str, experiment_name: str | None) -> dict[str, str]:
    """The variables Azure sets in a run so that ``mlflow.log_*`` lands in it with no set-up call
    (they also replace what a notebook's ``mlflow.set_experiment`` left in the submitting process)."""
    experiment = experiment_name or "Default"
    return {
        "MLFLOW_TRACKING_URI": mlflow_tracking_uri(workspace_name),
        "MLFLOW_RUN_ID": run_id,
        "MLFLOW_EXPERIMENT_NAME": experiment,
        "MLFLOW_EXPERIMENT_ID": mlflow_experiment_id(experiment),
    }


def dist_info_name() -> str:
    import airflow_mlw

    return f"{RUNTIME_DISTRIBUTION}-{airflow_mlw.__version__}.dist-info"


def runtime_path() -> Path:
    """A folder holding only the ``airflow_mlw`` package (and its dist-info), for ``PYTHONPATH`` in
    any interpreter."""
    import airflow_mlw

    package = Path(airflow_mlw.__file__).parent
    # A stable name (str hashes are salted per process): one shim per installed package, not per task.
    digest = hashlib.sha256(str(package).encode()).hexdigest()[:12]
    shim = Path(tempfile.gettempdir()) / f"mlw-runtime-{airflow_mlw.__version__}-{digest}"
    link = shim / "airflow_mlw"
    if not link.exists():
        shim.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(package, target_is_directory=True)
        except FileExistsError:
            pass
    _write_dist_info(shim, airflow_mlw.__version__)
    return shim


def _write_dist_info(shim: Path, version: str) -> None:
    """The shim's ``.dist-info`` (``METADATA``, ``entry_points.txt``), written once and renamed into
    place, so a concurrent task never sees half of it; rewritten when the entry points changed."""
    target = shim / dist_info_name()
    entry_points = target / "entry_points.txt"
    if entry_points.is_file() and entry_points.read_text() == ENTRY_POINTS:
        return
    staging = Path(tempfile.mkdtemp(prefix=".dist-info-", dir=shim))
    (staging / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {RUNTIME_DISTRIBUTION}\nVersion: {version}\n"
        "Summary: the airflow_mlw runtime as scripts see it (MLflow plugins)\n"
    )
    (staging / "entry_points.txt").write_text(ENTRY_POINTS)
    os.chmod(staging, 0o755)  # mkdtemp makes it 0700; containers may run as another user
    try:
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    except OSError:  # another task put it there first
        shutil.rmtree(staging, ignore_errors=True)


def runtime_mounts() -> list[tuple[str, str]]:
    """``(path in the container, path on this machine)`` of each read-only bind mount that makes the
    runtime folder in a container: the package and its dist-info (the folder itself holds a symlink,
    which a container cannot follow)."""
    shim = runtime_path()
    return [
        (f"{RUNTIME_MOUNT}/airflow_mlw", str(shim / "airflow_mlw")),
        (f"{RUNTIME_MOUNT}/{dist_info_name()}", str(shim / dist_info_name())),
    ]
