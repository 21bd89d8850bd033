"""Interactive runs: ``Experiment.start_logging()`` in a notebook or script, and child runs.

The run lives in the calling process: ``log*``, ``tag``, ``upload_file`` and ``child_run`` write
to the registry at once (as a submitted run's script does through its run folder), and the run ends
with ``complete()``, ``fail()`` or ``cancel()``; used as a context manager it completes, or fails
with the exception.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from airflow_mlw.execution import records
from airflow_mlw.runs.submitted import SubmittedRun


class InteractiveRun(SubmittedRun):
    """A run logged from this process (Azure's run of ``experiment.start_logging()``)."""

    #: Folder whose files ``complete()`` uploads as the run's ``outputs/``.
    _outputs: str | None = None

    @classmethod
    def start(
        cls,
        experiment: Any,
        snapshot_directory: str | None = None,
        outputs: str | None = None,
        name: str | None = None,
    ) -> InteractiveRun:
        run_id = records.create_run(
            experiment.workspace,
            kind="interactive",
            experiment_name=experiment.name,
            name=name,
            status="Running",
            started_at=records.utcnow(),
            compute_target="local",
            outputs={},
            tags={},
            properties={"runDefinition": {"snapshot_directory": snapshot_directory, "outputs": outputs}},
        )
        run = cls(experiment.workspace, run_id)
        run._outputs = outputs
        return run

    def complete(self, _set_status: bool = True) -> None:
        """Upload what the run left in its ``outputs`` folder (when one was named), then finish."""
        folder = getattr(self, "_outputs", None)
        if folder and Path(folder).is_dir():
            for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
                self.upload_file(f"outputs/{path.relative_to(folder).as_posix()}", str(path))
        super().complete()

    def __enter__(self) -> InteractiveRun:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: TracebackType | None
    ) -> None:
        if self.get_status() in records.TERMINAL:
            return
        if error is None:
            self.complete()
        else:
            self.fail(error_details=f"{kind.__name__ if kind else 'Error'}: {error}")
