"""The driver's worker processes: each imports the entry script, calls ``init()`` once and
``run(mini_batch)`` per batch; a pool that kills an overrunning ``run()`` and applies the thresholds."""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import os
import sys
import time
import traceback
import types
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any

from airflow_mlw.parallel_driver.batches import Batch

log = logging.getLogger("airflow_mlw.parallel_run")
OUTPUT_ENV = "MLW_PARALLEL_OUTPUT_DIR"


class EntryScript:
    """What an entry script asks of its step: ``logger`` and ``output_dir`` (Azure's names)."""

    @property
    def logger(self) -> logging.Logger:
        return logging.getLogger("parallel_run.entry_script")

    @property
    def output_dir(self) -> str:
        return os.environ.get(OUTPUT_ENV, os.getcwd())

    @property
    def working_dir(self) -> str:
        return os.getcwd()


def _install_user_modules() -> None:
    """``airflow_mlw_user.parallel_run`` and ``azureml_user.parallel_run`` for entry scripts."""
    for root in ("airflow_mlw_user", "azureml_user"):
        package = types.ModuleType(root)
        package.__path__ = []
        module = types.ModuleType(f"{root}.parallel_run")
        module.EntryScript = EntryScript  # type: ignore[attr-defined]
        package.parallel_run = module  # type: ignore[attr-defined]
        sys.modules.setdefault(root, package)
        sys.modules.setdefault(f"{root}.parallel_run", module)


# -- workers ---------------------------------------------------------------------------------------


#: The batches by index, as the forked workers see them.
_BATCHES: dict[int, Batch] = {}


def _worker(connection: Connection, entry: str, arguments: list[str], output_action: str) -> None:
    """One worker process: import the entry script, ``init()`` once, then ``run()`` per batch."""
    if sys.platform == "linux":  # killed with the driver, even when the driver is SIGKILLed
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    _install_user_modules()
    sys.argv = [entry, *arguments]
    sys.path.insert(0, os.path.dirname(os.path.abspath(entry)))
    try:
        spec = importlib.util.spec_from_file_location("mlw_entry_script", entry)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        if not callable(getattr(module, "run", None)):
            connection.send(
                ("fatal", f"entry script {os.path.basename(entry)} defines no run(mini_batch) function")
            )
            return
        if callable(getattr(module, "init", None)):
            module.init()
    except BaseException:
        connection.send(("fatal", f"init() of {os.path.basename(entry)} failed:\n{traceback.format_exc()}"))
        return
    connection.send(("ready", None))
    while True:
        index = connection.recv()
        if index is None:
            return
        batch = _BATCHES[index]
        try:
            result = module.run(batch.items)
            connection.send(("ok", index, _rows(result, batch, output_action)))
        except BaseException:
            connection.send(("error", index, traceback.format_exc(limit=5).strip().splitlines()[-1]))


def _rows(result: Any, batch: Batch, output_action: str) -> list[str] | None:
    """``append_row``: one text line per input item; a wrong count names the batch."""
    if output_action != "append_row":
        return None
    if hasattr(result, "to_csv"):
        lines = result.to_csv(sep=" ", header=False, index=False).splitlines()
    elif isinstance(result, list | tuple):
        lines = [str(item) for item in result]
    else:
        raise TypeError(
            f"run() must return a list or a DataFrame for append_row, not {type(result).__name__}"
        )
    if len(lines) != batch.count:
        raise ValueError(
            f"run() returned {len(lines)} rows for mini-batch {batch.index} ({batch.label}) of {batch.count} items"
        )
    return lines


class Pool:
    """``size`` workers; a worker whose ``run()`` overruns the timeout is killed and replaced."""

    def __init__(self, size: int, entry: str, arguments: list[str], config: dict[str, Any]) -> None:
        self.context = multiprocessing.get_context("fork")
        self.entry, self.arguments, self.config = entry, arguments, config
        self.workers: dict[Connection, tuple[Any, Batch | None, float]] = {}
        for _ in range(size):
            self._start()

    def _start(self) -> None:
        parent, child = self.context.Pipe()
        process = self.context.Process(
            target=_worker,
            args=(child, self.entry, self.arguments, self.config["output_action"]),
            daemon=True,
        )
        process.start()
        child.close()
        message = parent.recv() if parent.poll(None) else ("fatal", "worker ended")
        if message[0] == "fatal":
            process.join(5)
            raise SystemExit(message[1])
        self.workers[parent] = (process, None, 0.0)

    def idle(self) -> list[Connection]:
        return [c for c, (_, batch, _) in self.workers.items() if batch is None]

    def busy(self) -> bool:
        return any(batch is not None for _, batch, _ in self.workers.values())

    def give(self, connection: Connection, batch: Batch) -> None:
        process, _, _ = self.workers[connection]
        batch.tries += 1
        self.workers[connection] = (process, batch, time.monotonic())
        connection.send(batch.index)

    def collect(self, timeout: float) -> list[tuple[Batch, str | None, Any, float]]:
        """Finished batches: (batch, error or None, rows, seconds); overruns are killed here."""
        done: list[tuple[Batch, str | None, Any, float]] = []
        ready = wait([c for c, (_, b, _) in self.workers.items() if b is not None], timeout)
        for connection in ready:
            assert isinstance(connection, Connection)
            process, batch, started = self.workers[connection]
            try:
                message = connection.recv()
            except EOFError:
                message = ("error", batch.index, f"worker process died (exit code {process.exitcode})")  # type: ignore[union-attr]
            assert batch is not None
            self.workers[connection] = (process, None, 0.0)
            if message[0] == "ok":
                done.append((batch, None, message[2], time.monotonic() - started))
            else:
                done.append((batch, message[2], None, time.monotonic() - started))
                if not process.is_alive():
                    self._replace(connection)
        limit = self.config["run_invocation_timeout"]
        for connection, (process, batch, started) in list(self.workers.items()):
            if batch is not None and time.monotonic() - started > limit:
                process.kill()
                done.append((batch, f"run() timed out after {limit} s (run_invocation_timeout)", None, limit))
                self._replace(connection)
        return done

    def _replace(self, connection: Connection) -> None:
        process, _, _ = self.workers.pop(connection)
        process.join(5)
        connection.close()
        self._start()

    def close(self) -> None:
        for connection, (process, _, _) in self.workers.items():
            try:
                connection.send(None)
            except OSError:
                pass
            process.join(2)
            if process.is_alive():
                process.kill()
                process.join(2)


# -- the step --------------------------------------------------------------------------------------


def over_threshold(config: dict[str, Any], failed: list[Batch], total: int) -> str | None:
    """Why the failures so far end the step, or ``None`` (``-1`` ignores a threshold)."""
    items = sum(b.count for b in failed)
    threshold = config["error_threshold"]
    if threshold != -1 and items > threshold:
        return f"{items} failed item(s) exceed error_threshold={threshold}"
    count = config.get("allowed_failed_count")
    if count is not None and count != -1 and len(failed) > count:
        return f"{len(failed)} failed mini-batch(es) exceed allowed_failed_count={count}"
    percent = config.get("allowed_failed_percent")
    if percent is not None and percent != -1 and total and 100 * len(failed) / total > percent:
        return f"{len(failed)} of {total} mini-batches failed, over allowed_failed_percent={percent}"
    return None


def run_batches(
    config: dict[str, Any],
    batches: list[Batch],
    entry: str,
    arguments: list[str],
    total: int,
    on_result: Callable[[Batch, bool], None],
) -> list[Batch]:
    """Run ``batches`` (``on_result(batch, ok)`` as each succeeds or fails for good); those that
    failed for good. The step fails
    (``SystemExit``) as soon as they exceed the thresholds (``total``: the step's batch count)."""
    global _BATCHES
    _BATCHES = {b.index: b for b in batches}
    size = config.get("process_count_per_node") or os.cpu_count() or 1
    pool = Pool(min(size, max(1, len(batches))), entry, arguments, config)
    pending = list(reversed(batches))
    failed: list[Batch] = []
    try:
        while pending or pool.busy():
            for connection in pool.idle():
                if pending:
                    pool.give(connection, pending.pop())
            for batch, error, rows, seconds in pool.collect(0.2):
                batch.seconds += seconds
                if error is None:
                    batch.result = rows if rows is not None else []
                    on_result(batch, True)
                    continue
                batch.errors.append(error)
                log.warning(
                    "mini-batch %d (%s) try %d failed: %s", batch.index, batch.label, batch.tries, error
                )
                if batch.tries < config["run_max_try"]:
                    pending.append(batch)
                    continue
                failed.append(batch)
                on_result(batch, False)
                reason = over_threshold(config, failed, total)
                if reason:
                    raise SystemExit(f"ParallelRunStep failed: {reason}; {describe(failed)}")
    finally:
        pool.close()
    return failed


def describe(failed: list[Batch]) -> str:
    shown = "; ".join(f"mini-batch {b.index} ({b.label}): {b.errors[-1]}" for b in failed[:5])
    return f"failed: {shown}" + (" …" if len(failed) > 5 else "")
