"""File datasets behave the same on the local datastore, S3 (moto) and Azure Blob (Azurite)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.datasets import Dataset, DatasetDriftError


def test_register_download_mount_and_read_on_every_backend(file_datastore: Any, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "one.csv").write_text("x,y\n1,2\n")
    (src / "a" / "two.csv").write_text("x,y\n3,4\n")
    (src / "notes.txt").write_text("n")
    (src / "big").mkdir()
    (src / "big" / "blob.bin").write_bytes(os.urandom(9 << 20))  # S3: a multipart ETag
    file_datastore.upload(src, "ds", show_progress=False)
    workspace = file_datastore.workspace

    files = Dataset.File.from_files(path=(file_datastore, "ds/a/*.csv")).register(workspace, "files")
    assert files.to_path() == ["/one.csv", "/two.csv"]
    paths = files.download(tmp_path / "down")
    assert sorted(Path(p).read_text() for p in paths) == ["x,y\n1,2\n", "x,y\n3,4\n"]
    with files.mount() as mounted:
        assert sorted(os.listdir(mounted.mount_point)) == ["one.csv", "two.csv"]
        assert (Path(mounted.mount_point) / "two.csv").read_text() == "x,y\n3,4\n"
    assert not (Path(mounted.mount_point) / "two.csv").exists(), "unmounted on exit"

    big = Dataset.File.from_files((file_datastore, "ds/big")).register(workspace, "big")
    (local_big,) = big.download(tmp_path / "big")
    assert Path(local_big).read_bytes() == (src / "big" / "blob.bin").read_bytes()

    table = Dataset.Tabular.from_delimited_files((file_datastore, "ds/a/*.csv")).register(workspace, "table")
    assert sorted(table.to_pandas_dataframe()["y"].tolist()) == [2, 4]

    (src / "a" / "two.csv").write_text("x,y\n9,9\n")
    file_datastore.upload(src, "ds", overwrite=True, show_progress=False)
    with pytest.raises(DatasetDriftError) as info:
        table.to_pandas_dataframe()
    assert info.value.changed == ["ds/a/two.csv"]
    again = table.register(workspace, "table", create_new_version=True)
    assert again.version == 2 and sorted(again.to_pandas_dataframe()["y"].tolist()) == [2, 9]
