"""The process a ``ParallelRunStep`` runs: ``python -m airflow_mlw.parallel_driver --mlw-config JSON
--mlw-input NAME [--mlw-output PATH] -- <entry script arguments>``.

Standard library only (pandas for Tabular inputs, from the environment): it runs in the step's
environment, in a container too. It splits the input into mini-batches, starts
``process_count_per_node`` worker processes (each imports the entry script and calls ``init()``
once), hands each a mini-batch at a time (``run(mini_batch)``: a list of file paths, or a pandas
DataFrame), kills and replaces a worker whose ``run()`` exceeds ``run_invocation_timeout``,
retries a failed mini-batch up to ``run_max_try`` times, stops as soon as the failures exceed the
thresholds, and writes ``append_row`` results in input order. ``EntryScript`` (``from
airflow_mlw_user.parallel_run import EntryScript``, or ``azureml_user`` as unrenamed scripts have
it) gives the entry script a logger and its output folder.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import multiprocessing
import os
import sys
import time
import traceback
import types
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

log = logging.getLogger("airflow_mlw.parallel_run")
OUTPUT_ENV = "MLW_PARALLEL_OUTPUT_DIR"
#: In the ``--mlw-store`` folder: the keys committed before this try (written by the operator),
#: this shard's report (read by the operator), and the entry script's ``output_dir``.
DONE_FILE = ".done"
MANIFEST_FILE = ".shard.json"
PROGRESS_FILE = ".progress.json"
OUTPUT_FOLDER = ".output"


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


class Batch:
    """One mini-batch: its position, what ``run()`` gets, and how many items it holds."""

    def __init__(self, index: int, items: Any, count: int, label: str) -> None:
        self.index = index
        self.items = items
        self.count = count
        self.label = label
        self.tries = 0
        self.errors: list[str] = []
        self.seconds = 0.0
        self.result: list[str] | None = None


# -- planning --------------------------------------------------------------------------------------


def plan(config: dict[str, Any], data: Any) -> list[Batch]:
    """The mini-batches of ``data`` (``run.input_datasets[...]``), in input order."""
    spec = config["mini_batch"]
    if getattr(data, "kind", "file") == "tabular":
        frame = data.to_pandas_dataframe()
        if spec.get("partitions"):
            keys = config["partition_keys"]
            missing = [k for k in keys if k not in frame.columns]
            if missing:
                raise SystemExit(
                    f"partition_keys {missing} are not columns of the input: {list(frame.columns)}"
                )
            groups = frame.groupby(keys, sort=False, dropna=False).indices
            return [
                Batch(
                    i,
                    frame.iloc[rows].reset_index(drop=True),
                    len(rows),
                    f"{dict(zip(keys, _tuple(key), strict=False))}",
                )
                for i, (key, rows) in enumerate(groups.items())
            ]
        per_row = max(1, int(frame.memory_usage(index=False, deep=True).sum()) // max(1, len(frame)))
        rows = max(1, spec["bytes"] // per_row)
        return [
            Batch(
                i,
                frame.iloc[start : start + rows].reset_index(drop=True),
                len(frame.iloc[start : start + rows]),
                f"rows {start}-{min(start + rows, len(frame)) - 1}",
            )
            for i, start in enumerate(range(0, len(frame), rows))
        ]
    root = Path(str(data))
    files = sorted(_files_below(str(root))) if root.is_dir() else [str(root)]
    if spec.get("partitions"):
        from airflow_mlw.datasets.partitions import parse_format

        fmt_text = getattr(data, "partition_format", None)
        if not fmt_text:
            raise SystemExit("partition_keys need an input dataset defined with partition_format")
        fmt = parse_format(fmt_text)
        unknown = [k for k in config["partition_keys"] if k not in fmt.keys]
        if unknown:
            raise SystemExit(f"partition_keys {unknown} are not keys of partition_format {fmt_text!r}")
        by_key: dict[tuple[Any, ...], list[str]] = {}
        for path in files:
            relative = os.path.relpath(path, root)
            values = fmt.values(_Entry(relative)) or {}  # type: ignore[arg-type]
            by_key.setdefault(tuple(values.get(k) for k in config["partition_keys"]), []).append(path)
        return [
            Batch(i, paths, len(paths), str(dict(zip(config["partition_keys"], key, strict=False))))
            for i, (key, paths) in enumerate(by_key.items())
        ]
    size = spec["files"]
    return [
        Batch(
            i,
            files[start : start + size],
            len(files[start : start + size]),
            f"files {start}-{min(start + size, len(files)) - 1}",
        )
        for i, start in enumerate(range(0, len(files), size))
    ]


def _files_below(folder: str) -> list[str]:
    """Every file below ``folder`` (links followed: a mounted input is links to its files)."""
    found = []
    for entry in os.scandir(folder):
        if entry.is_dir():
            found.extend(_files_below(entry.path))
        elif entry.is_file():
            found.append(entry.path)
    return found


class _Entry:
    """The two fields ``PartitionFormat.values`` reads."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.location = path


def _tuple(key: Any) -> tuple[Any, ...]:
    return key if isinstance(key, tuple) else (key,)


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


# -- shards: one mapped task's share, committed batch by batch -------------------------------------


def batch_key(salt: str, batch: Batch, root: str | None, known: dict[str, str] | None = None) -> str:
    """What a batch's result depends on: the step (``salt``: script, configuration, environment,
    side inputs) and the content of its items — file paths and bytes (``known``: relative path ->
    content hash from the input's validated manifest, so the file is not read), or the rows."""
    digest = hashlib.sha256(salt.encode())
    if isinstance(batch.items, list):
        for path in batch.items:
            relative = os.path.relpath(path, root) if root else path
            digest.update(relative.encode())
            if known and relative in known:
                digest.update(known[relative].encode())
                continue
            with open(path, "rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
    else:
        import pandas

        digest.update(",".join(map(str, batch.items.columns)).encode())
        digest.update(pandas.util.hash_pandas_object(batch.items, index=False).values.tobytes())
    return digest.hexdigest()[:40]


def commit_batch(store: Path, key: str, batch: Batch) -> None:
    """A finished batch's rows as ``<key>.txt``, whole or not at all (a temp name, then a rename)."""
    partial = store / f".{key}.partial"
    with open(partial, "w") as handle:
        handle.writelines(line + "\n" for line in batch.result or [])
    partial.replace(store / f"{key}.txt")


def write_progress(store: Path, progress: dict[str, int]) -> None:
    """``{"done", "failed", "of"}`` for the operator to show while the shard runs."""
    partial = store / f".{PROGRESS_FILE}.partial"
    partial.write_text(json.dumps(progress))
    partial.replace(store / PROGRESS_FILE)


def run_shard(
    config: dict[str, Any],
    batches: list[Batch],
    shard: tuple[int, int],
    store: Path,
    entry: str,
    arguments: list[str],
) -> dict[str, Any]:
    """This shard's batches (every ``count``-th): those whose key is committed already (an earlier
    try of this task, or an earlier run with the same items) are not run again."""
    number, count = shard
    mine = [b for b in batches if b.index % count == number]
    done_file = store / DONE_FILE
    done = set(done_file.read_text().split()) if done_file.exists() else set()
    root = config.get("input_root")
    known = config.get("content_hashes")
    keys = {b.index: batch_key(config["salt"], b, root, known) for b in mine}
    todo = [b for b in mine if keys[b.index] not in done]
    log.info(
        "shard %d of %d: %d mini-batch(es), %d committed already, %d to run",
        number + 1,
        count,
        len(mine),
        len(mine) - len(todo),
        len(todo),
    )
    fatal = None
    progress = {"done": len(mine) - len(todo), "failed": 0, "of": len(mine)}
    write_progress(store, progress)

    def on_result(batch: Batch, ok: bool) -> None:
        if ok:
            commit_batch(store, keys[batch.index], batch)
        progress["done" if ok else "failed"] += 1
        write_progress(store, progress)

    if todo:
        try:
            run_batches(config, todo, entry, arguments, len(batches), on_result)
        except SystemExit as stop:
            fatal = str(stop)
    return {
        "shard": number,
        "fatal": fatal,
        "batches": [
            {
                "index": b.index,
                "key": keys[b.index],
                "count": b.count,
                "label": b.label,
                "seconds": round(b.seconds, 3),
                "reused": keys[b.index] in done,
                "error": b.errors[-1] if b.errors and b.result is None else None,
            }
            for b in mine
        ],
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    own, arguments = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(prog="airflow_mlw.parallel_driver")
    parser.add_argument("--mlw-config", required=True)
    parser.add_argument("--mlw-input", required=True)
    parser.add_argument("--mlw-store", required=True, help="folder for the committed batches")
    parser.add_argument("--mlw-shard", default="0/1", help="this shard's number and the shard count")
    parser.add_argument("--mlw-salt", default="", help="the step's key without its main input")
    options = parser.parse_args(own)
    config = json.loads(options.mlw_config)
    config["salt"] = options.mlw_salt
    logging.basicConfig(
        level=config.get("logging_level") or "INFO", format="%(asctime)s %(levelname)s %(message)s"
    )
    from airflow_mlw.run import Run

    run = Run.get_context()
    entry = os.path.abspath(config["entry_script"])
    if not os.path.isfile(entry):
        raise SystemExit(f"entry_script {config['entry_script']!r} not found in the source directory")
    store = Path(options.mlw_store)
    output = store / OUTPUT_FOLDER
    output.mkdir(parents=True, exist_ok=True)
    os.environ[OUTPUT_ENV] = str(output)
    data = run.input_datasets[options.mlw_input]
    config["input_root"] = str(data) if getattr(data, "kind", "file") != "tabular" else None
    config["content_hashes"] = getattr(data, "content_hashes", None)
    batches = plan(config, data)
    number, _, count = options.mlw_shard.partition("/")
    started = time.monotonic()
    report = run_shard(config, batches, (int(number), int(count)), store, entry, arguments)
    seconds = time.monotonic() - started
    mine = report["batches"]
    failed = [b for b in mine if b["error"]]
    items = sum(b["count"] for b in mine if not b["reused"])
    log.info(
        "%d item(s) in %.1f s (%.1f items/s); %d mini-batch(es) failed%s",
        items,
        seconds,
        items / seconds if seconds else 0.0,
        len(failed),
        f": {report['fatal']}" if report["fatal"] else "",
    )
    partial = store / f".{MANIFEST_FILE}.partial"
    partial.write_text(json.dumps(report))
    partial.replace(store / MANIFEST_FILE)
    run.log("mini_batches", len(mine))
    run.log("failed_mini_batches", len(failed))
    run.log("items", sum(b["count"] for b in mine))
    run.log("failed_items", sum(b["count"] for b in failed))
    run.log("reused_mini_batches", sum(1 for b in mine if b["reused"]))
    if report["fatal"]:
        raise SystemExit(report["fatal"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
