"""Time series and partitions: partition keys, time filters that select files before any is read,
Hive-style ``partition_by`` copies, JSON Lines, conversions, and the errors of bad definitions."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.datasets import Dataset
from airflow_mlw.exceptions import DatasetError, DatasetTimestampMissingError
from airflow_mlw.pipelines.data import DataPath
from airflow_mlw.workspace import Workspace
from tests.datasets.conftest import write

START = datetime(2024, 1, 1)
DAYS = 60


def daily_files(days: int = DAYS) -> dict[str, str]:
    """One CSV per day under ``yyyy/MM/dd``: two rows, a fine ``at`` timestamp inside the day."""
    files = {}
    for offset in range(days):
        day = START + timedelta(days=offset)
        rows = "".join(f"{offset},{(day + timedelta(hours=h)).isoformat()},{h}\n" for h in (6, 18))
        files[f"daily/{day:%Y/%m/%d}/data.csv"] = "day,at,hour\n" + rows
    return files


def upload(datastore: Any, files: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "src"
    write(source, files)
    datastore.upload(str(source), show_progress=False)


@pytest.fixture
def files_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many files each tabular read hands to ``pyarrow.dataset`` (what it opens)."""
    from airflow_mlw.datasets import tabular

    counts: list[int] = []
    real = tabular.read_table

    def counting(fmt: Any, entries: Any, row_filters: Any = None) -> Any:
        counts.append(len(entries))
        return real(fmt, entries, row_filters)

    monkeypatch.setattr(tabular, "read_table", counting)
    return counts


def cached_files(workspace: Workspace) -> int:
    cache = Path(workspace.settings.home) / "cache" / "datasets"
    return sum(1 for path in cache.rglob("*") if path.is_file()) if cache.exists() else 0


def test_partition_timestamp_window_reads_only_its_files(
    file_datastore: Any, tmp_path: Path, files_read: list[int]
) -> None:
    """On every store: a week of a daily-partitioned dataset opens (and fetches) that week's files."""
    workspace = file_datastore.workspace
    upload(file_datastore, daily_files(), tmp_path)
    tab = Dataset.Tabular.from_delimited_files(
        (file_datastore, "daily/**/*.csv"), partition_format="/{PartitionDate:yyyy/MM/dd}/data.csv"
    )
    tab = tab.with_timestamp_columns("at", partition_timestamp="PartitionDate").register(workspace, "daily")
    again = Dataset.get_by_name(workspace, "daily")
    assert again.timestamp_columns == ("at", "PartitionDate")

    shutil.rmtree(Path(workspace.settings.home) / "cache" / "datasets", ignore_errors=True)
    week = again.time_between(datetime(2024, 1, 10), datetime(2024, 1, 16, 23, 59))
    frame = week.to_pandas_dataframe()
    assert sorted(set(frame["day"])) == list(range(9, 16))
    assert len(frame) == 14
    assert files_read[-1] == 7, "only the week's files are opened"
    if file_datastore.kind != "local":
        assert cached_files(workspace) == 7, "only the week's files are fetched"

    # The fine column decides inside a day: 12:00 on the 10th keeps only the 18:00 row of that day.
    noon = again.time_between(datetime(2024, 1, 10, 12), datetime(2024, 1, 10, 23)).to_pandas_dataframe()
    assert noon["hour"].tolist() == [18]
    assert files_read[-1] == 1


def test_time_filters_on_a_partition_date_and_their_boundaries(
    workspace: Workspace, store: Any, root: Path, files_read: list[int]
) -> None:
    write(root, daily_files(10))
    tab = Dataset.Tabular.from_delimited_files(
        (store, "daily/**/*.csv"), partition_format="daily/{date:yyyy/MM/dd}/data.csv"
    ).with_timestamp_columns("date")
    day3 = START + timedelta(days=3)
    assert set(tab.time_before(day3).to_pandas_dataframe()["day"]) == {0, 1, 2, 3}
    assert set(tab.time_before(day3, include_boundary=False).to_pandas_dataframe()["day"]) == {0, 1, 2}
    assert set(tab.time_after(START + timedelta(days=8)).to_pandas_dataframe()["day"]) == {8, 9}
    assert files_read[-1] == 2
    recent = tab.time_recent(datetime.now() - START - timedelta(days=7, hours=1))
    assert set(recent.to_pandas_dataframe()["day"]) == {8, 9}
    # A chain of filters is one conjunction; filter() on the key selects files too.
    both = tab.time_after(START + timedelta(days=2)).filter(tab["date"] != START + timedelta(days=4))
    assert set(both.time_before(day3 + timedelta(days=2)).to_pandas_dataframe()["day"]) == {2, 3, 5}


def test_timestamp_column_inside_the_files_is_filtered_by_the_scan(
    workspace: Workspace, store: Any, root: Path
) -> None:
    write(root, {"events.csv": "at,v\n2024-01-01 10:00:00,1\n2024-01-02 10:00:00,2\n2024-01-03 10:00:00,3\n"})
    tab = Dataset.Tabular.from_delimited_files((store, "events.csv")).with_timestamp_columns(
        "at", validate=True
    )
    assert tab.time_after(datetime(2024, 1, 2)).to_pandas_dataframe()["v"].tolist() == [2, 3]
    write(root, {"text.csv": "at,v\nmonday,1\n"})
    text = Dataset.Tabular.from_delimited_files((store, "text.csv"))
    with pytest.raises(DatasetError, match=r"timestamp column 'at' is not a timestamp: its type is string"):
        text.with_timestamp_columns("at", validate=True)
    with pytest.raises(DatasetError, match=r"timestamp column 'at' is not a timestamp: its type is string"):
        text.with_timestamp_columns("at").time_after(datetime(2024, 1, 1)).to_pandas_dataframe()


def test_bad_time_series_use_is_refused(workspace: Workspace, store: Any, root: Path) -> None:
    write(root, daily_files(3))
    tab = Dataset.Tabular.from_delimited_files(
        (store, "daily/**/*.csv"), partition_format="/{Region}/{date:yyyy/MM}/*.csv"
    )
    plain = Dataset.Tabular.from_delimited_files((store, "daily/**/*.csv"))
    with pytest.raises(DatasetTimestampMissingError, match="no timestamp column"):
        plain.time_after(START)
    stamped = plain.with_timestamp_columns("at")
    with pytest.raises(DatasetError, match=r"start_time 2024-01-05 00:00:00 is after end_time 2024-01-01"):
        stamped.time_between(datetime(2024, 1, 5), START)
    with pytest.raises(
        DatasetTimestampMissingError, match=r"drop_columns would remove timestamp column\(s\) \['at'\]"
    ):
        stamped.drop_columns(["at", "hour"])
    with pytest.raises(DatasetTimestampMissingError, match="keep_columns"):
        stamped.keep_columns(["hour"])
    assert stamped.with_timestamp_columns(None).drop_columns("at").timestamp_columns == (None, None)
    with pytest.raises(
        DatasetError, match=r"timestamp column 'Region' is not a timestamp: it is the partition key"
    ):
        tab.with_timestamp_columns("Region")
    with pytest.raises(DatasetError, match="file 2024/01/01/data.csv does not match partition_format"):
        tab.register(workspace, "mismatched")
    with pytest.raises(DatasetError, match="names no partition key"):
        Dataset.Tabular.from_delimited_files((store, "daily"), partition_format="/data.csv")


def test_file_dataset_partition_keys_values_and_filter(workspace: Workspace, store: Any, root: Path) -> None:
    write(
        root,
        {f"img/{dept}/{day}/x{i}.png": "." for dept in ("HR", "IT") for day in ("d1", "d2") for i in (1, 2)},
    )
    files = Dataset.File.from_files((store, "img"), partition_format="/{Dept}/{Day}/*.png").register(
        workspace, "images"
    )
    files = Dataset.get_by_name(workspace, "images")
    assert files.partition_keys == ["Dept", "Day"]
    assert files.get_partition_key_values(["Dept"]) == [{"Dept": "HR"}, {"Dept": "IT"}]
    assert len(files.get_partition_key_values()) == 4
    hr = files.filter((files["Dept"] == "HR") & ~(files["Day"] == "d2"))
    assert hr.to_path() == ["/HR/d1/x1.png", "/HR/d1/x2.png"]
    assert sorted(Path(p).name for p in hr.download(Path(root).parent / "dl")) == ["x1.png", "x2.png"]
    with pytest.raises(
        DatasetError, match=r"filters on its partition keys \['Dept', 'Day'\], not on \['size'\]"
    ):
        files.filter(files["size"] > 3)
    with pytest.raises(DatasetError, match=r"unknown partition key\(s\) \['Month'\]"):
        files.get_partition_key_values(["Month"])
    with pytest.raises(DatasetError, match="does not match partition_format"):
        Dataset.File.from_files((store, "img"), partition_format="/{Dept}/{Day}/*.jpg").register(
            workspace, "bad"
        )


def test_partition_by_writes_hive_parquet_and_registers(file_datastore: Any, tmp_path: Path) -> None:
    rows = "".join(f"{'HR' if i % 3 else 'IT'},{i % 2},{i}\n" for i in range(30))
    upload(file_datastore, {"flat/rows.csv": "Dept,Shift,v\n" + rows}, tmp_path)
    tab = Dataset.Tabular.from_delimited_files((file_datastore, "flat/rows.csv"))
    parted = tab.partition_by(["Dept", "Shift"], DataPath(file_datastore, "parted"), name="parted")
    assert parted.name == "parted" and parted.version == 1
    paths = sorted(info.path for info in file_datastore.backend.list("parted"))
    assert paths[0].startswith("parted/Dept=HR/Shift=0/") and len(paths) == 4
    assert parted.partition_keys == ["Dept", "Shift", "PartNumber"]
    assert sorted(parted.to_pandas_dataframe()["v"]) == list(range(30))
    it = parted.filter(parted["Dept"] == "IT").to_pandas_dataframe()
    assert sorted(it["v"]) == [i for i in range(30) if i % 3 == 0]
    with pytest.raises(DatasetError, match="target 'parted' on datastore 'files' is not empty"):
        tab.partition_by(["Dept"], DataPath(file_datastore, "parted"))
    with pytest.raises(DatasetError, match=r"unknown column\(s\) \['Nope'\]"):
        tab.partition_by(["Nope"], DataPath(file_datastore, "other"))
    assert not list(file_datastore.backend.list("other")), "a failed copy leaves nothing"


def test_json_lines_conversions_and_stream_download(workspace: Workspace, store: Any, root: Path) -> None:
    write(
        root,
        {
            "j/a.jsonl": '{"x": 1, "name": "a.txt"}\n{"x": 2, "name": "b.txt"}\n',
            "j/b.jsonl": '{"x": 3, "name": "c.txt"}\n',
        },
    )
    lines = Dataset.Tabular.from_json_lines_files((store, "j/*.jsonl"), include_path=True)
    frame = lines.to_pandas_dataframe()
    assert frame["x"].tolist() == [1, 2, 3] and frame["Path"].tolist() == ["/a.jsonl", "/a.jsonl", "/b.jsonl"]
    write(root, {"bad/bad.jsonl": '{"x": 1}\n{not json\n'})
    with pytest.raises(DatasetError, match="file bad.jsonl"):
        Dataset.Tabular.from_json_lines_files((store, "bad/bad.jsonl")).to_pandas_dataframe()

    parquet = lines.keep_columns(["x"]).to_parquet_files()
    assert [Path(p).suffix for p in parquet.to_path()] == [".parquet"]
    back = Dataset.Tabular.from_parquet_files((workspace.get_default_datastore(), parquet.sources[0].pattern))
    assert back.to_pandas_dataframe()["x"].tolist() == [1, 2, 3]
    assert lines.keep_columns(["x"]).to_parquet_files().to_path() == parquet.to_path(), (
        "same rows, same files"
    )
    csv_files = lines.keep_columns(["x"]).to_csv_files(separator=";")
    (csv_path,) = csv_files.download(root.parent / "csv")
    assert Path(csv_path).read_text().splitlines() == ['"x"', "1", "2", "3"]

    picked = lines.download(stream_column="Path", target_path=root.parent / "picked")
    assert sorted(Path(p).name for p in picked) == ["a.jsonl", "b.jsonl"]
    everything = lines.download(target_path=root.parent / "all")
    assert len(everything) == 2


def test_registered_names_follow_one_rule(
    workspace: Workspace, store: Any, root: Path, tmp_path: Path
) -> None:
    """Datasets, models and environments refuse path and SQL characters before writing anything."""
    from sqlalchemy import func, select

    from airflow_mlw.core import Environment, Model
    from airflow_mlw.exceptions import MlwEnvironmentError, WebserviceException
    from airflow_mlw.registry.rows import DatasetRow

    write(root, {"a.csv": "x\n1\n"})
    tab = Dataset.Tabular.from_delimited_files((store, "a.csv"))
    for bad in ("../../etc/passwd", "x'; DROP TABLE mlw_datasets; --", "", " lead", "a/b"):
        with pytest.raises(DatasetError, match="dataset name .* is invalid"):
            tab.register(workspace, bad)
        with pytest.raises(WebserviceException, match="model name .* is invalid"):
            Model.register(workspace, str(root / "a.csv"), bad)
        with pytest.raises(MlwEnvironmentError, match="environment name .* is invalid"):
            Environment(bad).register(workspace)
    with workspace.store.session() as session:
        assert session.scalar(select(func.count()).select_from(DatasetRow)) == 0
    assert tab.register(workspace, "diabetes baseline").name == "diabetes baseline"
    from airflow_mlw.datasets import dataset_asset_uri

    assert dataset_asset_uri("diabetes baseline", "ws") == "mlw-dataset://ws/diabetes%20baseline"
    with pytest.raises(DatasetError, match="is invalid"):
        dataset_asset_uri("../x", "ws")


def test_local_datastore_root_that_is_a_file_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    from airflow_mlw import Datastore
    from airflow_mlw.exceptions import MlwError

    afile = tmp_path / "plain.txt"
    afile.write_text("x")
    with pytest.raises(MlwError, match=r"datastore 'files': root '.*plain.txt' is a file, not a folder"):
        Datastore.register_local(workspace, "files", afile)
    assert "files" not in {d.name for d in Datastore.list(workspace)}
