"""The plugin's REST app on a real Airflow api-server: Airflow's own auth guards every route."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from airflow_mlw.registry.store import head_revision
from tests.airflow_stack import airflow_stack


def request(url: str, token: str | None = None, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data, headers=headers), timeout=30
        ) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read())
        except ValueError:
            return exc.code, None


def test_routes_need_an_airflow_token(tmp_path: Path) -> None:
    (tmp_path / "dags").mkdir()
    env = {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
    }
    with airflow_stack(
        tmp_path / "dags", extra_env=env, services=("api-server",), before_start=_passwords
    ) as stack:
        base = f"http://127.0.0.1:{stack.port}"
        assert request(f"{base}/mlw/api/health")[0] == 401
        assert request(f"{base}/mlw/api/health", token="not-a-jwt")[0] == 403
        status, body = request(f"{base}/auth/token", body={"username": "admin", "password": "s3cret-pw"})
        assert status == 201, status
        status, health = request(f"{base}/mlw/api/health", token=body["access_token"])
        assert status == 200
        assert health["workspace"] == "default" and health["revision"] == head_revision()
        assert request(f"{base}/mlw/api/datasets", token=body["access_token"]) == (200, [])


def _passwords(home: Path) -> None:
    (home / "simple_auth_manager_passwords.json.generated").write_text(json.dumps({"admin": "s3cret-pw"}))
