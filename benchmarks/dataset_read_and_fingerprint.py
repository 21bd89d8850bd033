"""Issue 4 figures: tabular reads and fingerprinting against their plain baselines, same process.

- 20 CSV files, about 400 MB: ``to_pandas_dataframe()`` of a registered version (drift check
  included) vs ``pyarrow.dataset.dataset(files, format='csv').to_table().to_pandas()`` (target
  <= 1.1x) and vs ``pd.concat([pd.read_csv(f) ...])`` (target >= 1.8x faster); the same read from
  an S3 datastore (moto) is reported as a ratio to the local read (cold cache, then warm).
- Fingerprinting a 1 GB tree: first pass throughput vs ``hashlib.file_digest(f, 'sha256')`` over
  the same bytes (target >= 0.8x), second pass over the unchanged tree (target >= 50x faster).

Usage: python benchmarks/dataset_read_and_fingerprint.py [read] [fingerprint] [s3]
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _report import report  # noqa: E402

ROUNDS = 3


def timed(work, *args, **kwargs) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    work(*args, **kwargs)
    return time.perf_counter() - started


def make_csvs(folder: Path, count: int = 20, rows: int = 330_000) -> list[Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    paths = []
    for i in range(count):
        table = pa.table(
            {
                "id": np.arange(rows) + i * rows,
                "x": rng.random(rows),
                "y": rng.normal(size=rows),
                "n": rng.integers(0, 1000, rows),
                "label": pa.array(rng.choice(["alpha", "beta", "gamma", "delta"], rows)),
                "z": rng.random(rows) * 1e6,
            }
        )
        path = folder / f"part{i:02d}.csv"
        pa_csv.write_csv(table, path)
        paths.append(path)
    return paths


def bench_read(scratch: Path, with_s3: bool) -> None:
    import pandas as pd
    import pyarrow.dataset as pa_ds

    from airflow_mlw import Datastore, Workspace
    from airflow_mlw.datasets import Dataset

    ws = Workspace.create("bench", registry_url=f"sqlite:///{scratch / 'registry.db'}")
    store = Datastore.register_local(ws, "bench_local", scratch / "store")
    files = make_csvs(scratch / "store" / "csv")
    total = sum(p.stat().st_size for p in files)
    table = Dataset.Tabular.from_delimited_files((store, "csv/*.csv")).register(ws, "big")
    ours, arrow, pandas_concat = [], [], []
    for _ in range(ROUNDS):
        arrow.append(
            timed(lambda: pa_ds.dataset([str(p) for p in files], format="csv").to_table().to_pandas())
        )
        ours.append(timed(table.to_pandas_dataframe))
        pandas_concat.append(timed(lambda: pd.concat([pd.read_csv(p) for p in files])))
    o, a, p = statistics.median(ours), statistics.median(arrow), statistics.median(pandas_concat)
    print(f"tabular read of {len(files)} CSV files, {total / 1e6:.0f} MB:")
    size = f"{len(files)} CSV files, {total / 1e6:.0f} MB"
    report(
        f"tabular read ({size}): to_pandas_dataframe vs pyarrow.dataset, time ratio",
        f"{o:.2f} s",
        f"{a:.2f} s",
        o / a,
        "<= 1.1",
        line=f"  to_pandas_dataframe {o:6.2f}s  pyarrow.dataset {a:6.2f}s  ratio {o / a:.2f} [<= 1.1]",
    )
    report(
        f"tabular read ({size}): speed-up over pd.concat(read_csv)",
        f"{o:.2f} s",
        f"{p:.2f} s",
        p / o,
        ">= 1.8",
        line=f"  to_pandas_dataframe {o:6.2f}s  pd.concat(read_csv) {p:6.2f}s  speed-up {p / o:.2f}x [>= 1.8]",
    )
    if with_s3:
        bench_read_s3(ws, store, scratch, o)


def bench_read_s3(ws, store, scratch: Path, local_seconds: float) -> None:  # type: ignore[no-untyped-def]
    import boto3

    from airflow_mlw import Datastore
    from airflow_mlw.datasets import Dataset
    from tests import services

    server = services.start_moto()
    try:
        endpoint = f"http://127.0.0.1:{server.port}"
        os.environ["AIRFLOW_CONN_BENCH_S3"] = (
            f'{{"conn_type": "aws", "login": "k", "password": "s", "extra": {{"endpoint_url": "{endpoint}", "region_name": "us-east-1"}}}}'
        )
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="k",
            aws_secret_access_key="s",
            region_name="us-east-1",
        ).create_bucket(Bucket="bench-read")
        s3 = Datastore.register_s3_bucket(ws, "bench_s3", "bench-read", aws_conn_id="bench_s3")
        s3.upload(scratch / "store" / "csv", "csv", show_progress=False)
        table = Dataset.Tabular.from_delimited_files((s3, "csv/*.csv")).register(ws, "big_s3")
        cold = timed(table.to_pandas_dataframe)
        warm = statistics.median(timed(table.to_pandas_dataframe) for _ in range(ROUNDS))
        line = (
            f"  S3 (moto): cold {cold:6.2f}s ({cold / local_seconds:.2f}x local), "
            f"warm cache {warm:6.2f}s ({warm / local_seconds:.2f}x local)"
        )
        report(
            "tabular read from S3 (moto), cold cache vs local read",
            f"{cold:.2f} s",
            f"{local_seconds:.2f} s",
            cold / local_seconds,
            "reported",
            line=line,
        )
        report(
            "tabular read from S3 (moto), warm cache vs local read",
            f"{warm:.2f} s",
            f"{local_seconds:.2f} s",
            warm / local_seconds,
            "reported",
            line="",
        )
    finally:
        server.stop()


def bench_fingerprint(scratch: Path) -> None:
    from airflow_mlw.datasets import Dataset
    from airflow_mlw.datastores import checksums

    tree = scratch / "tree"
    tree.mkdir()
    block = os.urandom(16 << 20)
    for i in range(64):
        (tree / f"d{i % 4}").mkdir(exist_ok=True)
        (tree / f"d{i % 4}" / f"f{i:02d}.bin").write_bytes(block[i:] + block[:i])
    files = sorted(p for p in tree.rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in files)

    def plain() -> None:
        for path in files:
            with open(path, "rb") as handle:
                hashlib.file_digest(handle, "sha256")

    plain()  # warm the page cache for both sides
    baseline = statistics.median(timed(plain) for _ in range(ROUNDS))
    firsts, seconds = [], []
    for round_ in range(ROUNDS):
        os.environ["AIRFLOW_HOME"] = str(scratch / f"home{round_}")
        checksums._memos.clear()
        definition = Dataset.File.from_files(str(tree) + "/**")
        firsts.append(timed(lambda d=definition: d.fingerprint))
        seconds.append(timed(lambda d=definition: d.fingerprint))
    first, second = statistics.median(firsts), statistics.median(seconds)
    print(f"fingerprint of {len(files)} files, {total / 1e9:.2f} GB:")
    size = f"{len(files)} files, {total / 1e9:.2f} GB"
    report(
        f"fingerprint ({size}), first pass vs hashlib.file_digest, throughput ratio",
        f"{total / first / 1e6:.0f} MB/s",
        f"{total / baseline / 1e6:.0f} MB/s",
        baseline / first,
        ">= 0.8",
        line=f"  first pass {first:6.2f}s ({total / first / 1e6:6.0f} MB/s)  hashlib.file_digest {baseline:6.2f}s "
        f"({total / baseline / 1e6:6.0f} MB/s)  throughput ratio {baseline / first:.2f} [>= 0.8]",
    )
    report(
        f"fingerprint ({size}), unchanged second pass: speed-up over the first",
        f"{second * 1000:.1f} ms",
        f"{first:.2f} s",
        first / second,
        ">= 50",
        line=f"  second pass {second * 1000:6.1f} ms  speed-up {first / second:.0f}x [>= 50]",
    )


def main() -> None:
    wanted = set(sys.argv[1:]) or {"read", "fingerprint", "s3"}
    scratch = Path(tempfile.mkdtemp(prefix="mlw-bench-datasets-"))
    os.environ["AIRFLOW_HOME"] = str(scratch / "airflow")
    try:
        if "read" in wanted or "s3" in wanted:
            bench_read(scratch, "s3" in wanted)
        if "fingerprint" in wanted:
            bench_fingerprint(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
