"""Hook of the ``mlw_local`` connection type: a local (or shared-mount) folder used as a datastore."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook


class LocalDatastoreHook(BaseHook):
    """A folder on the worker (or a mount shared by every worker) as datastore root.

    The connection's ``host`` field (or ``extra.root``) holds the folder.

    :param mlw_local_conn_id: id of an ``mlw_local`` connection
    """

    conn_name_attr = "mlw_local_conn_id"
    default_conn_name = "mlw_local_default"
    conn_type = "mlw_local"
    hook_name = "ML Workspace local folder"

    def __init__(self, mlw_local_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mlw_local_conn_id = mlw_local_conn_id

    @cached_property
    def root(self) -> Path:
        conn = self.get_connection(self.mlw_local_conn_id)
        root = conn.extra_dejson.get("root") or conn.host
        if not root:
            raise ValueError(
                f"connection {self.mlw_local_conn_id!r} names no folder (set host or extra.root)"
            )
        return Path(root).expanduser()

    def get_conn(self) -> Path:
        return self.root

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "login", "password", "port", "extra"],
            "relabeling": {"host": "Root folder"},
            "placeholders": {"host": "/data/mlw"},
        }
