"""The charting libraries ship in the package and are served by the plugin's app behind Airflow's
auth: the vendored files as their README's checksums say, nothing outside ``static/``, no page
that names an internet URL for a script, and the wheel carries them."""

from __future__ import annotations

import hashlib
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import airflow_mlw.plugins.ui as ui

STATIC = Path(ui.__file__).with_name("static")
TEMPLATES = Path(ui.__file__).with_name("templates")


def test_the_vendored_libraries_are_served_as_recorded(ui_server: str) -> None:
    readme = (STATIC / "vendor" / "README.md").read_text()
    recorded = dict((name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M))
    assert sorted(recorded) == ["vega-embed.min.js", "vega-lite.min.js", "vega.min.js"]
    for name, digest in recorded.items():
        with urllib.request.urlopen(f"{ui_server}/ui/static/vendor/{name}") as response:
            assert response.headers["Content-Type"].startswith("text/javascript")
            assert hashlib.sha256(response.read()).hexdigest() == digest, name
    for license_file in ("LICENSE-vega", "LICENSE-vega-lite", "LICENSE-vega-embed"):
        with urllib.request.urlopen(f"{ui_server}/ui/static/vendor/{license_file}") as response:
            assert b"University of Washington Interactive Data Lab" in response.read()


def test_nothing_outside_static_is_served(ui_server: str) -> None:
    for path in ("%2e%2e/assets.py", "vendor/%2e%2e/%2e%2e/pages.py", "nope.js"):
        try:
            urllib.request.urlopen(f"{ui_server}/ui/static/{path}")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404, path
        else:
            raise AssertionError(f"static/{path} was served")


def test_the_static_files_and_chart_data_need_an_airflow_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow's own ``get_user`` and auth manager in front (no override): no credential is a 401,
    a forged one a 403 (tests/test_ui.py logs in for real on a deployment)."""
    from airflow.api_fastapi import app as airflow_app
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    monkeypatch.setattr(airflow_app._AuthManagerState, "instance", None)  # this test's own, dropped after
    airflow_app.create_auth_manager()

    app = FastAPI()
    app.include_router(ui.router)
    client = TestClient(app)
    for path in (
        "/ui/static/charts.js",
        "/ui/static/vendor/vega.min.js",
        "/ui/data/runs/r/metrics",
        "/ui/runs/r/files/a.png",
    ):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"Authorization": "Bearer not-a-jwt"}).status_code == 403, path


def test_no_page_or_script_of_ours_loads_from_the_internet() -> None:
    ours = [*TEMPLATES.glob("*.html"), *STATIC.glob("*.js")]
    assert ours
    for path in ours:
        text = path.read_text()
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), path
        assert not re.search(r"""(fetch|import)\(\s*["'](https?:)?//""", text), path
