"""SQL database datastores registered Azure-style (PostgreSQL, MySQL/MariaDB, Azure SQL), queried on
real PostgreSQL and MariaDB servers; passwords never reach the registry, errors or logs."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from airflow_mlw import Dataset, Datastore
from airflow_mlw.datastores.sql import ENGINES, run_query, server_host
from airflow_mlw.exceptions import DatastoreConnectionError, MlwError, SqlQueryError
from tests import services
from tests.datastores.test_registration import registry_text


def new_password() -> str:
    return f"Pw-{uuid.uuid4().hex}"


@dataclass
class Database:
    """A fresh database on a real server, its datastore and a way to change its tables."""

    engine: str
    datastore: Datastore
    password: str
    execute: Callable[[str], None]
    sleep_query: str


def _postgres_database(workspace: Any, postgres: services.Postgres) -> Database:
    name, user, password = f"sqlds_{uuid.uuid4().hex[:10]}", f"u_{uuid.uuid4().hex[:8]}", new_password()
    postgres.create_database(name)
    engine = create_engine(postgres.url(name), isolation_level="AUTOCOMMIT")

    def execute(statement: str) -> None:
        with engine.connect() as connection:
            connection.execute(text(statement))

    execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
    execute(f"GRANT ALL ON SCHEMA public TO {user}")
    execute("CREATE TABLE sales (id INTEGER, item TEXT, amount DOUBLE PRECISION)")
    execute("INSERT INTO sales VALUES (1, 'apple', 1.5), (2, 'pear', 2.25)")
    execute(f"GRANT SELECT ON sales TO {user}")
    datastore = Datastore.register_azure_postgre_sql(
        workspace,
        "pg_sales",
        server_name="127.0.0.1",
        database_name=name,
        user_id=user,
        user_password=password,
        port_number=postgres.port,
        enforce_ssl=False,
    )
    return Database("postgres", datastore, password, execute, "SELECT pg_sleep(5)")


def _mariadb_database(workspace: Any, mariadb: services.MariaDB) -> Database:
    name, user, password = f"sqlds_{uuid.uuid4().hex[:10]}", f"u_{uuid.uuid4().hex[:8]}", new_password()
    mariadb.create_database(name, user, password)

    def execute(statement: str) -> None:
        connection = mariadb.connect(name)
        with connection.cursor() as cursor:
            cursor.execute(statement)
        connection.close()

    execute("CREATE TABLE sales (id INTEGER, item TEXT, amount DOUBLE)")
    execute("INSERT INTO sales VALUES (1, 'apple', 1.5), (2, 'pear', 2.25)")
    datastore = Datastore.register_azure_my_sql(
        workspace,
        "my_sales",
        server_name="127.0.0.1",
        database_name=name,
        user_id=user,
        user_password=password,
        port_number=mariadb.port,
    )
    return Database("mysql", datastore, password, execute, "SELECT SLEEP(5)")


@pytest.fixture(params=["postgres", "mariadb"])
def database(request: pytest.FixtureRequest, workspace: Any) -> Database:
    if request.param == "postgres":
        return _postgres_database(workspace, request.getfixturevalue("postgres"))
    return _mariadb_database(workspace, request.getfixturevalue("mariadb"))


def test_registration_of_each_kind_stores_no_clear_secret(workspace: Any) -> None:
    pg_pw, my_pw, sql_pw, sp_secret = new_password(), new_password(), new_password(), new_password()
    pg = Datastore.register_azure_postgre_sql(workspace, "pg", "pgsrv", "sales", "analyst", pg_pw)
    my = Datastore.register_azure_my_sql(workspace, "my", "mysrv", "sales", "analyst", my_pw, 3307)
    ms = Datastore.register_azure_sql_database(
        workspace, "ms", "mssrv", "sales", username="analyst", password=sql_pw
    )
    sp = Datastore.register_azure_sql_database(
        workspace, "sp", "mssrv", "sales", tenant_id="t-1", client_id="c-1", client_secret=sp_secret
    )
    stored = registry_text(workspace)
    for secret in (pg_pw, my_pw, sql_pw, sp_secret):
        assert secret not in stored
    assert [d.datastore_type for d in (pg, my, ms, sp)] == [
        "AzurePostgreSql",
        "AzureMySql",
        "AzureSqlDatabase",
        "AzureSqlDatabase",
    ]
    assert pg.config["host"] == "pgsrv.postgres.database.azure.com"
    assert pg.config["extra"] == {"sslmode": "require"}
    assert (my.config["host"], my.config["port"]) == ("mysrv.mysql.database.azure.com", 3307)
    assert (ms.config["host"], ms.config["port"]) == ("mssrv.database.windows.net", 1433)
    assert pg.describe()["credential"] == "stored encrypted"
    assert pg_pw not in json.dumps(pg.describe())


def test_server_name_is_azure_form_unless_already_a_host() -> None:
    postgres = ENGINES["postgres"]
    assert server_host("srv", None, postgres) == "srv.postgres.database.azure.com"
    assert server_host("srv", "postgres.database.chinacloudapi.cn", postgres) == (
        "srv.postgres.database.chinacloudapi.cn"
    )
    assert server_host("db.example.org", None, postgres) == "db.example.org"
    assert server_host("10.0.0.5", None, postgres) == "10.0.0.5"
    assert server_host("::1", None, postgres) == "::1"
    assert server_host("localhost", None, postgres) == "localhost"


def test_bad_registrations_are_named(workspace: Any) -> None:
    with pytest.raises(MlwError, match="pass a user and password"):
        Datastore.register_azure_my_sql(workspace, "m1", "srv", "db", "user", None)
    with pytest.raises(MlwError, match="either conn_id or a user and password"):
        Datastore.register_azure_postgre_sql(workspace, "p1", "srv", "db", "u", "pw", conn_id="pg")
    with pytest.raises(MlwError, match=r"unexpected argument\(s\) \['skip_validaton'\]"):
        Datastore.register_azure_postgre_sql(workspace, "p2", "srv", "db", "u", "pw", skip_validaton=True)
    with pytest.raises(MlwError, match="port_number 'abc' is not a number"):
        Datastore.register_azure_my_sql(workspace, "m2", "srv", "db", "u", "pw", port_number="abc")
    with pytest.raises(MlwError, match="pass username and password, tenant_id"):
        Datastore.register_azure_sql_database(workspace, "s1", "srv", "db")
    assert sorted(workspace.datastores) == ["workspacelocalstore"]


def test_azure_sql_database_builds_the_mssql_providers_hook(workspace: Any) -> None:
    from airflow.providers.microsoft.mssql.hooks.mssql import MsSqlHook

    password = new_password()
    ms = Datastore.register_azure_sql_database(
        workspace, "ms", "mssrv", "sales", username="u", password=password
    )
    hook = ms.sql_hook()
    assert isinstance(hook, MsSqlHook)
    assert (hook.connection.host, hook.connection.port, hook.connection.schema) == (
        "mssrv.database.windows.net",
        1433,
        "sales",
    )
    sp = Datastore.register_azure_sql_database(
        workspace, "sp", "mssrv", "sales", tenant_id="t", client_id="c", client_secret=new_password()
    )
    with pytest.raises(
        DatastoreConnectionError, match="service principal .* not supported .* username and password"
    ):
        sp.sql_hook()


def test_queries_run_on_the_real_database(database: Database) -> None:
    columns, rows = run_query(database.datastore, "SELECT id, item, amount FROM sales ORDER BY id")
    assert (columns, rows) == (["id", "item", "amount"], [(1, "apple", 1.5), (2, "pear", 2.25)])


def test_conn_id_instead_of_a_stored_password(
    workspace: Any, postgres: services.Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    postgres.create_database("sql_conn_id")
    monkeypatch.setenv("AIRFLOW_CONN_MLW_PG", f"postgresql://postgres@127.0.0.1:{postgres.port}/sql_conn_id")
    ds = Datastore.register_azure_postgre_sql(
        workspace, "via_conn", "ignored", "sql_conn_id", None, None, conn_id="mlw_pg"
    )
    assert ds._record["secret"] is None
    assert run_query(ds, "SELECT current_database() AS db") == (["db"], [("sql_conn_id",)])


def test_query_dataset_gets_a_new_version_when_the_table_changes(workspace: Any, database: Database) -> None:
    query = (database.datastore, "SELECT id, item, amount FROM sales ORDER BY id")
    first = Dataset.Tabular.from_sql_query(query).register(workspace, f"sales_{database.engine}")
    assert first.version == 1
    again = Dataset.Tabular.from_sql_query(query).register(
        workspace, f"sales_{database.engine}", create_new_version=True
    )
    assert again.version == 1
    database.execute("INSERT INTO sales VALUES (3, 'plum', 4.0)")
    second = Dataset.Tabular.from_sql_query(query).register(
        workspace, f"sales_{database.engine}", create_new_version=True
    )
    assert second.version == 2
    frame = Dataset.get_by_name(workspace, f"sales_{database.engine}").to_pandas_dataframe()
    assert frame.to_dict("list") == {
        "id": [1, 2, 3],
        "item": ["apple", "pear", "plum"],
        "amount": [1.5, 2.25, 4.0],
    }


def test_set_column_types_casts_the_result(database: Database) -> None:
    query = (database.datastore, "SELECT id, amount FROM sales ORDER BY id")
    table = Dataset.Tabular.from_sql_query(query, set_column_types={"id": "string"}).to_arrow_table()
    assert table.column("id").to_pylist() == ["1", "2"]


def test_query_timeout_stops_a_long_query_and_names_the_timeout(database: Database) -> None:
    dataset = Dataset.Tabular.from_sql_query((database.datastore, database.sleep_query), query_timeout=1)
    started = time.monotonic()
    with pytest.raises(SqlQueryError, match=r"did not finish within query_timeout=1s") as caught:
        dataset.to_pandas_dataframe()
    assert time.monotonic() - started < 4
    assert database.datastore.name in str(caught.value)


def test_bad_query_names_the_database_error_and_no_credentials(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    dataset = Dataset.Tabular.from_sql_query((database.datastore, "SELECT * FROM no_such_table"))
    with pytest.raises(SqlQueryError) as caught:
        dataset.to_pandas_dataframe()
    message = str(caught.value)
    assert f"SQL datastore {database.datastore.name!r}: the query failed" in message
    assert "no_such_table" in message  # the database's own message
    assert database.password not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert database.password not in caplog.text


def test_wrong_password_is_a_connection_error_without_the_password(
    workspace: Any, mariadb: services.MariaDB, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    name, wrong = f"sqlds_{uuid.uuid4().hex[:10]}", new_password()
    mariadb.create_database(name, "analyst", new_password())
    ds = Datastore.register_azure_my_sql(
        workspace, "wrong_pw", "127.0.0.1", name, "analyst", wrong, mariadb.port
    )
    with pytest.raises(
        DatastoreConnectionError, match=r"'wrong_pw': cannot connect: .*Access denied"
    ) as caught:
        run_query(ds, "SELECT 1")
    assert wrong not in str(caught.value)
    assert wrong not in caplog.text


def test_query_timeout_must_be_positive(database: Database) -> None:
    from airflow_mlw.exceptions import DatasetError

    with pytest.raises(DatasetError, match="query_timeout must be a positive number of seconds, not 0"):
        Dataset.Tabular.from_sql_query((database.datastore, "SELECT 1"), query_timeout=0)
