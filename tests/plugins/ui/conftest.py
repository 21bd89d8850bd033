"""The plugin's app served by a real HTTP server (uvicorn, in a thread) on a test's workspace, for
Chromium to load the pages, their JSON routes and the vendored chart libraries; and what a page's
charts drew, read back from the browser."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "ui"

#: Each chart of the page once every one has settled: its state, the rows its view holds (the
#: ``rows`` dataset charts.js passes to Vega), the series among them, and the SVG marks it drew.
CHARTS = """
async () => {
  const charts = await window.mlwCharts.whenSettled();
  const found = {};
  for (const box of document.querySelectorAll(".mlw-chart-view")) {
    const name = box.dataset.chart, view = charts.views[name];
    const rows = view ? view.data("rows").map((row) => ({...row})) : [];
    found[name] = {
      state: box.dataset.state,
      error: charts.errors[name] || null,
      rows: rows,
      series: [...new Set(rows.map((row) => row.series ?? row.trial ?? null))].filter((s) => s !== null),
      svg: box.querySelector("svg") !== null,
      marks: box.querySelectorAll("svg g.mark-line path, svg g.mark-symbol path, svg g.mark-rect path").length,
    };
  }
  return found;
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def ui_server(workspace: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Base URL of the plugin's UI router serving ``workspace``, Airflow's auth switched off
    (tests/test_ui.py tests it in a real deployment)."""
    import uvicorn
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import FastAPI

    from airflow_mlw.plugins.ui import router

    monkeypatch.setattr(
        "airflow_mlw.workspace.Workspace.from_config", classmethod(lambda cls, *a, **k: workspace)
    )
    app = FastAPI()
    app.include_router(router)
    app.dependency_overrides[get_user] = lambda: None
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="ui-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the UI server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def chromium() -> str:
    """The system Chromium driven by Playwright (as tests/test_ui.py drives it)."""
    from tests.test_ui import find_chromium

    return require("Chromium", find_chromium)


@pytest.fixture
def browser(chromium: str) -> Iterator[Any]:
    """A headless Chromium that may reach only this machine (no chart may need the internet)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


def open_charts(browser: Any, url: str, screenshot: str | None = None) -> tuple[Any, dict[str, Any]]:
    """Open ``url``; the page and its charts once drawn (screenshot under test-artifacts/ui/)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    charts = page.evaluate(CHARTS)
    outside = [u for u in requests if not u.startswith(url.split("/ui/")[0])]
    assert not outside, f"the page fetched from elsewhere: {outside}"
    if screenshot:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
    return page, charts


def shot_of(page: Any, selector: str, name: str) -> Path:
    """A screenshot of the region that holds every element matching ``selector`` (test-artifacts/ui/)."""
    boxes = [box for box in (element.bounding_box() for element in page.locator(selector).all()) if box]
    assert boxes, selector
    left, top = min(b["x"] for b in boxes), min(b["y"] for b in boxes)
    right, bottom = max(b["x"] + b["width"] for b in boxes), max(b["y"] + b["height"] for b in boxes)
    scroll = page.evaluate("[window.scrollX, window.scrollY]")
    clip = {
        "x": left + scroll[0],
        "y": top + scroll[1],
        "width": right - left + 8,
        "height": bottom - top + 8,
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True, clip=clip)
    return ARTIFACTS / name
