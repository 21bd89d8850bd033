"""Reading tabular datasets: CSV and Parquet, partitions, transformations, SQL, and clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw import Datastore
from airflow_mlw.datasets import Dataset
from airflow_mlw.exceptions import DatasetError
from airflow_mlw.workspace import Workspace
from tests.datasets.conftest import write


def test_seed_example_reads_current_and_archive_files(workspace: Workspace, store: Any, root: Path) -> None:
    write(
        root,
        {
            "data/files/current_data.csv": "Pregnancies,Age\n1,30\n2,40\n",
            "data/files/archive/a.csv": "Pregnancies,Age\n3,50\n",
        },
    )
    tab = Dataset.Tabular.from_delimited_files(
        path=[(store, "data/files/current_data.csv"), (store, "data/files/archive/*.csv")]
    )
    tab = tab.register(workspace=workspace, name="csv_table")
    frame = Dataset.get_by_name(workspace, "csv_table").to_pandas_dataframe()
    assert sorted(frame["Age"].tolist()) == [30, 40, 50]
    assert str(frame["Age"].dtype) == "int64"


def test_transformations_return_new_unregistered_definitions(
    workspace: Workspace, store: Any, root: Path
) -> None:
    write(root, {"t.csv": "a,b,c\n" + "".join(f"{i},{i * 2},x{i}\n" for i in range(100))})
    tab = Dataset.Tabular.from_delimited_files((store, "t.csv")).register(workspace, "t")
    assert tab.take(3).to_pandas_dataframe()["a"].tolist() == [0, 1, 2]
    assert tab.skip(98).to_pandas_dataframe()["a"].tolist() == [98, 99]
    assert tab.keep_columns(["a", "c"]).to_pandas_dataframe().columns.tolist() == ["a", "c"]
    assert tab.drop_columns("c").to_pandas_dataframe().columns.tolist() == ["a", "b"]
    left, right = tab.random_split(0.7, seed=1)
    left_rows, right_rows = (
        left.to_pandas_dataframe()["a"].tolist(),
        right.to_pandas_dataframe()["a"].tolist(),
    )
    assert sorted(left_rows + right_rows) == list(range(100)) and 55 < len(left_rows) < 85
    assert left.to_pandas_dataframe()["a"].tolist() == left_rows, "the split is deterministic for a seed"
    assert tab.take(3).name is None
    with pytest.raises(DatasetError, match=r"keep_columns: unknown column\(s\) \['zz'\]"):
        tab.keep_columns("zz").to_pandas_dataframe()


def test_partition_format_becomes_columns(workspace: Workspace, store: Any, root: Path) -> None:
    write(
        root,
        {
            "sales/HR/2024/01/31/data.csv": "v\n1\n",
            "sales/IT/2024/02/01/data.csv": "v\n2\n3\n",
        },
    )
    tab = Dataset.Tabular.from_delimited_files(
        (store, "sales/**/*.csv"), partition_format="/{Dept}/{Date:yyyy/MM/dd}/data.csv"
    )
    frame = tab.to_pandas_dataframe().sort_values("v")
    assert frame["Dept"].tolist() == ["HR", "IT", "IT"]
    assert [d.strftime("%Y-%m-%d") for d in frame["Date"]] == ["2024-01-31", "2024-02-01", "2024-02-01"]


def test_headerless_files_and_explicit_types(workspace: Workspace, store: Any, root: Path) -> None:
    write(root, {"h.csv": "1;a\n2;b\n"})
    frame = Dataset.Tabular.from_delimited_files(
        (store, "h.csv"), header=False, separator=";"
    ).to_pandas_dataframe()
    assert frame.columns.tolist() == ["Column1", "Column2"]
    write(root, {"typed.csv": "a,b\n1,2\n"})
    typed = Dataset.Tabular.from_delimited_files(
        (store, "typed.csv"), set_column_types={"a": "string"}
    ).to_pandas_dataframe()
    assert typed["a"].tolist() == ["1"] and typed["b"].tolist() == [2]
    raw = Dataset.Tabular.from_delimited_files(
        (store, "typed.csv"), infer_column_types=False
    ).to_pandas_dataframe()
    assert raw["b"].tolist() == ["2"]


def test_parquet_files(workspace: Workspace, store: Any, root: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (root / "pq").mkdir(parents=True)
    pq.write_table(pa.table({"x": [1, 2]}), root / "pq" / "a.parquet")
    pq.write_table(pa.table({"x": [3]}), root / "pq" / "b.parquet")
    tab = Dataset.Tabular.from_parquet_files((store, "pq/*.parquet")).register(workspace, "pq")
    assert sorted(tab.to_pandas_dataframe()["x"].tolist()) == [1, 2, 3]


def test_mixed_schemas_name_the_file_and_column(workspace: Workspace, store: Any, root: Path) -> None:
    write(root, {"m/a.csv": "id,name\n1,x\n", "m/b.csv": "id,title\n2,y\n"})
    with pytest.raises(
        DatasetError,
        match=r"mixed schemas: file b.csv has missing column\(s\) \['name'\], unexpected column\(s\) \['title'\] compared with a.csv",
    ):
        Dataset.Tabular.from_delimited_files((store, "m/*.csv")).to_pandas_dataframe()


def test_malformed_rows_name_file_and_line_or_are_skipped(
    workspace: Workspace, store: Any, root: Path
) -> None:
    write(root, {"bad/a.csv": "a,b\n1,2\n", "bad/b.csv": "a,b\n3,4\n5,6,7\n8,9\n"})
    with pytest.raises(DatasetError, match=r"file b.csv line 3: .*Expected 2 columns, got 3"):
        Dataset.Tabular.from_delimited_files((store, "bad/*.csv")).to_pandas_dataframe()
    frame = Dataset.Tabular.from_delimited_files(
        (store, "bad/*.csv"), on_bad_lines="skip"
    ).to_pandas_dataframe()
    assert sorted(frame["a"].tolist()) == [1, 3, 8]


def test_sql_query_dataset(workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "w.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE t (a INTEGER, b TEXT)")
        connection.execute("INSERT INTO t VALUES (1, 'x'), (2, 'y')")
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", f'{{"conn_type": "sqlite", "host": "{db}"}}')
    sql = Datastore.register_sql(workspace, "warehouse", conn_id="warehouse")
    tab = Dataset.Tabular.from_sql_query((sql, "SELECT a, b FROM t ORDER BY a")).register(workspace, "q")
    assert tab.to_pandas_dataframe().to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    with sqlite3.connect(db) as connection:
        connection.execute("INSERT INTO t VALUES (3, 'z')")
    assert tab.register(workspace, "q", create_new_version=True).version == 2
