"""A submitted run read from the registry (Azure's ``Run`` as ``Experiment.submit`` returns it)."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from airflow_mlw.datastores.paths import join_path, normalize_path
from airflow_mlw.exceptions import ActivityFailedException, MlwError, RunError, RunNotFoundError
from airflow_mlw.execution import records
from airflow_mlw.execution.process import DRIVER_LOG, snapshot_path
from airflow_mlw.models.registration import register_run_model, run_input_dataset_ids
from airflow_mlw.registry.rows import RunRow
from airflow_mlw.registry.store import owned_row
from airflow_mlw.run import RunLogging, jsonable
from airflow_mlw.urls import portal_url

if TYPE_CHECKING:
    from airflow_mlw.runs.experiment import Experiment

STATUS_BY_STATE = {
    "success": "Finished",
    "failed": "Failed",
    "running": "Running",
    "queued": "Queued",
    "upstream_failed": "Canceled",
    "skipped": "Canceled",
}


class SubmittedRun(RunLogging):
    """A stored run, read from the registry (Azure's ``Run`` as ``submit`` returns it).

    Logging (``log*``, ``upload_file``, ``child_run``) works while the run is not over (an
    interactive run of ``start_logging``); tags can be changed at any time; properties are set once.
    """

    def __init__(self, workspace: Any, run_id: str) -> None:
        self.workspace = workspace
        self.id = run_id

    @classmethod
    def get(cls, workspace: Any, run_id: str) -> SubmittedRun:
        """The run ``run_id`` of the workspace, as the class of its kind."""
        with workspace.store.session() as session:
            row = owned_row(session, RunRow, run_id, workspace._workspace_id())
            if row is None:
                raise RunNotFoundError(f"no run with id {run_id!r} in workspace {workspace.name!r}")
            kind = row.kind
        return run_of_kind(workspace, run_id, kind)

    @classmethod
    def of_experiment(cls, experiment: Any, run_id: str, **_azure_only: Any) -> SubmittedRun:
        """Azure's ``Run(experiment, run_id)``: the run, which must belong to ``experiment``."""
        run = cls.get(experiment.workspace, run_id)
        if run._row().experiment_name != experiment.name:
            raise RunNotFoundError(f"run {run_id!r} is not a run of experiment {experiment.name!r}")
        return run

    def _row(self) -> Any:
        with self.workspace.store.session() as session:
            row = session.get(RunRow, self.id)
            if row is None:
                raise RunNotFoundError(f"run {self.id!r} not found in workspace {self.workspace.name!r}")
            session.expunge(row)
            return row

    # -- logging into a run that is not over -----------------------------------------------------------

    def _write(self, kind: str, name: str, value: Any, step: int | None = None) -> None:
        status = self.get_status()
        if kind in records.METRIC_KINDS and status in records.TERMINAL:
            raise RunError(f"run {self.id} is {status}: a finished run takes no more metrics")
        record = {"kind": kind, "name": name, "value": jsonable(value), "step": step}
        records.apply_script_records(self.workspace, self.id, [record])

    def upload_file(self, name: str, path_or_stream: Any) -> None:
        """Keep a file with the run on the default datastore (``get_file_names()`` lists it)."""
        status = self.get_status()
        if status in records.TERMINAL:
            raise RunError(f"run {self.id} is {status}: upload files while it runs")
        relative = normalize_path(name, what="file name")
        datastore = self.workspace.get_default_datastore()
        with tempfile.TemporaryDirectory(prefix="mlw-upload-") as folder:
            local = Path(folder) / Path(relative).name
            if hasattr(path_or_stream, "read"):
                local.write_bytes(path_or_stream.read())
            else:
                shutil.copyfile(path_or_stream, local)
            datastore.backend.put_file(local, join_path(f"mlw/run-files/{self.id}", relative))
        properties = dict(self._row().properties or {})
        properties["files"] = sorted({*properties.get("files", []), relative})
        records.update_run(self.workspace, self.id, properties=properties)

    def get_environment(self) -> Any:
        """The environment the run used (Azure's ``run.get_environment()``)."""
        from airflow_mlw.environments.spec import Environment

        used = (self._row().properties or {}).get("runDefinition", {}).get("environment")
        if not used:
            raise RunError(f"run {self.id} ran no environment (an interactive run or a pipeline run)")
        return Environment.from_spec(used["name"], used["spec"])

    def get_portal_url(self) -> str:
        """The run's page in the ML Workspace UI, on the api-server's ``[api] base_url``."""
        return portal_url(f"runs/{self.id}")

    def get_tags(self) -> dict[str, str]:
        return dict(self._row().tags or {})

    def get_properties(self) -> dict[str, str]:
        return dict((self._row().properties or {}).get("user", {}))

    # -- children ------------------------------------------------------------------------------------

    def child_run(
        self, name: str | None = None, run_id: str | None = None, outputs: str | None = None
    ) -> Any:
        """A child run (Azure's ``run.child_run``), running until ``complete()``."""
        from airflow_mlw.runs.interactive import InteractiveRun

        row = self._row()
        child_id = records.create_run(
            self.workspace,
            **({"id": run_id} if run_id else {}),
            kind="child",
            experiment_name=row.experiment_name,
            parent_id=self.id,
            name=name,
            status="Running",
            started_at=records.utcnow(),
            outputs={},
            tags={},
            properties={},
        )
        return InteractiveRun(self.workspace, child_id)

    def get_children(
        self, recursive: bool = False, tags: Any = None, properties: Any = None, **_: Any
    ) -> list[Any]:
        """Child runs, oldest first (``recursive``: their children too, depth first)."""
        with self.workspace.store.session() as session:
            found = session.execute(
                select(RunRow.id, RunRow.kind).where(RunRow.parent_id == self.id).order_by(RunRow.created_at)
            ).all()
        children = [run_of_kind(self.workspace, run_id, kind) for run_id, kind in found]
        children = [c for c in children if matches(c._row(), tags, properties)]
        if recursive:
            return RunList(
                item for child in children for item in [child, *child.get_children(recursive=True)]
            )
        return RunList(children)

    @property
    def parent(self) -> Any:
        parent_id = self._row().parent_id
        return SubmittedRun.get(self.workspace, parent_id) if parent_id else None

    # -- lifecycle -----------------------------------------------------------------------------------

    def complete(self, _set_status: bool = True) -> None:
        self._end("Finished")

    def fail(self, error_details: Any = None, error_code: Any = None, _set_status: bool = True) -> None:
        self._end("Failed", str(error_details) if error_details is not None else None)

    def cancel(self) -> None:
        """Stop the run: its Airflow DAG run is marked failed (``on_kill`` stops the script's process
        or container) and the run is ``Canceled``."""
        row = self._row()
        if row.status in records.TERMINAL:
            return
        # Canceled first: the DAG run's failure (and its callback) must not make it Failed.
        records.set_status(self.workspace, self.id, "Canceled")
        if row.dag_id and row.dag_run_id:
            stop_dag_run(self.workspace, row.dag_id, row.dag_run_id)

    def _end(self, status: str, error: str | None = None) -> None:
        current = self.get_status()
        if current in records.TERMINAL:
            raise RunError(f"run {self.id} is already {current}")
        fields: dict[str, Any] = {}
        if error is not None:
            fields["properties"] = {**(self._row().properties or {}), "error": error}
        records.set_status(self.workspace, self.id, status, **fields)

    def _set_status(self, status: str) -> None:
        records.update_run(self.workspace, self.id, status=status)

    @property
    def experiment(self) -> Experiment:
        from airflow_mlw.runs.experiment import Experiment  # it imports this module

        return Experiment(self.workspace, self._row().experiment_name or "")

    @property
    def name(self) -> str | None:
        return self._row().name

    def get_status(self) -> str:
        return self._row().status

    def wait_for_completion(
        self, show_output: bool = False, wait_post_processing: bool = False, raise_on_error: bool = True
    ) -> dict[str, Any]:
        while (status := self.get_status()) in ("NotStarted", "Queued", "Running"):
            time.sleep(1)
        if show_output:
            output = self.driver_output()
            if output:
                print(f"RunId: {self.id}\nStreaming {DRIVER_LOG}\n{'=' * (10 + len(DRIVER_LOG))}\n")
                print(output, end="" if output.endswith("\n") else "\n")
            print(
                f"RunId: {self.id}\nExecution Summary\n=================\nStatus: {status}", file=sys.stdout
            )
            for name, value in self.get_metrics().items():
                print(f"  {name}: {value}")
        if status == "Failed" and raise_on_error:
            error = (self._row().properties or {}).get("error")
            raise ActivityFailedException(
                f"run {self.id} failed"
                + (f": {error}" if error else f"; see the Airflow task log of {self._row().dag_id}")
            )
        return self.get_details()

    def driver_output(self) -> str:
        """What the script printed (stdout and stderr), or "" when the run kept none."""
        if DRIVER_LOG not in self.get_file_names():
            return ""
        with tempfile.TemporaryDirectory(prefix="mlw-driver-log-") as folder:
            return Path(self.download_file(DRIVER_LOG, str(Path(folder) / "driver_log.txt"))).read_text(
                errors="replace"
            )

    def get_details(self) -> dict[str, Any]:
        """Azure's run details: ``runId``, ``status``, times, ``properties``, ``inputDatasets``,
        ``outputDatasets``, ``runDefinition``, ``logFiles`` (and the Airflow DAG behind the run)."""
        row = self._row()
        properties = row.properties or {}
        outputs = [
            {
                "name": name,
                "dataset": record.get("dataset"),
                "datastore": record.get("datastore"),
                "path": record.get("path"),
            }
            for name, record in (row.outputs or {}).items()
        ]
        definition = {"script": row.name, "target": row.compute_target, **properties.get("runDefinition", {})}
        details = {
            "runId": row.id,
            "status": row.status,
            "experiment": row.experiment_name,
            "target": row.compute_target,
            "dag_id": row.dag_id,
            "startTimeUtc": row.started_at,
            "endTimeUtc": row.finished_at,
            "tags": dict(row.tags or {}),
            "properties": dict(properties.get("user", {})),
            "inputDatasets": [
                {
                    "name": name,
                    "dataset": {
                        "id": record.get("id"),
                        "name": record.get("dataset"),
                        "version": record.get("version"),
                    },
                }
                for name, record in properties.get("inputs", {}).items()
                if record.get("id")
            ],
            "outputDatasets": outputs,
            "runDefinition": definition,
            "logFiles": {},
        }
        if row.dag_id and row.task_id:
            details["logFiles"] = {"airflow_task": f"{row.dag_id}/{row.dag_run_id}/{row.task_id}"}
        if properties.get("error"):
            details["error"] = {"message": properties["error"]}
        return details

    def get_details_with_logs(self) -> dict[str, Any]:
        """``get_details()`` with ``logFiles`` holding the logs' text: the script's output
        (``logs/driver_log.txt``); the Airflow task's log is named."""
        details = self.get_details()
        output = self.driver_output()
        if output:
            details["logFiles"] = {DRIVER_LOG: output, **details["logFiles"]}
        return details

    def restore_snapshot(self, snapshot_id: str | None = None, path: str | None = None) -> str:
        """The run's source snapshot as a zip file (Azure's ``restore_snapshot``): written to
        ``path`` (a ``.zip`` file, else a folder that gets ``<run id>.zip``), default the working
        folder; its path."""
        datastore = self.workspace.get_default_datastore()
        info = datastore.backend.info(snapshot_path(snapshot_id or self.id))
        if info is None:
            raise RunError(f"run {self.id} kept no snapshot (interactive and pipeline runs have none)")
        target = Path(path or ".")
        if target.suffix != ".zip":  # a folder
            target = target / f"{snapshot_id or self.id}.zip"
        target.parent.mkdir(parents=True, exist_ok=True)
        datastore.backend.get_file(info, target.resolve())
        return str(target)

    def get_all_logs(self, destination: str | None = None) -> list[str]:
        """Download the run's logs (``logs/...``: the script's output) into ``destination``."""
        return self.download_files(prefix="logs", output_directory=destination or ".")

    def download_files(
        self,
        prefix: str | None = None,
        output_directory: str | None = None,
        output_paths: list[str] | None = None,
        batch_size: int = 100,
        append_prefix: bool = True,
    ) -> list[str]:
        """Download the run's files below ``prefix`` into ``output_directory`` (relative paths kept)."""
        names = [
            n
            for n in self.get_file_names()
            if prefix is None or n == prefix or n.startswith(prefix.rstrip("/") + "/")
        ]
        saved = []
        for name in names:
            relative = name if append_prefix or prefix is None else name[len(prefix) :].lstrip("/")
            target = Path(output_directory or ".") / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            saved.append(self.download_file(name, str(target)))
        return saved

    def get_metrics(self, name: str | None = None) -> dict[str, Any]:
        """Metric name -> value; a name logged several times gives the list of its values."""
        return records.fold_metrics(records.load_metrics(self.workspace, self.id), name)

    def get_file_names(self) -> list[str]:
        return list((self._row().properties or {}).get("files", []))

    def download_file(self, name: str, output_file_path: str | None = None) -> str:
        if name not in self.get_file_names():
            raise MlwError(f"run {self.id} has no file {name!r}")
        datastore = self.workspace.get_default_datastore()
        target = Path(output_file_path or Path(name).name)
        if target.is_dir():
            target = target / Path(name).name

        info = datastore.backend.info(join_path(f"mlw/run-files/{self.id}", name))
        if info is None:
            raise MlwError(f"run {self.id}: file {name!r} is gone from datastore {datastore.name!r}")
        datastore.backend.get_file(info, target.resolve())
        return str(target)

    def input_dataset_ids(self) -> list[str]:
        """Ids of the registered dataset versions the run read."""

        return run_input_dataset_ids(self.workspace, self.id)

    def register_model(
        self,
        model_name: str,
        model_path: str | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, Any] | None = None,
        description: str | None = None,
        datasets: list[Any] | None = None,
        **_azure_only: Any,
    ) -> Any:
        """Register a file or folder the run kept (``outputs/...``) as a model version linked to
        this run, its metrics and the dataset versions it read (Azure's ``run.register_model``)."""

        return register_run_model(
            self.workspace,
            self.id,
            model_name,
            model_path,
            tags=tags,
            properties=properties,
            description=description,
            datasets=datasets,
        )

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, status={self.get_status()!r})"


def run_of_kind(workspace: Any, run_id: str, kind: str) -> SubmittedRun:
    """The handle class of a run's kind (pipeline runs and steps have their own)."""
    from airflow_mlw.hyperdrive.run import HyperDriveRun
    from airflow_mlw.runs.interactive import InteractiveRun
    from airflow_mlw.runs.pipeline_run import PipelineRun, StepRun

    handle = {
        "hyperdrive": HyperDriveRun,
        "pipeline": PipelineRun,
        "step": StepRun,
        "interactive": InteractiveRun,
        "child": InteractiveRun,
    }
    return handle.get(kind, SubmittedRun)(workspace, run_id)


def matches(row: Any, tags: Any, properties: Any) -> bool:
    """Azure's run filters: ``tags={'k': 'v'}`` / ``tags='k'`` / ``['k', ['k', 'v']]``, same for properties."""
    return _pairs_match(row.tags or {}, tags) and _pairs_match(
        (row.properties or {}).get("user", {}), properties
    )


def _pairs_match(values: dict[str, Any], wanted: Any) -> bool:
    if wanted is None:
        return True
    if isinstance(wanted, str):
        wanted = [wanted]
    pairs = (
        wanted.items()
        if isinstance(wanted, dict)
        else [(item, None) if isinstance(item, str) else (item[0], item[1]) for item in wanted]
    )
    return all(key in values and (value is None or str(values[key]) == str(value)) for key, value in pairs)


def stop_dag_run(workspace: Any, dag_id: str, dag_run_id: str) -> None:
    """Mark a DAG run failed (its running tasks are then killed by Airflow, whose ``on_kill`` stops
    the script): over REST with ``[mlw] api_url``, else in Airflow's metadata DB."""
    from urllib.parse import quote

    if workspace.settings.api_url:
        from airflow_mlw.api_client import ApiClient

        ApiClient.from_settings(workspace.settings).request(
            "PATCH", f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(dag_run_id)}", {"state": "failed"}
        )
        return
    from airflow.api.common.mark_tasks import set_dag_run_state_to_failed
    from airflow.models import DagRun
    from airflow.models.dagbag import DBDagBag
    from airflow.utils.session import create_session

    with create_session() as session:
        found = DagRun.find(dag_id=dag_id, run_id=dag_run_id, session=session)
        dag = DBDagBag().get_latest_version_of_dag(dag_id, session=session)
        if found and dag is not None and str(found[0].state) in ("queued", "running"):
            set_dag_run_state_to_failed(dag=dag, run_id=dag_run_id, commit=True, session=session)


class RunList(list):  # type: ignore[type-arg]
    """Runs as a list that ``next()`` takes too: Azure's ``get_children()`` is a generator, and
    ported code writes ``next(run.get_children())``."""

    def __next__(self) -> Any:
        position = getattr(self, "_position", 0)
        if position >= len(self):
            raise StopIteration
        self._position = position + 1
        return self[position]
