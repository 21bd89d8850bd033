"""A pipeline run and its step runs, read from the registry (Azure's ``PipelineRun`` / ``StepRun``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from airflow_mlw.api_client import ApiClient
from airflow_mlw.datastores import Datastore
from airflow_mlw.exceptions import ActivityFailedException, MlwError
from airflow_mlw.registry.rows import RunRow
from airflow_mlw.runs.submitted import RunList, SubmittedRun


class PortDataReference:
    """Where a step output landed: ``datastore_name``, ``path_on_datastore``; ``download(path)``."""

    def __init__(self, workspace: Any, record: dict[str, Any]) -> None:
        self.workspace = workspace
        self.record = record
        self.datastore_name = record["datastore"]
        self.path_on_datastore = record["path"]
        self.fingerprint = record.get("fingerprint")

    def get_port_data_reference(self) -> PortDataReference:
        return self

    def download(self, local_path: str, overwrite: bool = False, show_progress: bool = True) -> str:
        """Copy the output's files into ``local_path/<path_on_datastore>`` (as Azure does); returns that folder."""

        Datastore(self.workspace, self.datastore_name).download(
            local_path, prefix=self.path_on_datastore, overwrite=overwrite, show_progress=show_progress
        )
        return str(Path(local_path) / self.path_on_datastore)

    def __repr__(self) -> str:
        return f"PortDataReference(datastore={self.datastore_name!r}, path={self.path_on_datastore!r})"


class StepRun(SubmittedRun):
    """One step of a pipeline run."""

    @property
    def is_reused(self) -> bool:
        return self._row().reused_from_id is not None

    @property
    def reused_from(self) -> str | None:
        return self._row().reused_from_id

    def get_metrics(self, name: str | None = None) -> dict[str, Any]:
        """A reused step reports the metrics of the run whose outputs it was handed."""
        origin = self.reused_from
        if origin is not None:
            return SubmittedRun(self.workspace, origin).get_metrics(name)
        return super().get_metrics(name)

    def get_outputs(self) -> dict[str, PortDataReference]:
        return {
            name: PortDataReference(self.workspace, record)
            for name, record in (self._row().outputs or {}).items()
        }

    def get_output_data(self, name: str) -> PortDataReference:
        outputs = self.get_outputs()
        if name not in outputs:
            raise MlwError(f"step {self.name!r} has no output {name!r} (it has {sorted(outputs)})")
        return outputs[name]

    def get_job_log(self) -> str:
        row = self._row()
        return f"see the Airflow task log of {row.dag_id}/{row.dag_run_id}/{row.task_id}"


class PipelineRun(SubmittedRun):
    """A run of a pipeline: one Airflow DAG run."""

    def __init__(self, experiment_or_workspace: Any, run_id: str) -> None:
        workspace = getattr(experiment_or_workspace, "workspace", experiment_or_workspace)
        super().__init__(workspace, run_id)

    def get_steps(self) -> list[StepRun]:
        """The latest attempt of every step, in the order they started."""
        with self.workspace.store.session() as session:
            rows = session.scalars(
                select(RunRow)
                .where(RunRow.parent_id == self.id, RunRow.kind == "step")
                .order_by(RunRow.created_at)
            ).all()
        latest: dict[str, str] = {}
        for row in rows:
            latest[row.name or row.id] = row.id
        return [StepRun(self.workspace, run_id) for run_id in latest.values()]

    def get_children(
        self, recursive: bool = False, tags: Any = None, properties: Any = None, **_: Any
    ) -> list[Any]:
        """The step runs (``recursive``: with their child runs)."""
        steps: list[Any] = self.get_steps()
        if recursive:
            return RunList(item for step in steps for item in [step, *step.get_children(recursive=True)])
        return RunList(steps)

    def get_status(self) -> str:
        """Registry status; while that says the run is not over, the api-server or Airflow decides."""
        status = super().get_status()
        if status in ("Finished", "Failed", "Canceled"):
            return status
        if self.workspace.settings.api_url:
            answer = ApiClient.from_settings(self.workspace.settings).request(
                "GET", f"/mlw/api/runs/{self.id}"
            )
            return str(answer["Status"])
        from airflow_mlw.runs.triggering import pipeline_run_status

        return pipeline_run_status(self.workspace, self.id)

    def publish_pipeline(
        self, name: str, description: str | None = None, version: str | None = None, **_: Any
    ) -> Any:
        """Publish the pipeline this run ran (Azure's ``PipelineRun.publish_pipeline``); needs the run
        object ``Experiment.submit`` returned, which holds the pipeline."""
        pipeline = getattr(self, "_pipeline", None)
        if pipeline is None:
            raise MlwError(f"run {self.id} was not submitted from this process; publish the Pipeline itself")
        return pipeline.publish(name, description, version)

    def find_step_run(self, name: str) -> list[StepRun]:
        return [step for step in self.get_steps() if step.name == name]

    def wait_for_completion(
        self, show_output: bool = True, timeout_seconds: int = sys.maxsize, raise_on_error: bool = True
    ) -> dict[str, Any]:  # type: ignore[override]
        deadline = time.monotonic() + timeout_seconds
        while self.get_status() in ("NotStarted", "Queued", "Running") and time.monotonic() < deadline:
            time.sleep(1)
        status = self.get_status()
        if show_output:
            print(f"PipelineRunId: {self.id}\nPipelineRun Status: {status}")
            for step in self.get_steps():
                reused = " (reused)" if step.is_reused else ""
                print(f"  StepRun {step.name}: {step.get_status()}{reused}")
        if status == "Failed" and raise_on_error:
            failed = [s.name for s in self.get_steps() if s.get_status() == "Failed"]
            raise ActivityFailedException(f"pipeline run {self.id} failed (steps {failed})")
        return self.get_details()


class ScriptOverRestRun(PipelineRun):
    """A script submitted over REST (a one-step pipeline): status of the run, the rest of its step."""

    def _step(self) -> StepRun:
        steps = self.get_steps()
        if not steps:
            raise MlwError(f"run {self.id} has not started its script yet")
        return steps[0]

    def get_metrics(self, name: str | None = None) -> dict[str, Any]:
        return self._step().get_metrics(name)

    def get_file_names(self) -> list[str]:
        return self._step().get_file_names()

    def download_file(self, name: str, output_file_path: str | None = None) -> str:
        return self._step().download_file(name, output_file_path)
