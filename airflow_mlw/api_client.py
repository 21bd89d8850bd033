"""A small client of the Airflow api-server (``[mlw] api_url``): the plugin's ``/mlw`` routes and
Airflow's ``/api/v2``. Standard library only.

Credentials come from the Airflow connection ``mlw_api`` (login and password, exchanged for a JWT at
``/auth/token``) or from ``$MLW_API_TOKEN`` (a JWT); neither is ever logged or put in an error.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from airflow_mlw.exceptions import MlwError

API_CONN_ID = "mlw_api"


class ApiError(MlwError):
    """The api-server refused a request: ``status`` is the HTTP status, the message its detail."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ApiClient:
    """JSON requests to the api-server at ``base_url``, authenticated with a JWT."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 60,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._username = username
        self._password = password
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Any) -> ApiClient:
        if not settings.api_url:
            raise MlwError("[mlw] api_url is not set: there is no api-server to talk to")
        token = os.environ.get("MLW_API_TOKEN")
        if token:
            return cls(settings.api_url, token=token)
        from airflow.exceptions import AirflowNotFoundException
        from airflow.sdk import BaseHook

        try:
            conn = BaseHook.get_connection(API_CONN_ID)
        except AirflowNotFoundException:
            return cls(settings.api_url)
        return cls(settings.api_url, username=conn.login, password=conn.password)

    def _auth_header(self) -> dict[str, str]:
        if self._token is None and self._username:
            body = self._send(
                "POST", "/auth/token", {"username": self._username, "password": self._password}, {}
            )
            self._token = body["access_token"]
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def request(self, method: str, path: str, body: Any = None) -> Any:
        return self._send(method, path, body, self._auth_header())

    def _send(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        url = f"{self.base_url}{path}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json", **headers}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            try:
                detail = json.loads(detail).get("detail", detail)
            except (ValueError, AttributeError):
                pass
            raise ApiError(f"{method} {url} failed with HTTP {exc.code}: {detail}", exc.code) from None
        except urllib.error.URLError as exc:
            raise ApiError(f"api-server {self.base_url} is unreachable: {exc.reason}", 0) from None
        return json.loads(text) if text else None
