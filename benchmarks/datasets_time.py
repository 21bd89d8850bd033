"""Issue 16 figures for time series and partitions, side by side in one process:

- ``time_between`` one week of a 2-year daily-partitioned CSV dataset (730 files) vs reading the
  whole dataset: files opened and time (the week must open 7 files, not 730);
- ``partition_by`` of a large CSV (``MLW_BENCH_PARTITION_MB``, default 1024 MB) into Hive-style
  Parquet vs ``pyarrow.dataset.write_dataset`` of the same file directly (target <= 1.2x). The
  source dataset is registered first (its content hash memoised, as after any registration).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from _report import report

DAYS = 730
ROWS_PER_DAY = 200
ROUNDS = 3


def daily(root: Path) -> None:
    start = datetime(2023, 1, 1)
    for offset in range(DAYS):
        day = start + timedelta(days=offset)
        folder = root / "daily" / f"{day:%Y/%m/%d}"
        folder.mkdir(parents=True)
        rows = "".join(f"{offset},{i},{(i * 7919) % 1000 / 10}\n" for i in range(ROWS_PER_DAY))
        (folder / "data.csv").write_text("day,i,value\n" + rows)


def big_csv(path: Path, megabytes: int) -> None:
    line_block = "".join(
        f"{d},{i % 97},{i * 0.5},{'x' * 40}\n" for i, d in enumerate(["HR", "IT", "OPS", "FIN"] * 2500)
    )
    target = megabytes * 1024 * 1024
    with open(path, "w") as handle:
        handle.write("Dept,Shift,v,pad\n")
        written = 0
        while written < target:
            handle.write(line_block)
            written += len(line_block)


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="mlw-bench-time-"))
    os.environ.setdefault("AIRFLOW_HOME", str(scratch / "airflow"))
    import pyarrow.dataset as pa_ds

    from airflow_mlw.core import Dataset, Datastore, Workspace
    from airflow_mlw.datasets import tabular
    from airflow_mlw.pipelines.data import DataPath

    ws = Workspace.create("bench", registry_url=f"sqlite:///{scratch / 'registry.db'}")
    store = Datastore.register_local(ws, "bench_store", scratch / "store")
    daily(scratch / "store")
    tab = Dataset.Tabular.from_delimited_files(
        (store, "daily/**/*.csv"), partition_format="/{PartitionDate:yyyy/MM/dd}/data.csv"
    ).with_timestamp_columns("PartitionDate")
    tab = tab.register(ws, "daily")

    opened: list[int] = []
    real = tabular.read_table

    def counting(fmt, entries, row_filters=None):  # type: ignore[no-untyped-def]
        opened.append(len(entries))
        return real(fmt, entries, row_filters)

    tabular.read_table = counting  # type: ignore[assignment]
    week = tab.time_between(datetime(2024, 6, 3), datetime(2024, 6, 9))
    week_times, all_times = [], []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        rows_week = week.to_arrow_table().num_rows
        week_times.append(time.perf_counter() - t)
        files_week = opened[-1]
        t = time.perf_counter()
        rows_all = tab.to_arrow_table().num_rows
        all_times.append(time.perf_counter() - t)
        files_all = opened[-1]
    tabular.read_table = real  # type: ignore[assignment]
    assert rows_week == 7 * ROWS_PER_DAY and rows_all == DAYS * ROWS_PER_DAY, (rows_week, rows_all)
    ours, everything = statistics.median(week_times), statistics.median(all_times)
    report(
        f"time_between one week of {DAYS} daily partitions vs reading all",
        f"{ours * 1000:.0f} ms, {files_week} files opened",
        f"{everything * 1000:.0f} ms, {files_all} files opened",
        ours / everything,
        "files opened = 7",
    )

    megabytes = int(os.environ.get("MLW_BENCH_PARTITION_MB", "1024"))
    source = scratch / "store" / "big" / "rows.csv"
    source.parent.mkdir(parents=True)
    big_csv(source, megabytes)
    big = Dataset.Tabular.from_delimited_files((store, "big/rows.csv")).register(ws, "big")
    ours_times, direct_times = [], []
    for round_number in range(ROUNDS):
        target = f"parted-{round_number}"
        t = time.perf_counter()
        big.partition_by(["Dept", "Shift"], DataPath(store, target), show_progress=False)
        ours_times.append(time.perf_counter() - t)
        shutil.rmtree(scratch / "store" / target)
        direct = scratch / f"direct-{round_number}"
        t = time.perf_counter()
        pa_ds.write_dataset(
            pa_ds.dataset(str(source), format="csv"),
            str(direct),
            format="parquet",
            partitioning=["Dept", "Shift"],
            partitioning_flavor="hive",
        )
        direct_times.append(time.perf_counter() - t)
        shutil.rmtree(direct)
    ours, direct_time = min(ours_times), min(direct_times)
    report(
        f"partition_by of a {megabytes} MB CSV vs pyarrow.dataset.write_dataset",
        f"{ours:.1f} s",
        f"{direct_time:.1f} s",
        ours / direct_time,
        "<= 1.2",
    )
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
