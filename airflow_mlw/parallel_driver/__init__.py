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
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from airflow_mlw.parallel_driver.batches import Batch, batch_key, plan
from airflow_mlw.parallel_driver.workers import (
    OUTPUT_ENV,
    EntryScript,
    describe,
    over_threshold,
    run_batches,
)

__all__ = ["Batch", "EntryScript", "describe", "main", "over_threshold", "plan", "run_batches"]
log = logging.getLogger("airflow_mlw.parallel_run")
#: In the ``--mlw-store`` folder: the keys committed before this try (written by the operator),
#: this shard's report and progress (read by the operator), and the entry script's ``output_dir``.
DONE_FILE = ".done"
MANIFEST_FILE = ".shard.json"
PROGRESS_FILE = ".progress.json"
OUTPUT_FOLDER = ".output"
PROGRESS_EVERY = 0.25


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

    shown = [time.monotonic()]

    def on_result(batch: Batch, ok: bool) -> None:
        if ok:
            commit_batch(store, keys[batch.index], batch)
        progress["done" if ok else "failed"] += 1
        if time.monotonic() - shown[0] >= PROGRESS_EVERY:  # the operator reads it every 0.5 s
            write_progress(store, progress)
            shown[0] = time.monotonic()

    if todo:
        try:
            run_batches(config, todo, entry, arguments, len(batches), on_result)
        except SystemExit as stop:
            fatal = str(stop)
    write_progress(store, progress)  # the final counts
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
