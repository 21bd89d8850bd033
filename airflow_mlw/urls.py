"""Where the ML Workspace lives on Airflow's api-server: the plugin's mount, its pages, its nav entry.

The operators' extra links and the plugin both build their paths from these, so a link made in a
worker opens the page the api-server serves. Reading ``[api] base_url`` is the only I/O, on call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:
    from airflow.sdk.types import TaskInstanceKey

#: Where the plugin's app is mounted on the api-server, and its nav entry's route in Airflow's UI.
URL_PREFIX = "/mlw"
NAV_ROUTE = "mlw"
#: The pages' path below ``URL_PREFIX``.
UI_PREFIX = "/ui"


def api_base_url() -> str:
    """The api-server's ``[api] base_url`` without a trailing slash (empty when unset)."""
    from airflow.configuration import conf

    return (conf.get("api", "base_url", fallback="") or "").rstrip("/")


def api_server_url() -> str:
    """Where clients reach the api-server: ``[api] base_url``, else ``http://localhost:<[api] port>``
    (Airflow's own fallback for links)."""
    from airflow.configuration import conf

    return api_base_url() or f"http://localhost:{conf.getint('api', 'port', fallback=8080)}"


def ui_path(page: str = "") -> str:
    """Path of an ML Workspace page on the api-server, below the path of ``[api] base_url``."""
    return f"{urlsplit(api_base_url()).path}{URL_PREFIX}{UI_PREFIX}/{page}"


def portal_url(page: str) -> str:
    """An ML Workspace page as a browser opens it on the api-server (``run.get_portal_url()``)."""
    split = urlsplit(api_server_url())
    return f"{split.scheme}://{split.netloc}{ui_path(page)}"


def task_run_url(ti_key: TaskInstanceKey, anchor: str = "") -> str:
    """The ML Workspace page of the run a task instance made, inside Airflow's UI."""
    query = urlencode({"dag_id": ti_key.dag_id, "dag_run_id": ti_key.run_id, "task_id": ti_key.task_id})
    page = ui_path(f"task-run?{query}")
    return f"{api_base_url()}/plugin/{NAV_ROUTE}{page}" + (f"#{anchor}" if anchor else "")
