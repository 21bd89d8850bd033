"""One script run, whatever the compute: working copy, run context, metrics, status in the registry.

The compute-specific part (a subprocess, a container) only starts ``python <script> <args>`` in
the prepared folder with the prepared environment variables; everything else is here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_mlw.exceptions import MlwError
from airflow_mlw.run import CONTEXT_ENV

log = logging.getLogger(__name__)
RUNTIME_MOUNT = "/opt/mlw-runtime"
STDERR_TAIL = 20


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
        if self.script and not (source / self.script).is_file():
            raise MlwError(f"script {self.script!r} not found in source_directory {source}")


def runtime_path() -> Path:
    """A folder holding only the ``airflow_mlw`` package, for ``PYTHONPATH`` in any interpreter."""
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
    return shim


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
        #: ``run.register_model`` requests, registered by :meth:`register_models` once the script succeeded.
        self.model_requests: list[dict[str, Any]] = []

    def prepare(self, inputs: dict[str, Any] | None = None, in_container: bool = False) -> dict[str, str]:
        """Copy the source, write the context file; returns the environment variables of the script."""
        self.spec.check()
        shutil.copytree(self.spec.source_directory, self.workdir, symlinks=True)
        self.outputs_dir.mkdir(exist_ok=True)
        root = "/mlw/run" if in_container else str(self.folder)
        context = {
            "run_id": self.run_id,
            "metrics_file": f"{root}/metrics.jsonl",
            "outputs_dir": f"{root}/source/outputs",
            "inputs": inputs or {},
        }
        (self.folder / "context.json").write_text(json.dumps(context))
        self.metrics_file.touch()
        environ = dict(self.spec.environment_variables)
        environ[CONTEXT_ENV] = f"{root}/context.json"
        environ["PYTHONPATH"] = RUNTIME_MOUNT if in_container else str(runtime_path())
        environ["PYTHONUNBUFFERED"] = "1"
        return environ

    def set_status(self, status: str, **values: Any) -> None:
        from airflow_mlw.registry.models import RunRow, utcnow

        with self.workspace.store.session(write=True) as session:
            row = session.get(RunRow, self.run_id)
            if row is None:
                raise MlwError(f"run {self.run_id} is not in the registry")
            row.status = status
            if status == "Running":
                row.started_at = utcnow()
            if status in ("Finished", "Failed", "Canceled"):
                row.finished_at = utcnow()
            for key, value in values.items():
                setattr(row, key, value)

    def collect_metrics(self) -> dict[str, Any]:
        """Metrics the script logged, stored in the registry; returns name -> value (series: a list)."""
        from airflow_mlw.registry.models import MetricRow

        metrics: dict[str, Any] = {}
        rows = []
        self.model_requests = []
        for line in self.metrics_file.read_text().splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            if record["kind"] == "model":
                self.model_requests.append(record)
                continue
            rows.append(
                MetricRow(run_id=self.run_id, name=record["name"], kind=record["kind"], value=record["value"])
            )
            name, value = record["name"], record["value"]
            if name in metrics and record["kind"] == "scalar":
                previous = metrics[name]
                metrics[name] = (previous if isinstance(previous, list) else [previous]) + [value]
            else:
                metrics[name] = value
        if rows:
            with self.workspace.store.session(write=True) as session:
                session.add_all(rows)
        return metrics

    def register_models(
        self, dataset_version_ids: list[str], in_container: bool = False
    ) -> list[dict[str, Any]]:
        """Register what the script asked for with ``run.register_model``, linked to this run (and
        so its metrics) and to the dataset versions it read; returns their XCom references."""
        if not self.model_requests:
            return []
        from airflow_mlw.models.model import register_model

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

    def keep_outputs(self) -> list[str]:
        """Files the script left in ``outputs/``, copied to the default datastore under the run's id."""
        files = sorted(
            p.relative_to(self.outputs_dir).as_posix() for p in self.outputs_dir.rglob("*") if p.is_file()
        )
        if files:
            datastore = self.workspace.get_default_datastore()
            datastore.upload(
                self.outputs_dir, f"mlw/run-files/{self.run_id}/outputs", overwrite=True, show_progress=False
            )
        return [f"outputs/{name}" for name in files]

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def failure_message(script: str, exit_code: int, stderr_tail: list[str]) -> str:
    tail = "\n".join(stderr_tail[-STDERR_TAIL:])
    return f"script {script} exited with code {exit_code}; last stderr lines:\n{tail}"
