"""Run a DAG in this process, as ``airflow dags test`` does, against Airflow's metadata DB.

Airflow 3.3 runs ``dag.test()`` only for DAGs serialized in the metadata DB, so the DAG is bagged
and synced under a bundle of ours first. Used by ``Experiment.submit`` without ``[mlw] api_url``.

While the DAG runs, every log line (Airflow's own and the tasks', scripts' output included) goes
to the run's log file, ``<[logging] base_log_folder>/mlw-in-process/<dag_id>/<dag_run_id>.log``;
the console gets what Azure shows while a run goes: the run id, each step's start and end status,
its reuse decision, image/virtualenv builds and errors.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BUNDLE = "mlw-in-process"
_lock = threading.Lock()
_ready = False

_OPERATOR = "airflow.task.operators.airflow_mlw."
#: Log lines shown on the console during an in-process run: (logger name prefix, message pattern).
#: Structlog interpolates before any processor sees the event, so the patterns match whole
#: messages (a script's output comes through the same operator logger, as ``"%s"``).
CONSOLE_LINES = (
    (_OPERATOR, re.compile(r"reused .+ from \S+/\S+ \(key [0-9a-f]{12}\)")),
    (_OPERATOR, re.compile(r"not reused .+ \(key [0-9a-f]{12}\): .*")),
    (_OPERATOR, re.compile(r"running .+ without reuse \((allow_reuse=False|regenerate_outputs)\)")),
    (_OPERATOR, re.compile(r"another run is computing key [0-9a-f]{12}: .*")),
    ("airflow_mlw.environments.", re.compile(r"(building|built) image .*|creating virtualenv .*")),
)


def ensure_metadata_db() -> None:
    """Migrate Airflow's metadata DB when needed (the embedded default) and add our bundle row."""
    global _ready
    with _lock:
        if _ready:
            return
        from airflow.models.dagbundle import DagBundleModel
        from airflow.utils import db
        from airflow.utils.session import create_session

        try:
            db.check_migrations(timeout=0)
        except Exception:
            db.initdb()
        with create_session() as session:
            if session.get(DagBundleModel, BUNDLE) is None:
                session.add(DagBundleModel(name=BUNDLE))
        _ready = True


def log_folder() -> Path:
    """Where the logs of in-process runs go: ``mlw-in-process`` under Airflow's base log folder."""
    from airflow.configuration import conf

    return Path(conf.get("logging", "base_log_folder")).expanduser() / BUNDLE


def log_file_for(dag_id: str, dag_run_id: str) -> Path:
    """The log file of one in-process DAG run (it exists once the run has ended)."""
    from airflow_mlw.naming import safe_id

    return log_folder() / safe_id(dag_id) / f"{safe_id(dag_run_id)}.log"


def run_dag(dag: Any, conf: dict[str, Any] | None = None) -> Any:
    """Serialize ``dag`` into the metadata DB and run it to the end; returns the DagRun.

    Airflow's log lines go to :func:`log_file_for` ``(dag_id, dag_run.run_id)``, not the console.
    """
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    with RunLog(dag) as run_log:
        ensure_metadata_db()
        bag = DagBag(dag_folder="/nonexistent-mlw-in-process")
        bag.bag_dag(dag)
        sync_bag_to_db(bag, bundle_name=BUNDLE, bundle_version=None)
        with task_context_restored():
            dag_run = dag.test(run_conf=conf)
        run_log.dag_run_id = dag_run.run_id
    return dag_run


@contextlib.contextmanager
def task_context_restored() -> Iterator[None]:
    """Tasks run in this process export ``AIRFLOW_CTX_*`` (which task is running); left behind,
    they would make later registrations in this process look as if that task made them."""
    before = {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW_CTX_")}
    try:
        yield
    finally:
        for key in [k for k in os.environ if k.startswith("AIRFLOW_CTX_")]:
            del os.environ[key]
        os.environ.update(before)


class RunLog:
    """For the duration of one in-process DAG run: every log event to the run's log file, the few
    lines a user wants (:data:`CONSOLE_LINES`, step starts and ends, errors) to ``sys.stdout``.

    Both of Airflow's logging paths are caught: stdlib records (the root logger's handlers are
    swapped, and restored afterwards) and structlog events (two processors put into structlog's
    processor list in place, so loggers cached before the run see them too; removed afterwards).
    A run started while another is being logged in this process shares that run's log.
    """

    active: RunLog | None = None

    def __init__(self, dag: Any) -> None:
        self.dag = dag
        self.dag_run_id: str | None = None
        self.folder = log_folder() / _safe(dag.dag_id)
        self.path = self.folder / f"running-{os.getpid()}-{time.time_ns()}.log"
        self._write_lock = threading.Lock()
        self._announced: set[str] = set()
        self._errors: set[str] = set()
        self._saved: dict[str, Any] = {}

    # -- install / restore -------------------------------------------------------------------------

    def __enter__(self) -> RunLog:
        with _lock:
            if RunLog.active is not None:
                return RunLog.active
            RunLog.active = self
        self.folder.mkdir(parents=True, exist_ok=True)
        self.file = self.path.open("a", encoding="utf-8")
        root = logging.getLogger()
        self._saved["handlers"] = root.handlers[:]
        root.handlers[:] = [_StdlibHandler(self)]
        self._saved["processors"] = _install_processors(self)
        self._saved["run_task"] = _wrap_run_task(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if RunLog.active is not self:
            return
        import airflow.sdk.definitions.dag as sdk_dag

        if self._saved["run_task"] is not None:
            sdk_dag._run_task = self._saved["run_task"]  # type: ignore[attr-defined]
        processors, mine = self._saved["processors"]
        for processor in mine:
            if processor in processors:
                processors.remove(processor)
        logging.getLogger().handlers[:] = self._saved["handlers"]
        with _lock:
            RunLog.active = None
        if exc[1] is not None:
            self.write(time.time(), "error", __name__, "in-process run failed", {}, exc)
        self.file.close()
        final = self.path
        if self.dag_run_id is not None:
            final = log_file_for(self.dag.dag_id, self.dag_run_id)
            self.path.replace(final)
        self.console(f"Log of this run: {final}")

    # -- what goes where ---------------------------------------------------------------------------

    def console(self, line: str) -> None:
        print(line, file=sys.stdout, flush=True)

    def write(
        self, created: float, level: str, logger: str, message: str, extra: dict[str, Any], exc: Any
    ) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1e6):06d}Z"
        fields = "".join(f" {k}={v}" for k, v in extra.items())
        text = f"{stamp} {level.upper():<7} [{logger}] {message}{fields}\n"
        if exc:
            text += "".join(traceback.format_exception(*exc))
        with self._write_lock:
            self.file.write(text)
            self.file.flush()

    def route(self, level: str, logger: str, message: str, exc: Any) -> None:
        """Show ``message`` on the console when it is one of the lines a user wants."""
        if any(logger.startswith(prefix) and pattern.fullmatch(message) for prefix, pattern in CONSOLE_LINES):
            self.console(f"  {message}")
        elif level in ("error", "critical") and exc and exc[1] is not None:
            error = f"{type(exc[1]).__name__}: {exc[1]}"
            if error not in self._errors:  # Airflow logs a task's exception more than once
                self._errors.add(error)
                self.console(f"  {error}")

    # -- steps -------------------------------------------------------------------------------------

    def step_started(self, ti: Any, task: Any) -> None:
        if ti.run_id not in self._announced:
            self._announced.add(ti.run_id)
            run_id = _registry_run_id(ti, task)
            if run_id is not None:
                pipeline = getattr(task, "step_name", None) or getattr(task, "plans_pipeline", False)
                self.console(f"{'PipelineRun' if pipeline else 'Run'}Id: {run_id}")
        if not getattr(task, "plans_pipeline", False):  # the planner logs the steps it reuses
            self.console(f"{_label(task, ti)} Status: Running")

    def step_ended(self, ti: Any, task: Any) -> None:
        from airflow_mlw.runs.submitted import STATUS_BY_STATE

        if getattr(task, "plans_pipeline", False):
            return

        state = str(ti.state.value if hasattr(ti.state, "value") else ti.state)
        self.console(f"{_label(task, ti)} Status: {STATUS_BY_STATE.get(state, state)}")


def _safe(name: str) -> str:
    from airflow_mlw.naming import safe_id

    return safe_id(name)


def _label(task: Any, ti: Any) -> str:
    step = getattr(task, "step_name", None)
    if step:
        # A ParallelRunStep's plan task is the start of its step run, its gather task the end.
        return f"StepRun({step})" + (" plan" if getattr(task, "parallel_role", None) == "plan" else "")
    script = getattr(task, "script", None)
    return f"Run({script})" if script else f"Task({ti.task_id})"


def _registry_run_id(ti: Any, task: Any) -> str | None:
    """The id ``Experiment.submit`` returns: the pipeline run of a step, the run of a script."""
    if getattr(task, "run_id", None):
        return str(task.run_id)
    if not getattr(task, "step_name", None) and not getattr(task, "plans_pipeline", False):
        return None
    from airflow_mlw.execution.records import pipeline_run_id
    from airflow_mlw.operators.datastore import workspace_or_configured

    return pipeline_run_id(workspace_or_configured(getattr(task, "workspace", None)), ti.dag_id, ti.run_id)


def _wrap_run_task(run_log: RunLog) -> Any:
    """Step starts and ends from ``dag.test()``'s one-task runner; the original, to restore."""
    import airflow.sdk.definitions.dag as sdk_dag

    original = getattr(sdk_dag, "_run_task", None)
    if original is None:  # another Airflow: no step lines, the run is logged all the same
        return None

    def run_task(*, ti: Any, task: Any, **kwargs: Any) -> Any:
        run_log.step_started(ti, task)
        try:
            return original(ti=ti, task=task, **kwargs)
        finally:
            run_log.step_ended(ti, task)

    sdk_dag._run_task = run_task  # type: ignore[attr-defined]
    return original


def _install_processors(run_log: RunLog) -> tuple[list[Any], tuple[Any, Any]]:
    """Two processors in structlog's own list (edited in place, so cached loggers use them): the
    first notes the logger's name, the one before the renderer writes and drops the event."""
    import structlog

    processors = structlog.get_config()["processors"]

    def note_format(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        event["_mlw_logger"] = str(getattr(logger, "name", None) or event.get("logger") or "")
        return event

    def to_run_log(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        name = event.pop("logger", None) or event.pop("_mlw_logger", "")
        event.pop("_mlw_logger", None)
        level = str(event.pop("level", method))
        message = str(event.pop("event", ""))
        exc = _exc_info(event.pop("exc_info", None))
        for key in ("timestamp", "loc", "logger_name"):
            event.pop(key, None)
        run_log.write(time.time(), level, name, message, event, exc)
        run_log.route(level, name, message, exc)
        raise structlog.DropEvent

    processors.insert(0, note_format)
    processors.insert(len(processors) - 1, to_run_log)
    return processors, (note_format, to_run_log)


def _exc_info(value: Any) -> Any:
    if value is True:
        value = sys.exc_info()
    if isinstance(value, BaseException):
        return (type(value), value, value.__traceback__)
    if isinstance(value, tuple) and len(value) == 3 and value[1] is not None:
        return value
    return None


class _StdlibHandler(logging.Handler):
    """The root logger's only handler during an in-process run."""

    def __init__(self, run_log: RunLog) -> None:
        super().__init__(logging.INFO)
        self.run_log = run_log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            level = record.levelname.lower()
            exc = record.exc_info if record.exc_info and record.exc_info[1] is not None else None
            self.run_log.write(record.created, level, record.name, message, {}, exc)
            self.run_log.route(level, record.name, message, exc)
        except Exception:
            self.handleError(record)
