"""SQL datastores: any Airflow connection whose hook is a common-sql ``DbApiHook``, or a database
server registered Azure-style (Azure SQL Database, Azure Database for PostgreSQL / MySQL).

An Azure-style registration keeps host, port, database and user in the registry and the password
(or service-principal secret) Fernet-encrypted, like a Blob account key. At query time the
provider's own hook (``PostgresHook``, ``MySqlHook``, ``MsSqlHook``) is built from them in memory;
the secret never reaches the registry, a log line or an error message in clear text.
"""

from __future__ import annotations

import importlib
import ipaddress
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_mlw.exceptions import DatastoreConnectionError, MlwError, SqlQueryError

if TYPE_CHECKING:
    from airflow_mlw.datastores import Datastore
    from airflow_mlw.workspace import Workspace

log = logging.getLogger(__name__)

SQL_KIND = "sql"


@dataclass(frozen=True)
class SqlEngine:
    """A database product: its Airflow connection type and hook, and Azure's defaults for it.

    :param conn_type: Airflow connection type (``postgres``, ``mysql``, ``mssql``)
    :param hook: dotted path of the provider's hook class
    :param extra: the extra that installs the provider
    :param endpoint: Azure's host suffix (``<server_name>.<endpoint>``)
    :param port: the product's default port
    :param datastore_type: Azure's ``datastore_type`` name
    """

    conn_type: str
    hook: str
    extra: str
    endpoint: str
    port: int
    datastore_type: str


ENGINES: dict[str, SqlEngine] = {
    "postgres": SqlEngine(
        "postgres",
        "airflow.providers.postgres.hooks.postgres.PostgresHook",
        "postgres",
        "postgres.database.azure.com",
        5432,
        "AzurePostgreSql",
    ),
    "mysql": SqlEngine(
        "mysql",
        "airflow.providers.mysql.hooks.mysql.MySqlHook",
        "mysql",
        "mysql.database.azure.com",
        3306,
        "AzureMySql",
    ),
    "mssql": SqlEngine(
        "mssql",
        "airflow.providers.microsoft.mssql.hooks.mssql.MsSqlHook",
        "mssql",
        "database.windows.net",
        1433,
        "AzureSqlDatabase",
    ),
}

#: Error codes that mean "statement timeout": PostgreSQL's SQLSTATE, MariaDB's and MySQL's errno.
TIMEOUT_CODES = {"57014", 1969, 3024}


def server_host(server_name: str, endpoint: str | None, engine: SqlEngine) -> str:
    """Azure's ``<server_name>.<endpoint>``; a name that is already a host (dotted, an IP, localhost) as is."""
    if server_name == "localhost" or "." in server_name or _is_ip(server_name):
        return server_name
    return f"{server_name}.{(endpoint or engine.endpoint).strip('.')}"


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def datastore_type(config: dict[str, Any]) -> str:
    """Azure's ``datastore_type`` of a SQL datastore's config."""
    engine = ENGINES.get(config.get("engine", ""))
    return engine.datastore_type if engine else "SqlDatabase"


# -- registration ------------------------------------------------------------------------------------


def register_sql(
    cls: type[Datastore], workspace: Workspace, datastore_name: str, conn_id: str, overwrite: bool = False
) -> Datastore:
    """Register a SQL database reached through any Airflow SQL connection (common-sql hooks)."""
    return cls._register(workspace, datastore_name, SQL_KIND, {}, conn_id=conn_id, overwrite=overwrite)


def register_azure_postgre_sql(
    cls: type[Datastore],
    workspace: Workspace,
    datastore_name: str,
    server_name: str,
    database_name: str,
    user_id: str | None,
    user_password: str | None,
    port_number: int | str | None = None,
    endpoint: str | None = None,
    overwrite: bool = False,
    enforce_ssl: bool = True,
    *,
    conn_id: str | None = None,
    **kwargs: Any,
) -> Datastore:
    """Register an Azure Database for PostgreSQL (or any PostgreSQL server), Azure's signature.

    :param server_name: Azure's server name (host ``<server_name>.postgres.database.azure.com``),
        or a host name or IP used as is
    :param user_password: stored Fernet-encrypted; never in clear text
    :param enforce_ssl: connect with ``sslmode=require``
    :param conn_id: an Airflow ``postgres`` connection to use instead of ``user_id`` / ``user_password``
    """
    return _register_server(
        cls,
        workspace,
        datastore_name,
        "postgres",
        server_name,
        database_name,
        user_id,
        {"password": user_password} if user_password else {},
        port_number,
        endpoint,
        {"sslmode": "require"} if enforce_ssl else {},
        conn_id,
        overwrite,
        kwargs,
    )


def register_azure_my_sql(
    cls: type[Datastore],
    workspace: Workspace,
    datastore_name: str,
    server_name: str,
    database_name: str,
    user_id: str | None,
    user_password: str | None,
    port_number: int | str | None = None,
    endpoint: str | None = None,
    overwrite: bool = False,
    *,
    conn_id: str | None = None,
    **kwargs: Any,
) -> Datastore:
    """Register an Azure Database for MySQL (or any MySQL / MariaDB server), Azure's signature.

    :param server_name: Azure's server name (host ``<server_name>.mysql.database.azure.com``),
        or a host name or IP used as is
    :param user_password: stored Fernet-encrypted; never in clear text
    :param conn_id: an Airflow ``mysql`` connection to use instead of ``user_id`` / ``user_password``
    """
    return _register_server(
        cls,
        workspace,
        datastore_name,
        "mysql",
        server_name,
        database_name,
        user_id,
        {"password": user_password} if user_password else {},
        port_number,
        endpoint,
        {},
        conn_id,
        overwrite,
        kwargs,
    )


def register_azure_sql_database(
    cls: type[Datastore],
    workspace: Workspace,
    datastore_name: str,
    server_name: str,
    database_name: str,
    tenant_id: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    resource_url: str | None = None,
    authority_url: str | None = None,
    endpoint: str | None = None,
    overwrite: bool = False,
    username: str | None = None,
    password: str | None = None,
    subscription_id: str | None = None,
    resource_group: str | None = None,
    grant_workspace_access: bool = False,
    *,
    conn_id: str | None = None,
    **kwargs: Any,
) -> Datastore:
    """Register an Azure SQL Database (or any SQL Server), Azure's signature; queried through the
    mssql provider (``pip install 'airflow-mlw[mssql]'``).

    :param server_name: Azure's server name (host ``<server_name>.database.windows.net``), or a
        host name or IP used as is
    :param username: SQL authentication user, with ``password`` (stored Fernet-encrypted)
    :param client_secret: a service principal's secret (with ``tenant_id`` and ``client_id``), stored
        like ``password``; the provider's pymssql driver cannot sign in with one, so queries then
        fail with an error saying so
    :param conn_id: an Airflow ``mssql`` connection to use instead of stored credentials
    """
    if username or password:
        user, secret, principal = username, {"password": password} if password else {}, {}
    else:
        user, secret = None, {"client_secret": client_secret} if client_secret else {}
        principal = {
            key: value
            for key, value in {
                "tenant_id": tenant_id,
                "client_id": client_id,
                "resource_url": resource_url,
                "authority_url": authority_url,
            }.items()
            if value
        }
        if not conn_id and not (tenant_id and client_id and client_secret):
            raise MlwError(
                f"datastore {datastore_name!r}: pass username and password, tenant_id, client_id and "
                "client_secret, or conn_id of an Airflow mssql connection"
            )
    return _register_server(
        cls,
        workspace,
        datastore_name,
        "mssql",
        server_name,
        database_name,
        user,
        secret,
        None,
        endpoint,
        {},
        conn_id,
        overwrite,
        kwargs,
        principal,
    )


def _register_server(
    cls: type[Datastore],
    workspace: Workspace,
    datastore_name: str,
    engine_name: str,
    server_name: str,
    database_name: str,
    user: str | None,
    secret: dict[str, str],
    port: int | str | None,
    endpoint: str | None,
    extra: dict[str, Any],
    conn_id: str | None,
    overwrite: bool,
    unknown: dict[str, Any],
    principal: dict[str, str] | None = None,
) -> Datastore:
    """Check the arguments, encrypt the secret and register the server as a SQL datastore."""
    from airflow_mlw.datastores.credentials import encrypt_secret

    where = f"datastore {datastore_name!r}"
    if unknown:
        raise MlwError(f"{where}: unexpected argument(s) {sorted(unknown)}")
    engine = ENGINES[engine_name]
    if conn_id and (secret or user):
        raise MlwError(f"{where}: pass either conn_id or a user and password, not both")
    config: dict[str, Any] = {"engine": engine_name, "database": database_name}
    if not conn_id:
        if not server_name:
            raise MlwError(f"{where}: server_name is empty")
        if not database_name:
            raise MlwError(f"{where}: database_name is empty")
        if not principal and not (user and secret):
            raise MlwError(f"{where}: pass a user and password, or conn_id of an Airflow connection")
        try:
            port_number = int(port) if port not in (None, "") else engine.port
        except (TypeError, ValueError):
            raise MlwError(f"{where}: port_number {port!r} is not a number") from None
        host = server_host(server_name, endpoint, engine)
        config.update({"host": host, "port": port_number, "user": user, "extra": extra, **(principal or {})})
    encrypted = encrypt_secret(secret, workspace) if secret else None
    return cls._register(
        workspace, datastore_name, SQL_KIND, config, conn_id=conn_id, secret=encrypted, overwrite=overwrite
    )


# -- hooks and queries -------------------------------------------------------------------------------


def sql_hook(datastore: Datastore) -> Any:
    """The provider's DbApiHook of a SQL datastore, from its Airflow connection or its stored server."""
    if datastore.kind != SQL_KIND:
        raise MlwError(f"datastore {datastore.name!r} is a {datastore.kind} datastore, not a SQL one")
    if datastore.conn_id:
        return _connection_hook(datastore.name, datastore.conn_id)
    return _stored_server_hook(datastore)


def _connection_hook(datastore: str, conn_id: str) -> Any:
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


def _stored_server_hook(datastore: Datastore) -> Any:
    """The hook of a server registered Azure-style, over an in-memory connection (never stored)."""
    from airflow.sdk import Connection

    from airflow_mlw.datastores.credentials import decrypt_secret

    config, where = datastore.config, f"SQL datastore {datastore.name!r}"
    engine = ENGINES.get(config.get("engine", ""))
    if engine is None or "host" not in config:
        raise DatastoreConnectionError(f"{where} has neither an Airflow connection nor a stored server")
    secret = (
        decrypt_secret(datastore._record["secret"], datastore.workspace)
        if datastore._record["secret"]
        else {}
    )
    if "client_secret" in secret:
        raise DatastoreConnectionError(
            f"{where}: signing in to Azure SQL with a service principal (tenant_id, client_id, client_secret) "
            "is not supported by the mssql provider's pymssql driver; register with username and password, "
            "or with conn_id of an Airflow mssql connection"
        )
    module, _, name = engine.hook.rpartition(".")
    try:
        hook_class = getattr(importlib.import_module(module), name)
    except ImportError:
        raise DatastoreConnectionError(
            f"{where} ({engine.datastore_type}) needs the {engine.conn_type} provider: "
            f"pip install 'airflow-mlw[{engine.extra}]'"
        ) from None
    connection = Connection(
        conn_id=f"mlw_datastore_{datastore.name}",
        conn_type=engine.conn_type,
        host=config["host"],
        port=config["port"],
        schema=config["database"],
        login=config.get("user"),
        password=secret.get("password"),
        extra=json.dumps(config.get("extra") or {}),
    )
    return hook_class(connection=connection)


def run_query(
    datastore: Datastore, query: str, timeout: float | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of ``query`` on a SQL datastore.

    :param timeout: seconds the database may spend on the query (a statement timeout on PostgreSQL,
        MySQL and MariaDB, pymssql's query timeout on SQL Server; not enforced on other databases)
    :raises SqlQueryError: the query failed or ran out of time (the database's message, no secret)
    :raises DatastoreConnectionError: the database cannot be reached or refused the sign-in
    """
    hook = sql_hook(datastore)
    secrets = _secrets(hook)
    where = f"SQL datastore {datastore.name!r}"
    try:
        connection = hook.get_conn()
    except MlwError:
        raise
    except Exception as exc:
        raise DatastoreConnectionError(
            f"{where}: cannot connect: {_database_message(exc, secrets)}"
        ) from None
    started = time.monotonic()
    try:
        cursor = connection.cursor()
        try:
            if timeout:
                _set_timeout(hook, connection, cursor, timeout)
            cursor.execute(query)
            columns = [column[0] for column in cursor.description or ()]
            rows = [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()
    except Exception as exc:
        message = _database_message(exc, secrets)
        if timeout and (_error_code(exc) in TIMEOUT_CODES or time.monotonic() - started >= timeout):
            raise SqlQueryError(
                f"{where}: the query did not finish within query_timeout={timeout:g}s: {message}"
            ) from None
        raise SqlQueryError(f"{where}: the query failed: {message}") from None
    finally:
        connection.close()
    return columns, rows


def _set_timeout(hook: Any, connection: Any, cursor: Any, seconds: float) -> None:
    """A statement timeout for the rest of this connection, in the database's own terms."""
    conn_type = getattr(hook, "conn_type", "")
    if conn_type == "postgres":
        cursor.execute(f"SET statement_timeout = {max(1, round(seconds * 1000))}")
    elif conn_type == "mysql":
        cursor.execute("SELECT VERSION()")
        (version,) = cursor.fetchone()
        if "mariadb" in str(version).lower():
            cursor.execute(f"SET SESSION max_statement_time = {float(seconds)}")
        else:  # MySQL's limit applies to SELECT statements only
            cursor.execute(f"SET SESSION max_execution_time = {max(1, round(seconds * 1000))}")
    elif conn_type == "mssql" and hasattr(getattr(connection, "_conn", None), "query_timeout"):
        connection._conn.query_timeout = max(1, round(seconds))
    else:
        log.debug("query_timeout is not enforced on %s connections", conn_type or "these")


def _secrets(hook: Any) -> list[str]:
    """The password of the hook's connection, to keep out of error messages."""
    try:
        password = hook.connection.password
    except Exception:
        return []
    return [password] if password else []


def _database_message(exc: Exception, secrets: list[str]) -> str:
    """The database's own message (first lines), with every secret cut out."""
    message = " ".join(str(exc).strip().split("\n")[:3]).strip() or type(exc).__name__
    for secret in secrets:
        message = message.replace(secret, "***")
    return message


def _error_code(exc: Exception) -> Any:
    """PostgreSQL's SQLSTATE (psycopg 2 and 3) or the MySQL errno of a driver exception."""
    code = getattr(exc, "pgcode", None) or getattr(exc, "sqlstate", None)
    if code is None and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
    return code
