"""One script run, whatever the compute: working copy, run context, metrics, status in the registry,
and the script as a local process (its own process group, so a killed task stops all of it).

The compute-specific part (a subprocess, a container) only starts ``python <script> <args>`` in
the prepared folder with the prepared environment variables; everything else is here.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_mlw.exceptions import MlwError, ScriptFailedError
from airflow_mlw.run import CONTEXT_ENV
from airflow_mlw.runtime import RUNTIME_MOUNT, mlflow_environment, runtime_path

log = logging.getLogger(__name__)
STDERR_TAIL = 20
#: The run file holding the script's output (Azure keeps it as ``azureml-logs/70_driver_log.txt``).
DRIVER_LOG = "logs/driver_log.txt"


def snapshot_path(run_id: str) -> str:
    """Where a run's source snapshot (a zip) lies on the default datastore."""
    return f"mlw/run-snapshots/{run_id}.zip"


#: Seconds a killed script gets between SIGTERM and SIGKILL (Airflow's supervisor waits 5 s).
KILL_GRACE_SECONDS = 3


@dataclass
class ScriptSpec:
    """What to run: the script in a snapshot of ``source_directory``, with arguments."""

    source_directory: str
    script: str
    arguments: list[str] = field(default_factory=list)
    environment_variables: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        source = Path(self.source_directory)
        if not source.is_dir():
            raise MlwError(f"source_directory {source} does not exist")
        if self.script and not self.script.startswith("-m ") and not (source / self.script).is_file():
            raise MlwError(f"script {self.script!r} not found in source_directory {source}")


class ScriptExecution:
    """Prepares a working copy and a run context; afterwards collects metrics into the registry.

    :param workspace: the workspace
    :param run_id: registry id of the run (a ``mlw_runs`` row)
    :param root: folder for the working copy (default: the temp folder)
    """

    def __init__(self, workspace: Any, run_id: str, spec: ScriptSpec, root: Path | None = None) -> None:
        self.workspace = workspace
        self.run_id = run_id
        self.spec = spec
        self.folder = Path(tempfile.mkdtemp(prefix="mlw-run-", dir=root))
        self.workdir = self.folder / "source"
        self.metrics_file = self.folder / "metrics.jsonl"
        self.outputs_dir = self.workdir / "outputs"
        #: ``mlflow.log_artifact`` inside the script writes to ``artifacts/<run id>/`` (its own run or a nested one).
        self.artifacts_dir = self.folder / "artifacts"
        #: ``run.register_model`` requests, registered by :meth:`register_models` once the script succeeded.
        self.model_requests: list[dict[str, Any]] = []

    def prepare(self, inputs: dict[str, Any] | None = None, in_container: bool = False) -> dict[str, str]:
        """Copy the source, write the context file; returns the environment variables of the script."""
        self.spec.check()
        shutil.copytree(self.spec.source_directory, self.workdir, symlinks=True)
        # The snapshot as the script got it (run.restore_snapshot()), kept with the run's logs.
        shutil.make_archive(str(self.folder / "snapshot"), "zip", self.workdir)
        self.outputs_dir.mkdir(exist_ok=True)
        self.artifacts_dir.mkdir()
        root = "/mlw/run" if in_container else str(self.folder)
        experiment = self._experiment_name()
        context = {
            "run_id": self.run_id,
            "workspace": self.workspace.name,
            "experiment": experiment,
            "metrics_file": f"{root}/metrics.jsonl",
            "outputs_dir": f"{root}/source/outputs",
            "artifacts_dir": f"{root}/artifacts",
            "inputs": inputs or {},
        }
        (self.folder / "context.json").write_text(json.dumps(context))
        self.metrics_file.touch()
        environ = dict(self.spec.environment_variables)
        environ[CONTEXT_ENV] = f"{root}/context.json"
        environ["PYTHONPATH"] = RUNTIME_MOUNT if in_container else str(runtime_path())
        environ["PYTHONUNBUFFERED"] = "1"
        if "MLFLOW_TRACKING_URI" not in environ:  # an environment that names its own MLflow server keeps it
            environ.update(mlflow_environment(self.workspace.name, self.run_id, experiment))
        return environ

    def _experiment_name(self) -> str | None:
        from airflow_mlw.registry.rows import RunRow

        with self.workspace.store.session() as session:
            row = session.get(RunRow, self.run_id)
            return row.experiment_name if row is not None else None

    def set_status(self, status: str, **values: Any) -> None:
        # The registry's ORM is imported at run time: operator modules importing this one are parsed.
        from airflow_mlw.execution import records

        records.set_status(self.workspace, self.run_id, status, **values)

    def collect_metrics(self) -> dict[str, Any]:
        """What the script logged, stored in the registry (metrics, tags, properties, child runs);
        returns the run's own metrics, name -> value (series: a list)."""
        from airflow_mlw.execution import records

        logged: list[dict[str, Any]] = []
        self.model_requests = []
        for line in self.metrics_file.read_text().splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by a killed script
            if record["kind"] == "model":
                self.model_requests.append(record)
            else:
                logged.append(record)
        records.apply_script_records(self.workspace, self.run_id, logged)
        own = [
            (r["name"], r["kind"], r["value"])
            for r in logged
            if r["kind"] in records.METRIC_KINDS and not r.get("run")
        ]
        return records.fold_metrics(own)

    def register_models(
        self, dataset_version_ids: list[str], in_container: bool = False
    ) -> list[dict[str, Any]]:
        """Register what the script asked for with ``run.register_model``, linked to this run (and
        so its metrics) and to the dataset versions it read; returns their XCom references."""
        if not self.model_requests:
            return []
        from airflow_mlw.models.registration import register_model

        registered = []
        for request in self.model_requests:
            options = dict(request["value"])
            path = self._host_path(str(options.pop("path")), in_container)
            if not path.exists():
                raise MlwError(
                    f"run.register_model({request['name']!r}, {request['value']['path']!r}): the script left no "
                    f"file or folder there (paths are relative to the working folder, e.g. outputs/model.pkl)"
                )
            model = register_model(
                self.workspace,
                path,
                request["name"],
                tags=options.get("tags"),
                properties=options.get("properties"),
                description=options.get("description"),
                run_id=self.run_id,
                dataset_version_ids=dataset_version_ids,
            )
            registered.append(model.reference())
        return registered

    def _host_path(self, path: str, in_container: bool) -> Path:
        """A path the script named, on this machine: relative to the working folder, or (in a
        container) below ``/mlw/run``."""
        if not Path(path).is_absolute():
            return self.workdir / path
        if in_container:
            relative = Path(path).relative_to("/mlw/run") if path.startswith("/mlw/run/") else None
            if relative is None:
                raise MlwError(f"run.register_model: {path} is not in the run's folder (/mlw/run)")
            return self.folder / relative
        return Path(path)

    @property
    def driver_log(self) -> Path:
        """The script's stdout and stderr, kept with the run as ``logs/driver_log.txt``."""
        return self.folder / "driver_log.txt"

    def keep_log(self) -> list[str]:
        """Upload the script's output (``get_file_names()`` lists ``logs/driver_log.txt``)."""
        datastore = self.workspace.get_default_datastore()
        snapshot = self.folder / "snapshot.zip"
        if snapshot.exists():
            datastore.backend.put_file(snapshot, snapshot_path(self.run_id))
        if not self.driver_log.exists():
            return []
        datastore.backend.put_file(self.driver_log, f"mlw/run-files/{self.run_id}/{DRIVER_LOG}")
        return [DRIVER_LOG]

    def keep_outputs(self) -> list[str]:
        """Files the script left in ``outputs/`` and the MLflow artifacts of its run, copied to the
        default datastore under the run's id; their names (``get_file_names()``)."""
        files = sorted(
            p.relative_to(self.outputs_dir).as_posix() for p in self.outputs_dir.rglob("*") if p.is_file()
        )
        if files:
            datastore = self.workspace.get_default_datastore()
            datastore.upload(
                self.outputs_dir, f"mlw/run-files/{self.run_id}/outputs", overwrite=True, show_progress=False
            )
        kept = [f"outputs/{name}" for name in files]
        return sorted({*kept, *self.keep_artifacts()})

    def keep_artifacts(self) -> list[str]:
        """What ``mlflow.log_artifact`` wrote under ``artifacts/<run id>/``, kept with that run at its
        artifact path (``model/MLmodel``): this run's names are returned, those of the nested runs
        it started are recorded on their rows (other folders are ignored)."""
        from airflow_mlw.execution import records

        own: list[str] = []
        folders = (
            [p for p in self.artifacts_dir.iterdir() if p.is_dir()] if self.artifacts_dir.is_dir() else []
        )
        for folder in sorted(folders):
            names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
            mine = folder.name == self.run_id
            if not names or not (mine or records.is_descendant(self.workspace, folder.name, self.run_id)):
                continue
            self.workspace.get_default_datastore().upload(
                folder, f"mlw/run-files/{folder.name}", overwrite=True, show_progress=False
            )
            if mine:
                own = names
            else:
                records.add_files(self.workspace, folder.name, names)
        return own

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def failure_message(script: str, exit_code: int, stderr_tail: list[str]) -> str:
    tail = "\n".join(stderr_tail[-STDERR_TAIL:])
    return f"script {script} exited with code {exit_code}; last stderr lines:\n{tail}"


def _die_with_parent() -> None:
    """In the forked child: SIGKILL when the task process dies (Linux), even by SIGKILL."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


PR_SET_PDEATHSIG = 1


class ScriptProcess:
    """The script as a local process in a process group of its own: its output goes to ``log``
    line by line, :meth:`kill` stops it and every process it started (``on_kill``), and it dies
    with the task process (a worker killed with SIGKILL leaves no script running)."""

    def __init__(
        self,
        command: list[str],
        cwd: Path,
        environ: dict[str, str],
        log_line: Callable[..., None],
        output: Path | None = None,
    ):
        self.command = command
        self.cwd = cwd
        self.environ = environ
        self.log_line = log_line
        #: File that gets every line of the script's stdout and stderr too.
        self.output = output
        self.process: subprocess.Popen[str] | None = None

    def run(self, script: str) -> None:
        """Run to the end; a non-zero exit is a ``ScriptFailedError`` with the stderr tail."""
        self.process = process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env={**os.environ, **self.environ},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            process_group=0,
            preexec_fn=_die_with_parent,
        )
        tail: list[str] = []
        kept = open(self.output, "a", encoding="utf-8") if self.output is not None else None  # noqa: SIM115
        lock = threading.Lock()

        def keep(line: str) -> None:
            if kept is not None:
                with lock:
                    kept.write(line + "\n")

        def pump_stderr() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                self.log_line("[stderr] %s", line.rstrip())
                keep(line.rstrip())
                tail.append(line.rstrip())
                del tail[:-STDERR_TAIL]

        reader = threading.Thread(target=pump_stderr, daemon=True)
        reader.start()
        assert process.stdout is not None
        try:
            for line in process.stdout:
                self.log_line("%s", line.rstrip())
                keep(line.rstrip())
            code = process.wait()
            reader.join()
        finally:
            if kept is not None:
                kept.close()
        if code != 0:
            raise ScriptFailedError(failure_message(script, code, tail))

    def kill(self) -> None:
        """SIGTERM to the script's process group, SIGKILL after a grace period."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=KILL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def model_mounts(workspace: Any, source: Path, folder: Path, copy: bool = False) -> dict[str, str]:
    """``Model.get_model_path('name')`` inside a step's script (a ``ParallelRunStep``'s ``init()``):
    the models its source names as literals, linked (``copy``: copied, for a container) under
    ``folder/models/<name>/<version>/``, and the variable that points ``get_model_path`` there (as
    in a scoring service). No model named, nothing done."""
    import ast

    wanted: dict[str, Any] = {}
    for path in sorted(source.rglob("*.py"))[:500]:
        try:
            tree = ast.parse(path.read_text(errors="replace"))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get_model_path"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                version = next((k.value for k in node.keywords if k.arg == "version"), None)
                wanted[node.args[0].value] = version.value if isinstance(version, ast.Constant) else None
    if not wanted:
        return {}
    from airflow_mlw.exceptions import ModelNotFoundError
    from airflow_mlw.models.model import Model
    from airflow_mlw.models.server import MODEL_DIR_ENV

    root = folder / "models"
    for name, version in wanted.items():
        try:
            model = Model(workspace, name, version=version)
        except ModelNotFoundError:
            continue  # the script may handle it; get_model_path names what is missing
        link = root / name / str(model.version) / model._root
        link.parent.mkdir(parents=True, exist_ok=True)
        stored = model.local_folder() / model._root
        if not copy:
            link.symlink_to(stored)
        elif stored.is_dir():
            shutil.copytree(stored, link)
        else:
            shutil.copy2(stored, link)
    return {MODEL_DIR_ENV: str(root)}
