"""The same behaviour on every file backend: local folder, S3 (moto server), Azure Blob (Azurite)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.exceptions import ChecksumMismatchError, DatastoreConflictError, DatastorePathError


def make_tree(root: Path) -> dict[str, bytes]:
    """Nested folders, an empty file, unicode names; returns relative path -> content."""
    files = {
        "a.csv": b"x,y\n1,2\n",
        "empty.txt": b"",
        "nested/deeper/b.bin": os.urandom(5000),
        "nested/ünïcødé €.txt": "grüße".encode(),
        "data2/c.txt": b"not under data",
        "data/d.txt": b"under data",
    }
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_upload_then_download_round_trips_every_file(file_datastore: Any, tmp_path: Path) -> None:
    files = make_tree(tmp_path / "src")
    report = file_datastore.upload(tmp_path / "src", target_path="/up", show_progress=False)
    assert sorted(report.transferred) == sorted(f"up/{k}" for k in files)
    assert {info.path: info.size for info in file_datastore.list("up")} == {
        f"up/{k}": len(v) for k, v in files.items()
    }
    file_datastore.download(tmp_path / "dst", prefix="/up", show_progress=False)
    assert read_tree(tmp_path / "dst") == {f"up/{k}": v for k, v in files.items()}


def test_prefix_matches_whole_path_segments(file_datastore: Any, tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    file_datastore.upload(tmp_path / "src", show_progress=False)
    assert [info.path for info in file_datastore.list("data")] == ["data/d.txt"]
    file_datastore.download(tmp_path / "dst", prefix="data", show_progress=False)
    assert read_tree(tmp_path / "dst") == {"data/d.txt": b"under data"}


def test_unchanged_upload_skips_every_file(file_datastore: Any, tmp_path: Path) -> None:
    files = make_tree(tmp_path / "src")
    file_datastore.upload(tmp_path / "src", "t", show_progress=False)
    again = file_datastore.upload(tmp_path / "src", "t", show_progress=False)
    assert again.transferred == []
    assert len(again.skipped) == len(files)


def test_differing_file_is_refused_by_name_without_overwrite(file_datastore: Any, tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    file_datastore.upload(tmp_path / "src", "t", show_progress=False)
    (tmp_path / "src" / "a.csv").write_bytes(b"x,y\n9,9\n")  # same size, other bytes
    (tmp_path / "src" / "new.txt").write_bytes(b"new")
    with pytest.raises(DatastoreConflictError, match=r"1 file\(s\) .* differ .*t/a\.csv"):
        file_datastore.upload(tmp_path / "src", "t", show_progress=False)
    assert "t/new.txt" not in {i.path for i in file_datastore.list("t")}, "a refused upload copies nothing"
    report = file_datastore.upload(tmp_path / "src", "t", overwrite=True, show_progress=False)
    assert sorted(report.transferred) == ["t/a.csv", "t/new.txt"]
    file_datastore.download(tmp_path / "dst", prefix="t/a.csv", show_progress=False)
    assert (tmp_path / "dst" / "t" / "a.csv").read_bytes() == b"x,y\n9,9\n"


def test_download_refuses_to_replace_a_differing_local_file(file_datastore: Any, tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    file_datastore.upload(tmp_path / "src", show_progress=False)
    (tmp_path / "dst" / "data").mkdir(parents=True)
    (tmp_path / "dst" / "data" / "d.txt").write_bytes(b"local edit")
    with pytest.raises(DatastoreConflictError, match="d.txt"):
        file_datastore.download(tmp_path / "dst", prefix="data", show_progress=False)
    file_datastore.download(tmp_path / "dst", prefix="data", overwrite=True, show_progress=False)
    assert (tmp_path / "dst" / "data" / "d.txt").read_bytes() == b"under data"


def test_upload_files_keeps_paths_relative_to_root(file_datastore: Any, tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    files = [tmp_path / "src" / "a.csv", tmp_path / "src" / "nested" / "deeper" / "b.bin"]
    file_datastore.upload_files(
        files, relative_root=tmp_path / "src", target_path="/one", show_progress=False
    )
    assert [i.path for i in file_datastore.list("one")] == ["one/a.csv", "one/nested/deeper/b.bin"]


def test_paths_escaping_the_root_are_refused(file_datastore: Any, tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    with pytest.raises(DatastorePathError, match="'../outside' escapes the datastore root"):
        file_datastore.upload(tmp_path / "src", target_path="../outside", show_progress=False)
    with pytest.raises(DatastorePathError, match="escapes"):
        file_datastore.download(tmp_path / "dst", prefix="a/../../b", show_progress=False)


def test_thousand_file_tree(file_datastore: Any, tmp_path: Path) -> None:
    src = tmp_path / "many"
    for i in range(1000):
        path = src / f"d{i % 10}" / f"f{i}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"file {i}\n".encode() * (i % 7))
    report = file_datastore.upload(src, "many", show_progress=False)
    assert len(report.transferred) == 1000
    assert len(file_datastore.list("many")) == 1000
    file_datastore.download(tmp_path / "back", prefix="many", show_progress=False)
    assert read_tree(tmp_path / "back" / "many") == read_tree(src)


def test_large_file_streams_in_parts(file_datastore: Any, tmp_path: Path) -> None:
    big = tmp_path / "big" / "blob.bin"
    big.parent.mkdir()
    block = os.urandom(1 << 20)
    with open(big, "wb") as handle:
        for i in range(200):
            handle.write(block[i:] + block[:i])
    expected = hashlib.sha256(big.read_bytes()).hexdigest()
    file_datastore.upload(big.parent, "big", show_progress=False)
    (info,) = file_datastore.list("big")
    assert info.size == 200 << 20
    if file_datastore.kind == "s3":
        assert info.checksum.endswith("-25"), "uploaded in 25 parts of 8 MiB"
    if file_datastore.kind == "azure_blob":
        committed, _ = file_datastore.backend.client.get_blob_client("big/blob.bin").get_block_list(
            "committed"
        )
        assert len(committed) > 1, "uploaded as blocks"
    assert file_datastore.upload(big.parent, "big", show_progress=False).skipped == ["big/blob.bin"]
    file_datastore.download(tmp_path / "back", prefix="big", show_progress=False)
    assert hashlib.sha256((tmp_path / "back" / "big" / "blob.bin").read_bytes()).hexdigest() == expected


def test_file_changed_during_download_is_detected_and_not_left_visible(
    file_datastore: Any, tmp_path: Path
) -> None:
    make_tree(tmp_path / "src")
    file_datastore.upload(tmp_path / "src", show_progress=False)
    (listed,) = file_datastore.list("a.csv")
    listed = file_datastore.backend.with_checksum(listed)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "a.csv").write_bytes(b"x,y\n7,7\n")
    file_datastore.upload(tmp_path / "other", overwrite=True, show_progress=False)
    target = tmp_path / "dst" / "a.csv"
    with pytest.raises(ChecksumMismatchError, match="a.csv: checksum after transfer"):
        file_datastore.backend.get_file(listed, target)
    assert not target.parent.exists() or list(target.parent.iterdir()) == []


def test_progress_is_logged_inside_tasks(
    file_datastore: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    from airflow_mlw.datastores import transfer

    monkeypatch.setattr(transfer, "LOG_EVERY_SECONDS", 0.0)
    make_tree(tmp_path / "src")
    caplog.set_level(logging.INFO, logger="airflow_mlw.datastores.transfer")
    file_datastore.upload(tmp_path / "src", show_progress=True)
    lines = [r.getMessage() for r in caplog.records if "files," in r.getMessage()]
    assert lines[-1] == "upload to datastore 'files': 6/6 files, 0.0/0.0 MB (100%)"
