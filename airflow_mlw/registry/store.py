"""The registry store: one lazily opened engine per URL, sessions, migrations, version allocation.

Nothing here touches the database until :attr:`RegistryStore.engine` is first used; that first
use applies pending Alembic migrations under a lock (a file lock for SQLite, an advisory lock for
PostgreSQL), so concurrent first users never race to create tables.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session

from airflow_mlw.exceptions import ConfigError, RegistryUnavailableError
from airflow_mlw.registry.rows import VersionCounterRow

VERSION_TABLE = "mlw_alembic_version"
#: How a non-finite float (a NaN loss, an infinite ratio) is kept in a JSON column: PostgreSQL's
#: JSON refuses the ``NaN`` token Python writes, so it is written as this one-key object.
NON_FINITE = "$mlw_float"


def _finite_json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {NON_FINITE: repr(value)}  # 'nan', 'inf', '-inf'
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_json(v) for v in value]
    return value


def dump_json(value: Any) -> str:
    """JSON for the registry's columns, valid on every database (no ``NaN``/``Infinity`` tokens)."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:  # a non-finite float somewhere: the rare case pays for the walk
        return json.dumps(_finite_json(value), allow_nan=False)


def _non_finite(item: dict[str, Any]) -> Any:
    if len(item) == 1 and NON_FINITE in item:
        return float(item[NON_FINITE])
    return item


def load_json(text: str) -> Any:
    return json.loads(text, object_hook=_non_finite)


JSON_CODEC = {"json_serializer": dump_json, "json_deserializer": load_json}
MIGRATIONS = Path(__file__).with_name("migrations")
_SQLITE_BEGIN = "mlw_sqlite_begin"
log = logging.getLogger(__name__)


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def has_password(url: str) -> bool:
    """The URL carries a password (it must not be pickled, stored in Airflow or logged)."""
    return bool(make_url(url).password)


def owned_row(session: Session, model: Any, key: Any, workspace_id: int) -> Any:
    """The row of ``model`` with primary key ``key``; ``None`` when missing or of another workspace."""
    row = session.get(model, key)
    return row if row is not None and row.workspace_id == workspace_id else None


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    config = _alembic_config(None)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


class RegistryStore:
    """Access to one registry database.

    :param url: SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg2://...``)
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RegistryStore({mask_url(self.url)!r})"

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    @property
    def engine(self) -> Engine:
        """The engine, created and migrated to head on first use."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    engine = self._create_engine()
                    with self.translate_errors():
                        self._upgrade(engine)
                    self._engine = engine
        return self._engine

    def _create_engine(self) -> Engine:
        try:
            url = make_url(self.url)
        except ArgumentError:
            raise ConfigError(f"malformed registry URL {mask_url(self.url)!r}") from None
        try:
            if url.get_backend_name() == "sqlite":
                return self._create_sqlite_engine(url)
            return create_engine(url, pool_pre_ping=True, future=True, **JSON_CODEC)
        except (NoSuchModuleError, ImportError, ArgumentError) as exc:
            raise ConfigError(
                f"registry URL {self.masked_url}: no SQLAlchemy driver for {url.drivername!r} "
                f"({type(exc).__name__}); for PostgreSQL install airflow-mlw[postgres]"
            ) from None

    def _create_sqlite_engine(self, url: Any) -> Engine:
        if url.database and url.database != ":memory:":
            path = Path(url.database).expanduser()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RegistryUnavailableError(
                    f"cannot create the folder of registry {self.masked_url}: {exc.strerror}"
                ) from None
        engine = create_engine(url, connect_args={"timeout": 60}, future=True, **JSON_CODEC)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event, not the driver, open transactions (BEGIN IMMEDIATE below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: no corruption on a crash, a commit is durable at the next checkpoint.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            # Writers take the write lock up front: a deferred transaction that upgrades from read to
            # write fails with "database is locked" instead of waiting.
            connection.exec_driver_sql(connection.get_execution_options().get(_SQLITE_BEGIN, "BEGIN"))

        return engine

    def _upgrade(self, engine: Engine) -> None:
        head = head_revision()
        with _quiet_alembic():
            with engine.connect() as connection:
                if self._current_revision(connection) == head:
                    return
            with self._migration_lock(engine), engine.begin() as connection:
                current = self._current_revision(connection)
                if current != head:
                    from alembic import command

                    command.upgrade(_alembic_config(connection), "head")
                    log.info("registry %s migrated from %s to %s", self.masked_url, current, head)

    @staticmethod
    def _current_revision(connection: Any) -> str | None:
        from alembic.runtime.migration import MigrationContext

        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()

    @contextlib.contextmanager
    def _migration_lock(self, engine: Engine) -> Iterator[None]:
        if engine.dialect.name == "sqlite":
            database = engine.url.database
            if not database or database == ":memory:":
                yield
                return
            with open(f"{database}.migrate.lock", "w") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        elif engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT pg_advisory_lock(727274)")
                try:
                    yield
                finally:
                    connection.exec_driver_sql("SELECT pg_advisory_unlock(727274)")
                    connection.commit()
        else:
            yield

    def upgrade(self) -> str:
        """Apply pending migrations (``mlw db upgrade``); returns the revision now current."""
        engine = self.engine
        with _quiet_alembic(), engine.connect() as connection:
            revision = self._current_revision(connection)
        assert revision is not None
        return revision

    @contextlib.contextmanager
    def translate_errors(self) -> Iterator[None]:
        """Turn driver errors about reaching the database into a :class:`RegistryUnavailableError`."""
        try:
            yield
        except DBAPIError as exc:
            if exc.connection_invalidated or _is_connect_error(exc):
                detail = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
                password = make_url(self.url).password
                if password:
                    detail = detail.replace(str(password), "***")
                raise RegistryUnavailableError(f"cannot reach registry {self.masked_url}: {detail}") from None
            raise

    @contextlib.contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """A session in one transaction, committed on success and rolled back on error.

        :param write: take the write lock at the start (SQLite ``BEGIN IMMEDIATE``); use it for every
            transaction that writes, so concurrent writers queue instead of failing
        """
        engine = self.engine
        bind = engine.execution_options(**{_SQLITE_BEGIN: "BEGIN IMMEDIATE"}) if write else engine
        with self.translate_errors(), Session(bind=bind, expire_on_commit=False) as session, session.begin():
            yield session

    @staticmethod
    def insert_ignore(session: Session, model: Any, **values: Any) -> None:
        """INSERT that does nothing when the unique key exists; waits for a concurrent inserter."""
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        session.execute(insert(model).values(**values).on_conflict_do_nothing())

    def allocate_version(self, session: Session, kind: str, workspace_id: int, name: str) -> int:
        """Next version number for ``(kind, workspace_id, name)``, inside the caller's transaction.

        The counter row stays locked until the caller commits, so concurrent registrations get
        distinct consecutive numbers and a rolled-back registration gives its number back.
        """
        row = VersionCounterRow
        key = (row.kind == kind) & (row.workspace_id == workspace_id) & (row.name == name)
        self.insert_ignore(session, row, kind=kind, workspace_id=workspace_id, name=name, last_version=0)
        session.execute(
            update(row)
            .where(key)
            .values(last_version=row.last_version + 1)
            .execution_options(synchronize_session=False)
        )
        return int(session.execute(select(row.last_version).where(key)).scalar_one())

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _is_connect_error(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower() if exc.orig else ""
    markers = (
        "could not connect",
        "connection refused",
        "unable to open database",
        "could not translate host",
    )
    return any(marker in text for marker in markers) or "connection" in type(exc.orig).__name__.lower()


@contextlib.contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Alembic logs every context at INFO; our own line says what changed."""
    logger = logging.getLogger("alembic")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


_stores: dict[str, RegistryStore] = {}
_stores_lock = threading.Lock()


def get_store(url: str) -> RegistryStore:
    """The process-wide store of ``url`` (engines are shared by every workspace on one registry)."""
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            store = _stores[url] = RegistryStore(url)
        return store


def _forget_engines_after_fork() -> None:
    # A forked child must not reuse the parent's pooled connections.
    for store in _stores.values():
        if store._engine is not None:
            store._engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_engines_after_fork)
