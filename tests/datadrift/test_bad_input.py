"""Monitors that cannot work are refused with an error that names what is wrong."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.datadrift import DataDriftDetector, DataDriftError
from airflow_mlw.datasets import Dataset


def test_baseline_and_target_sharing_no_feature(
    workspace: Any, store: Any, datasets: dict[str, Any], dags_folder: Path
) -> None:
    root = Path(store.config["root"])
    (root / "other").mkdir()
    (root / "other" / "x.csv").write_text("height,weight\n1,2\n")
    other = Dataset.Tabular.from_delimited_files(path=(store, "other/*.csv")).register(workspace, "other")
    with pytest.raises(DataDriftError) as error:
        DataDriftDetector.create_from_datasets(workspace, "m", other, datasets["target"])
    message = str(error.value)
    assert "share no feature" in message
    assert "['height', 'weight']" in message and "['age', 'bmi', 'colour', 'date']" in message
    assert DataDriftDetector.list(workspace) == [] and not list(dags_folder.rglob("*.py"))


def test_a_feature_missing_in_one_dataset(
    workspace: Any, datasets: dict[str, Any], dags_folder: Path
) -> None:
    with pytest.raises(
        DataDriftError, match="feature 'height' of feature_list is not a column of the baseline"
    ):
        DataDriftDetector.create_from_datasets(
            workspace, "m", datasets["baseline"], datasets["target"], feature_list=["age", "height"]
        )
    with pytest.raises(
        DataDriftError, match="feature 'date' of feature_list is not a column of the baseline"
    ):
        DataDriftDetector.create_from_datasets(
            workspace, "m", datasets["baseline"], datasets["target"], feature_list=["date"]
        )


def test_a_target_without_timestamp_column(
    workspace: Any, datasets: dict[str, Any], dags_folder: Path
) -> None:
    with pytest.raises(
        DataDriftError, match="target dataset has no timestamp column.*with_timestamp_columns"
    ):
        DataDriftDetector.create_from_datasets(workspace, "m", datasets["baseline"], datasets["baseline"])


def test_bad_settings(workspace: Any, store: Any, datasets: dict[str, Any], dags_folder: Path) -> None:
    base, target = datasets["baseline"], datasets["target"]
    with pytest.raises(DataDriftError, match="frequency must be one of Day, Week, Month, not 'Hour'"):
        DataDriftDetector.create_from_datasets(workspace, "m", base, target, frequency="Hour")
    with pytest.raises(DataDriftError, match="drift_threshold must be a number from 0 to 1, not 3"):
        DataDriftDetector.create_from_datasets(workspace, "m", base, target, drift_threshold=3)
    with pytest.raises(DataDriftError, match="latency must be a whole number of hours"):
        DataDriftDetector.create_from_datasets(workspace, "m", base, target, latency=-1)
    with pytest.raises(DataDriftError, match="drift monitor name '../x' is invalid"):
        DataDriftDetector.create_from_datasets(workspace, "../x", base, target)
    unregistered = Dataset.Tabular.from_delimited_files(path=(store, "baseline/*.csv"))
    with pytest.raises(DataDriftError, match="the baseline dataset is not registered"):
        DataDriftDetector.create_from_datasets(workspace, "m", unregistered, target)
    with pytest.raises(DataDriftError, match="no drift monitor named 'nope'"):
        DataDriftDetector.get_by_name(workspace, "nope")


def test_backfill_with_start_after_end(workspace: Any, datasets: dict[str, Any], dags_folder: Path) -> None:
    monitor = DataDriftDetector.create_from_datasets(workspace, "m", datasets["baseline"], datasets["target"])
    with pytest.raises(Exception, match="start_date .* is after end_date"):
        monitor.backfill(datetime(2025, 5, 1), datetime(2025, 4, 1))
