"""Registry schema: created by Alembic migrations that match the models, applied once."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import create_engine, inspect

from airflow_mlw.registry.rows import Base
from airflow_mlw.registry.store import VERSION_TABLE, RegistryStore, head_revision


def test_migrations_create_exactly_the_model_schema(registry_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    store = RegistryStore(registry_url)
    assert store.upgrade() == head_revision()
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        assert compare_metadata(context, Base.metadata) == []
    store.dispose()


def test_first_use_migrates_and_second_use_finds_head(registry_url: str) -> None:
    first = RegistryStore(registry_url)
    first.engine  # noqa: B018
    first.dispose()
    engine = create_engine(registry_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {
        "mlw_workspaces",
        "mlw_dataset_versions",
        "mlw_runs",
        "mlw_published_pipelines",
        VERSION_TABLE,
    } <= tables
    second = RegistryStore(registry_url)
    assert second.upgrade() == head_revision()
    second.dispose()


def test_mlw_db_upgrade_reports_the_revision(registry_url: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "airflow_mlw.cli", "--registry-url", registry_url, "--json", "db", "upgrade"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert f'"revision": "{head_revision()}"' in run.stdout


def test_a_registry_with_metrics_upgrades_to_metric_steps(registry_url: str) -> None:
    """A registry made before metrics had steps (revision 0003) keeps its metrics, without a step."""
    from alembic import command
    from sqlalchemy import text

    from airflow_mlw.registry.store import _alembic_config

    engine = create_engine(registry_url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0003")
        connection.execute(
            text(
                "INSERT INTO mlw_workspaces (name, default_datastore, tags, created_at)"
                " VALUES ('w', 'workspaceblobstore', '{}', CURRENT_TIMESTAMP)"
            )
        )
        workspace_id = connection.execute(text("SELECT id FROM mlw_workspaces")).scalar()
        connection.execute(
            text(
                "INSERT INTO mlw_runs (id, workspace_id, kind, status, created_at, outputs, tags, properties)"
                " VALUES ('r1', :ws, 'script', 'Finished', CURRENT_TIMESTAMP, '{}', '{}', '{}')"
            ),
            {"ws": workspace_id},
        )
        connection.execute(
            text(
                "INSERT INTO mlw_metrics (run_id, name, kind, value, created_at)"
                " VALUES ('r1', 'loss', 'scalar', '0.5', CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()
    store = RegistryStore(registry_url)
    assert store.upgrade() == head_revision()
    with store.engine.connect() as connection:
        found = connection.execute(text("SELECT name, step FROM mlw_metrics")).all()
    store.dispose()
    assert [tuple(row) for row in found] == [("loss", None)]
