"""The ML Workspace UI's drift page: each monitor's magnitude over time with its threshold, and the
per-feature contribution, as charts (inline SVG) with the series embedded as JSON; drawn by Chromium."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow_mlw.datadrift import DataDriftDetector
from tests.datadrift.conftest import WEEKS


def drift_page(workspace: Any, monkeypatch: Any) -> str:
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow_mlw.plugins.ui import router

    # The page reads the configured workspace: this test's.
    monkeypatch.setattr(
        "airflow_mlw.workspace.Workspace.from_config", classmethod(lambda cls, *a, **k: workspace)
    )
    app = FastAPI()
    app.include_router(router)
    app.dependency_overrides[get_user] = lambda: None  # Airflow's auth is tested in tests/test_ui.py
    response = TestClient(app).get("/ui/datadrift")
    assert response.status_code == 200
    return response.text


def series_of(page: str) -> list[dict[str, Any]]:
    found = re.findall(r'<script type="application/json" class="drift-series">(.*?)</script>', page, re.S)
    return [json.loads(text) for text in found]


def test_the_drift_page_charts_magnitude_threshold_and_contributions(
    workspace: Any,
    datasets: dict[str, Any],
    dags_folder: Path,
    monkeypatch: Any,
    chromium: str,
    tmp_path: Path,
) -> None:
    monitor = DataDriftDetector.create_from_datasets(
        workspace, "ui-drift", datasets["baseline"], datasets["target"], drift_threshold=0.3
    )
    assert "no window computed yet" in drift_page(workspace, monkeypatch)
    monitor.backfill(WEEKS[0], WEEKS[5] + timedelta(days=7))
    page = drift_page(workspace, monkeypatch)
    assert '<a href="/ui/datadrift" class="current">Data drift</a>' in page

    [series] = series_of(page)
    results, _ = monitor.get_output()
    assert series["monitor"] == "ui-drift" and series["threshold"] == 0.3
    assert [w["magnitude"] for w in series["windows"]] == [r["drift_magnitude"] for r in results]
    assert series["windows"][3]["contributions"] == {
        name: results[3]["features"][name]["contribution"] for name in ("age", "bmi", "colour")
    }

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        try:
            view = browser.new_page()
            view.set_content(page)
            chart = view.locator("svg.drift-magnitude")
            assert chart.is_visible() and chart.bounding_box()["width"] == 720
            assert view.locator("svg.drift-magnitude circle.window").count() == 6
            assert view.locator("svg.drift-magnitude circle.over").count() == 3  # weeks 4 to 6 drifted
            threshold_y = float(view.locator("line.threshold").get_attribute("y1") or 0)
            ys = [float(c.get_attribute("cy") or 0) for c in view.locator("circle.window").all()]
            assert all(y < threshold_y for y in ys[3:]) and all(y > threshold_y for y in ys[:3])
            assert view.locator("svg.drift-contributions rect").count() == 6 * 3
            tall = view.locator("svg.drift-contributions rect").first.bounding_box()
            assert tall is not None and tall["height"] > 0
            view.screenshot(path=str(tmp_path / "drift.png"))
        finally:
            browser.close()
