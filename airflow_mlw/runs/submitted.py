"""A submitted run read from the registry (Azure's ``Run`` as ``Experiment.submit`` returns it)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw.datastores.paths import join_path
from airflow_mlw.exceptions import MlwError
from airflow_mlw.execution import records
from airflow_mlw.models.registration import register_run_model, run_input_dataset_ids
from airflow_mlw.registry.models import RunRow

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


class SubmittedRun:
    """A submitted run, read from the registry (Azure's ``Run`` as returned by ``submit``)."""

    def __init__(self, workspace: Any, run_id: str) -> None:
        self.workspace = workspace
        self.id = run_id

    def _row(self) -> Any:
        with self.workspace.store.session() as session:
            row = session.get(RunRow, self.id)
            if row is None:
                raise MlwError(f"run {self.id!r} not found")
            session.expunge(row)
            return row

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
            print(
                f"RunId: {self.id}\nExecution Summary\n=================\nStatus: {status}", file=sys.stdout
            )
            for name, value in self.get_metrics().items():
                print(f"  {name}: {value}")
        if status == "Failed" and raise_on_error:
            raise MlwError(f"run {self.id} failed; see the Airflow task log of {self._row().dag_id}")
        return self.get_details()

    def get_details(self) -> dict[str, Any]:
        row = self._row()
        return {
            "runId": row.id,
            "status": row.status,
            "experiment": row.experiment_name,
            "target": row.compute_target,
            "dag_id": row.dag_id,
            "startTimeUtc": row.started_at,
            "endTimeUtc": row.finished_at,
            "tags": row.tags,
        }

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

    def get_tags(self) -> dict[str, str]:
        return dict(self._row().tags or {})

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
