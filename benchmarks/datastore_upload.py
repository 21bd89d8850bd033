"""Issue 3 figures: datastore uploads against their plain baselines, side by side in one process.

Tree: 2,000 files of 1-100 KB plus 4 files of 100 MB (about 500 MB).
- local: ``Datastore.upload`` vs ``cp -r`` (target <= 1.3x), and an unchanged re-run vs the first
  upload (target < 10%); each copy starts after ``sync`` (no write-back of the previous one during
  it), the two alternate which goes first, 5 rounds;
- S3 (moto server) and Azure Blob (Azurite): throughput vs a plain boto3 / azure-storage-blob
  upload loop on a thread pool of the same size (target >= 0.9x), and vs a sequential loop.
Each variant runs ROUNDS times alternating with its baseline; medians are printed.

Usage: python benchmarks/datastore_upload.py [local|s3|blob ...]
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _report import report as report_figure  # noqa: E402

ROUNDS = 3
LOCAL_ROUNDS = 5
SMALL_FILES = 2000
BIG_FILES = 4
BIG_SIZE = 100 << 20


def make_tree(root: Path) -> int:
    rng = random.Random(7)
    total = 0
    for i in range(SMALL_FILES):
        path = root / f"d{i % 40:02d}" / f"s{i % 3}" / f"f{i:04d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        size = rng.randint(1 << 10, 100 << 10)
        path.write_bytes(rng.randbytes(size))
        total += size
    block = os.urandom(1 << 20)
    for i in range(BIG_FILES):
        with open(root / f"big{i}.bin", "wb") as handle:
            for j in range(BIG_SIZE >> 20):
                handle.write(block[j % 97 :] + block[: j % 97 + i])
        total += (root / f"big{i}.bin").stat().st_size
    return total


def files_of(root: Path) -> list[tuple[Path, str]]:
    return [(p, p.relative_to(root).as_posix()) for p in sorted(root.rglob("*")) if p.is_file()]


def timed(work: Callable[..., object], *args: object, **kwargs: object) -> float:
    started = time.perf_counter()
    work(*args, **kwargs)
    return time.perf_counter() - started


def report(label: str, ours: list[float], base: list[float], total: int, target: str) -> None:
    o, b = statistics.median(ours), statistics.median(base)
    by_time = target.startswith("time ratio")
    report_figure(
        f"{label} ({total / 1e6:.0f} MB), {'time' if by_time else 'throughput'} ratio",
        f"{o:.2f} s ({total / o / 1e6:.0f} MB/s)",
        f"{b:.2f} s ({total / b / 1e6:.0f} MB/s)",
        o / b if by_time else b / o,
        target.removeprefix("time ratio ").removeprefix("throughput ratio "),
        line=f"{label:<44} airflow_mlw {o:6.2f}s ({total / o / 1e6:6.1f} MB/s)  baseline {b:6.2f}s "
        f"({total / b / 1e6:6.1f} MB/s)  time ratio {o / b:.2f}  throughput ratio {b / o:.2f}  [{target}]",
    )


def workspace(home: Path):  # type: ignore[no-untyped-def]
    from airflow_mlw import Workspace

    return Workspace.create(f"bench{uuid.uuid4().hex[:6]}", registry_url=f"sqlite:///{home / 'registry.db'}")


def bench_local(tree: Path, total: int, scratch: Path) -> None:
    from airflow_mlw import Datastore

    ws = workspace(scratch)
    ours, base, reruns = [], [], []

    def synced(work: Callable[..., object], *args: object, **kwargs: object) -> float:
        os.sync()  # the previous copy's dirty pages are written back before, not during, this one
        return timed(work, *args, **kwargs)

    for round_ in range(LOCAL_ROUNDS):
        target = scratch / f"cp{round_}"
        store = Datastore.register_local(ws, f"local{round_}", scratch / f"ds{round_}")
        copy = ["cp", "-r", str(tree), str(target)]
        if round_ % 2:  # alternating which goes first
            ours.append(synced(store.upload, tree, "t", show_progress=False))
            base.append(synced(subprocess.run, copy, check=True))
        else:
            base.append(synced(subprocess.run, copy, check=True))
            ours.append(synced(store.upload, tree, "t", show_progress=False))
        reruns.append(synced(store.upload, tree, "t", show_progress=False))
        shutil.rmtree(target)
        shutil.rmtree(scratch / f"ds{round_}")
    print(f"  per-round time ratios: {', '.join(f'{o / b:.2f}' for o, b in zip(ours, base, strict=True))}")
    report("local upload vs cp -r", ours, base, total, "time ratio <= 1.3")
    first, rerun = statistics.median(ours), statistics.median(reruns)
    report_figure(
        "local unchanged re-run vs first upload, time ratio",
        f"{rerun:.3f} s",
        f"{first:.2f} s",
        rerun / first,
        "< 0.10",
        line=f"{'local unchanged re-run vs first upload':<44} first {first:6.2f}s  re-run {rerun:6.3f}s  "
        f"ratio {rerun / first:.3f}  [< 0.10]",
    )


def bench_remote(
    label: str,
    tree: Path,
    total: int,
    scratch: Path,
    make_store: Callable[[object], object],
    plain_upload: Callable[[Path, str], None],
    workers: int,
) -> None:
    ws = workspace(scratch)
    pairs = files_of(tree)
    ours, threaded, sequential = [], [], []
    for round_ in range(ROUNDS):
        store = make_store(ws)
        ours.append(timed(store.upload, tree, f"r{round_}", show_progress=False))  # type: ignore[attr-defined]

        def loop(round_: int = round_) -> None:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(lambda pair: plain_upload(pair[0], f"plain{round_}/{pair[1]}"), pairs))

        threaded.append(timed(loop))
    sequential.append(timed(lambda: [plain_upload(p, f"seq/{k}") for p, k in pairs]))
    report(
        f"{label} upload vs plain loop, {workers} threads", ours, threaded, total, "throughput ratio >= 0.9"
    )
    report(f"{label} upload vs plain sequential loop", ours, sequential, total, "far faster")


def main() -> None:
    from tests import services

    wanted = set(sys.argv[1:]) or {"local", "s3", "blob"}
    scratch = Path(tempfile.mkdtemp(prefix="mlw-bench-ds-"))
    os.environ["AIRFLOW_HOME"] = str(scratch / "airflow")
    os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", "QEIu7CbE8sd9Ds-RPyZozFXx5x7iBVjbTZMtbGBHwvw=")
    tree = scratch / "tree"
    total = make_tree(tree)
    print(f"tree: {SMALL_FILES} small files + {BIG_FILES} x {BIG_SIZE >> 20} MB = {total / 1e6:.0f} MB")
    try:
        if "local" in wanted:
            bench_local(tree, total, scratch)
        if "s3" in wanted:
            bench_s3(tree, total, scratch, services)
        if "blob" in wanted:
            bench_blob(tree, total, scratch, services)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def bench_s3(tree: Path, total: int, scratch: Path, services) -> None:  # type: ignore[no-untyped-def]
    import boto3

    from airflow_mlw import Datastore
    from airflow_mlw.datastores.s3 import S3Backend

    server = services.start_moto()
    try:
        endpoint = f"http://127.0.0.1:{server.port}"
        os.environ["AIRFLOW_CONN_BENCH_S3"] = (
            f'{{"conn_type": "aws", "login": "k", "password": "s", "extra": {{"endpoint_url": "{endpoint}", '
            '"region_name": "us-east-1"}}'
        )
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="k",
            aws_secret_access_key="s",
            region_name="us-east-1",
            config=Config(max_pool_connections=32),
        )
        client.create_bucket(Bucket="plain-bench")

        def make_store(ws):  # type: ignore[no-untyped-def]
            bucket = f"b{uuid.uuid4().hex[:10]}"
            client.create_bucket(Bucket=bucket)
            return Datastore.register_s3_bucket(ws, f"s3{bucket}", bucket, aws_conn_id="bench_s3")

        workers = S3Backend("x", "", "x", None).max_workers  # type: ignore[arg-type]
        bench_remote(
            "S3 (moto)",
            tree,
            total,
            scratch,
            make_store,
            lambda path, key: client.upload_file(str(path), "plain-bench", key),
            workers,
        )
    finally:
        server.stop()


def bench_blob(tree: Path, total: int, scratch: Path, services) -> None:  # type: ignore[no-untyped-def]
    from azure.storage.blob import BlobServiceClient

    from airflow_mlw import Datastore
    from airflow_mlw.datastores.azure_blob import AzureBlobBackend

    server = services.start_azurite()
    try:
        endpoint = f"http://127.0.0.1:{server.port}/{services.AZURITE_ACCOUNT}"
        service = BlobServiceClient.from_connection_string(services.azurite_connection_string(server.port))
        plain = service.create_container("plain-bench")

        def make_store(ws):  # type: ignore[no-untyped-def]
            return Datastore.register_azure_blob_container(
                ws,
                f"blob{uuid.uuid4().hex[:6]}",
                f"c{uuid.uuid4().hex[:10]}",
                services.AZURITE_ACCOUNT,
                account_key=services.AZURITE_KEY,
                endpoint=endpoint,
                create_if_not_exists=True,
            )

        def plain_upload(path: Path, name: str) -> None:
            with open(path, "rb") as data:
                plain.upload_blob(name, data, overwrite=True)

        workers = AzureBlobBackend("x", "x", None, None, None, None).max_workers  # type: ignore[arg-type]
        bench_remote("Azure Blob (Azurite)", tree, total, scratch, make_store, plain_upload, workers)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
