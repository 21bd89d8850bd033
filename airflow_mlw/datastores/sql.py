"""SQL datastores: any Airflow connection whose hook is a common-sql ``DbApiHook``."""

from __future__ import annotations

from typing import Any

from airflow_mlw.exceptions import DatastoreConnectionError


def sql_hook(datastore: str, conn_id: str) -> Any:
    """The DbApiHook of ``conn_id``, or a clear error naming the datastore and connection."""
    from airflow.providers.common.sql.hooks.sql import DbApiHook
    from airflow.sdk import BaseHook

    try:
        connection = BaseHook.get_connection(conn_id)
    except Exception as exc:
        if type(exc).__name__ == "AirflowNotFoundException":
            raise DatastoreConnectionError(
                f"SQL datastore {datastore!r}: Airflow connection {conn_id!r} is not defined"
            ) from None
        raise
    hook = connection.get_hook()
    if not isinstance(hook, DbApiHook):
        raise DatastoreConnectionError(
            f"SQL datastore {datastore!r}: connection {conn_id!r} of type {connection.conn_type!r} is not a SQL connection"
        )
    return hook


def run_query(datastore: str, conn_id: str, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of ``query``."""
    hook = sql_hook(datastore, conn_id)
    with hook.get_conn() as connection:
        cursor = connection.cursor()
        try:
            cursor.execute(query)
            columns = [column[0] for column in cursor.description or ()]
            rows = [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()
    return columns, rows
