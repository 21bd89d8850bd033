"""``RunDetails`` (Azure's ``azureml.widgets.RunDetails``): a run's status, steps with reuse, metrics.

``show()`` on a terminal is a live view (``rich``) refreshed until the run ends; with stdout not a
terminal it prints one plain-text snapshot per change; in Jupyter it displays the HTML table of
``_repr_html_()``, updated in place until the run ends. No ipywidgets.
"""

from __future__ import annotations

import html
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from airflow_mlw.exceptions import MlwError
from airflow_mlw.execution.records import TERMINAL
from airflow_mlw.runs.interactive import InteractiveRun

#: Statuses of a run that has not ended yet (Azure's).
ACTIVE = ("NotStarted", "Queued", "Preparing", "Starting", "Running", "Finalizing")


class NotARunError(MlwError):
    """``RunDetails`` was given something that is not a run."""


@dataclass(frozen=True)
class StepLine:
    name: str
    status: str
    run_id: str
    reused_from: str | None = None


@dataclass(frozen=True)
class RunSnapshot:
    """What the view shows at one moment; equal snapshots are not printed twice."""

    run_id: str
    kind: str
    status: str
    steps: tuple[StepLine, ...] = ()
    metrics: tuple[tuple[str, str, str], ...] = field(default=())  # (step or "", name, latest value)

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL

    def text(self) -> str:
        lines = [f"{self.kind} {self.run_id}  Status: {self.status}"]
        for step in self.steps:
            reused = f"  (reused from {step.reused_from})" if step.reused_from else ""
            lines.append(f"  StepRun({step.name}) Status: {step.status}{reused}")
        for scope, name, value in self.metrics:
            lines.append(f"  {scope + '/' if scope else ''}{name}: {value}")
        return "\n".join(lines)

    def html(self) -> str:
        shot = self
        e = html.escape
        rows = [f"<h4>{e(shot.kind)} {e(shot.run_id)}: {e(shot.status)}</h4>"]
        if shot.steps:
            rows.append("<table><tr><th>Step</th><th>Status</th><th>Reused from</th></tr>")
            rows += [
                f"<tr><td>{e(s.name)}</td><td>{e(s.status)}</td><td>{e(s.reused_from or '')}</td></tr>"
                for s in shot.steps
            ]
            rows.append("</table>")
        if shot.metrics:
            rows.append("<table><tr><th>Step</th><th>Metric</th><th>Value</th></tr>")
            rows += [
                f"<tr><td>{e(scope)}</td><td>{e(name)}</td><td>{e(value)}</td></tr>"
                for scope, name, value in shot.metrics
            ]
            rows.append("</table>")
        return "\n".join(rows)


def latest(value: Any, width: int = 60) -> str:
    """A metric's latest value as shown: the last of a logged series, long values cut."""
    if isinstance(value, list) and value and not isinstance(value[0], dict | list):
        value = value[-1]
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


class RunDetails:
    """The details of a submitted run, a pipeline run or a step run (Azure's ``RunDetails``).

    :param run_instance: the run (what ``Experiment.submit`` returns, ``Run.get``, a step run)
    """

    def __init__(self, run_instance: Any) -> None:
        if isinstance(run_instance, type) or not all(
            callable(getattr(run_instance, method, None)) for method in ("get_status", "get_metrics")
        ):
            raise NotARunError(
                f"RunDetails needs a run (what Experiment.submit returns), not {type(run_instance).__name__} "
                f"{run_instance!r:.80}; for a run id use Run.get(workspace, run_id)"
            )
        if not getattr(run_instance, "id", None):
            raise NotARunError(f"RunDetails: {run_instance!r:.80} has no run id")
        self.run_instance = run_instance

    # -- the data ----------------------------------------------------------------------------------

    def snapshot(self) -> RunSnapshot:
        run = self.run_instance
        status = str(run.get_status())
        steps_of = getattr(run, "get_steps", None) or getattr(run, "get_children", None)
        steps = list(steps_of()) if callable(steps_of) else []
        metrics = [("", name, latest(value)) for name, value in run.get_metrics().items()]
        lines = []
        for step in steps:
            name = str(getattr(step, "name", None) or step.id)
            reused_from = getattr(step, "reused_from", None) if getattr(step, "is_reused", False) else None
            lines.append(StepLine(name, str(step.get_status()), str(step.id), reused_from))
            metrics += [(name, metric, latest(value)) for metric, value in step.get_metrics().items()]
        kind = "PipelineRun" if callable(getattr(run, "get_steps", None)) else "Run"
        return RunSnapshot(str(run.id), kind, status, tuple(lines), tuple(metrics))

    def get_widget_data(self) -> dict[str, Any]:
        """The view's content as a dict (Azure's widget keeps the same in its data model)."""
        shot = self.snapshot()
        return {
            "run_id": shot.run_id,
            "status": shot.status,
            "steps": [vars(step) for step in shot.steps],
            "metrics": [{"step": s, "name": n, "value": v} for s, n, v in shot.metrics],
        }

    # -- views -------------------------------------------------------------------------------------
    def _repr_html_(self) -> str:
        return self.snapshot().html()

    def show(self, refresh_seconds: float = 2.0, timeout_seconds: float | None = None) -> RunSnapshot:
        """Show the run, refreshed until it ends (or ``timeout_seconds`` pass); its last snapshot.

        :param refresh_seconds: how often the registry is read
        """
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        # A run logged from this process (start_logging) ends only when this process says so:
        # waiting for it here would never end. Show it once, as Azure's notebook widget returns.
        once = isinstance(self.run_instance, InteractiveRun)

        def snapshots() -> Any:
            while True:
                shot = self.snapshot()
                yield shot
                if once or shot.ended or (deadline is not None and time.monotonic() >= deadline):
                    return
                time.sleep(refresh_seconds)

        if _in_jupyter():
            return _show_in_jupyter(snapshots())
        if sys.stdout.isatty():
            return _show_live(snapshots())
        last: RunSnapshot | None = None
        for shot in snapshots():
            if shot != last:
                print(shot.text(), flush=True)
            last = shot
        assert last is not None
        return last


def _in_jupyter() -> bool:
    shell = sys.modules.get("IPython")
    get_ipython = getattr(shell, "get_ipython", None)
    return callable(get_ipython) and type(get_ipython()).__name__ == "ZMQInteractiveShell"


def _show_in_jupyter(snapshots: Any) -> RunSnapshot:
    from IPython.display import HTML, display

    handle = None
    for shot in snapshots:
        page = HTML(shot.html())
        if handle is None:
            handle = display(page, display_id=True)
        else:
            handle.update(page)
    return shot


def _show_live(snapshots: Any) -> RunSnapshot:
    from rich.console import Group
    from rich.live import Live
    from rich.table import Table

    def render(shot: RunSnapshot) -> Any:
        parts: list[Any] = [f"[bold]{shot.kind} {shot.run_id}[/bold]  Status: [bold]{shot.status}[/bold]"]
        if shot.steps:
            steps = Table("Step", "Status", "Reused from", title="Steps", title_justify="left")
            for step in shot.steps:
                steps.add_row(step.name, step.status, step.reused_from or "")
            parts.append(steps)
        if shot.metrics:
            metrics = Table("Step", "Metric", "Value", title="Metrics", title_justify="left")
            for row in shot.metrics:
                metrics.add_row(*row)
            parts.append(metrics)
        return Group(*parts)

    with Live(refresh_per_second=4) as live:
        for shot in snapshots:
            live.update(render(shot))
    return shot
