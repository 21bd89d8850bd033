"""Dataset registration, versions, fingerprints, drift and snapshots on the local datastore."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from airflow_mlw.datasets import Dataset, DatasetDriftError
from airflow_mlw.exceptions import DatasetError, DatasetExistsError, DatasetNotFoundError
from airflow_mlw.workspace import Workspace
from tests.datasets.conftest import write


@pytest.fixture
def csv_files(store: Any) -> Path:
    root = Path(store.config["root"])
    write(
        root,
        {
            "data/files/current_data.csv": "a,b\n1,x\n2,y\n",
            "data/files/archive/2019.csv": "a,b\n3,z\n",
            "data/files/archive/2020.csv": "a,b\n4,w\n",
        },
    )
    return root


def test_defining_does_no_io(store: Any) -> None:
    ds = Dataset.File.from_files(path=(store, "nowhere/**/*.csv"))
    assert ds.name is None and ds.version is None


def test_register_versions_only_on_change(workspace: Workspace, store: Any, csv_files: Path) -> None:
    definition = Dataset.Tabular.from_delimited_files(
        path=[(store, "data/files/current_data.csv"), (store, "data/files/archive/*.csv")]
    )
    first = definition.register(workspace=workspace, name="csv_table", description="v1", tags={"k": "v"})
    assert (first.name, first.version, first.tags) == ("csv_table", 1, {"k": "v"})
    with pytest.raises(
        DatasetExistsError, match="dataset 'csv_table' already exists .*create_new_version=True"
    ):
        definition.register(workspace, "csv_table")
    same = definition.register(workspace, "csv_table", create_new_version=True)
    assert (same.version, same.id) == (1, first.id)
    (csv_files / "data/files/archive/2021.csv").write_text("a,b\n5,v\n")
    second = definition.register(workspace, "csv_table", create_new_version=True)
    assert second.version == 2 and second.fingerprint != first.fingerprint
    assert Dataset.get_by_name(workspace, "csv_table").version == 2
    assert Dataset.get_by_name(workspace, "csv_table", version=1).fingerprint == first.fingerprint
    assert Dataset.get_by_id(workspace, first.id).version == 1
    assert second.versions == [1, 2]
    assert set(Dataset.get_all(workspace)) == {"csv_table"}
    assert [e.path for e in second.manifest().entries] == [
        "2019.csv",
        "2020.csv",
        "2021.csv",
        "current_data.csv",
    ]


def test_tags_and_description(workspace: Workspace, store: Any, csv_files: Path) -> None:
    ds = Dataset.File.from_files((store, "data")).register(workspace, "files", tags={"a": "1"})
    ds.add_tags({"b": "2"})
    ds.remove_tags("a")
    ds.update(description="new")
    again = Dataset.get_by_name(workspace, "files")
    assert (again.tags, again.description) == ({"b": "2"}, "new")
    with pytest.raises(DatasetError, match="tags must be strings"):
        ds.add_tags({"n": 3})


def test_bad_lookups_and_empty_globs(workspace: Workspace, store: Any, csv_files: Path) -> None:
    with pytest.raises(
        DatasetError, match=r"path 'data/\*\*/\*.parquet' on datastore 'data_store' matches no files"
    ):
        Dataset.File.from_files((store, "data/**/*.parquet")).register(workspace, "nothing")
    # get_by_name reads nothing until the dataset is used (DAG files do no I/O): a bad name fails there.
    ghost = Dataset.get_by_name(workspace, "ghost")
    with pytest.raises(DatasetNotFoundError, match="no dataset named 'ghost'"):
        print(ghost.version)
    Dataset.File.from_files((store, "data")).register(workspace, "files")
    with pytest.raises(DatasetNotFoundError, match="'files' has no version 7"):
        Dataset.get_by_name(workspace, "files", version=7).to_path()
    read = Dataset.get_by_name(workspace, "files")
    assert (read.version, read.kind, type(read).__name__) == (1, "file", "FileDataset")


def test_refingerprinting_an_unchanged_tree_reads_no_file(
    workspace: Workspace, store: Any, csv_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_mlw.datastores import checksums

    definition = Dataset.File.from_files((store, "data/**"))
    first = definition.fingerprint
    reads: list[str] = []
    original = checksums.compute_digest
    monkeypatch.setattr(
        checksums, "compute_digest", lambda path, kind: reads.append(str(path)) or original(path, kind)
    )
    checksums._memos.clear()  # a new process: only the persisted memo remains
    assert definition.fingerprint == first
    assert reads == []
    (csv_files / "data/files/current_data.csv").write_text("a,b\n1,x\n2,CHANGED\n")
    assert definition.fingerprint != first
    assert reads == [str(csv_files / "data/files/current_data.csv")]


def test_drift_is_detected_and_named(workspace: Workspace, store: Any, csv_files: Path) -> None:
    ds = Dataset.File.from_files((store, "data/files")).register(workspace, "files")
    (csv_files / "data/files/current_data.csv").write_text("a,b\n9,9\n")
    (csv_files / "data/files/new.csv").write_text("a,b\n")
    (csv_files / "data/files/archive/2019.csv").unlink()
    with pytest.raises(DatasetDriftError) as info:
        ds.download(csv_files.parent / "out")
    error = info.value
    assert (error.changed, error.added, error.removed) == (
        ["data/files/current_data.csv"],
        ["data/files/new.csv"],
        ["data/files/archive/2019.csv"],
    )
    assert "version 1: files changed since registration" in str(error)
    (csv_files / "data/files/archive/2019.csv").write_text("a,b\n3,z\n")
    paths = ds.download(csv_files.parent / "out", validate=False)
    assert sorted(Path(p).name for p in paths) == ["2019.csv", "2020.csv", "current_data.csv"]


def test_snapshot_keeps_old_versions_readable(workspace: Workspace, store: Any, csv_files: Path) -> None:
    (csv_files / "data/files/archive/copy.csv").write_text("a,b\n3,z\n")  # same bytes as 2019.csv
    table = Dataset.Tabular.from_delimited_files((store, "data/files/archive/*.csv"))
    v1 = table.register(workspace, "snap", snapshot=True)
    (csv_files / "data/files/archive/2019.csv").write_text("a,b\n100,changed\n")
    assert sorted(v1.to_pandas_dataframe()["a"].tolist()) == [3, 3, 4]
    default_root = Path(workspace.get_default_datastore().config["root"])
    stored = [p for p in (default_root / "mlw" / "snapshots").rglob("*") if p.is_file()]
    assert len(stored) == 2, "identical files are stored once"


def test_failed_registration_leaves_no_rows(
    workspace: Workspace, store: Any, csv_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("killed midway")

    monkeypatch.setattr(type(workspace.store), "allocate_version", fail)
    with pytest.raises(RuntimeError):
        Dataset.File.from_files((store, "data")).register(workspace, "half")
    engine = create_engine(workspace.settings.registry_url)
    with engine.connect() as connection:
        counts = [
            connection.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
            for t in ("mlw_datasets", "mlw_dataset_versions", "mlw_manifests")
        ]
    engine.dispose()
    assert counts == [0, 0, 0]


def register_one(registry_url: str, root: str, index: int) -> int:
    ws = Workspace.get("test", registry_url=registry_url)
    path = Path(root) / f"f{index}.txt"
    path.write_text(f"content {index}")
    return Dataset.File.from_files(str(path)).register(ws, "concurrent", create_new_version=True).version  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_concurrent_registrations_get_distinct_consecutive_versions(
    registry_url: str, tmp_path: Path, mode: str
) -> None:
    Workspace.create("test", registry_url=registry_url)
    args = [(registry_url, str(tmp_path), i) for i in range(32)]
    if mode == "threads":
        with ThreadPoolExecutor(16) as pool:
            versions = list(pool.map(lambda a: register_one(*a), args))
    else:
        with multiprocessing.get_context("spawn").Pool(8) as pool:
            versions = pool.starmap(register_one, args)
    assert sorted(versions) == list(range(1, 33))
