"""Drift monitor fixtures: a local datastore, a baseline and a weekly-partitioned target dataset,
and a DAGs folder of the test's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from airflow_mlw import Datastore
from airflow_mlw.datasets import Dataset

#: Mondays 00:00 UTC of the six weekly windows the tests use (well in the past).
WEEKS = [datetime(2025, 3, 3, tzinfo=UTC) + timedelta(weeks=i) for i in range(6)]


@pytest.fixture
def chromium() -> str:
    """The system Chromium driven by Playwright (as tests/test_ui.py drives it)."""
    from tests.conftest import require
    from tests.test_ui import find_chromium

    return require("Chromium", find_chromium)


@pytest.fixture
def dags_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(folder))
    return folder


def frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Two numeric features and one categorical; ``shift`` moves every feature's distribution."""
    rng = np.random.default_rng(seed)
    colours = np.array(["red", "green", "blue"])
    weights = np.array([0.5, 0.3, 0.2]) if shift == 0 else np.array([0.1, 0.2, 0.7])
    return pd.DataFrame(
        {
            "age": rng.normal(40 + 10 * shift, 8, rows).round(1),
            "bmi": rng.normal(25 + 5 * shift, 3, rows).round(2),
            "colour": rng.choice(colours, rows, p=weights),
        }
    )


@pytest.fixture
def store(workspace: Any, tmp_path: Path) -> Any:
    return Datastore.register_local(workspace, "drift_store", tmp_path / "store")


@pytest.fixture
def datasets(workspace: Any, store: Any) -> dict[str, Any]:
    """``baseline`` (400 rows) and ``target``: one file per week, dated mid-week; weeks 4 to 6 drifted."""
    root = Path(store.config["root"])
    (root / "baseline").mkdir(parents=True)
    frame(400, seed=1).to_csv(root / "baseline" / "part.csv", index=False)
    (root / "target").mkdir()
    for number, monday in enumerate(WEEKS):
        day = monday + timedelta(days=2)
        frame(200, seed=10 + number, shift=1.0 if number >= 3 else 0.0).to_csv(
            root / "target" / f"data_{day:%Y-%m-%d}.csv", index=False
        )
    baseline = Dataset.Tabular.from_delimited_files(path=(store, "baseline/*.csv")).register(
        workspace, "drift baseline"
    )
    target = (
        Dataset.Tabular.from_delimited_files(
            path=(store, "target/*.csv"), partition_format="target/data_{date:yyyy-MM-dd}.csv"
        )
        .with_timestamp_columns("date")
        .register(workspace, "drift target")
    )
    return {"baseline": baseline, "target": target, "root": root}
