"""initial registry schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 07:12:05.647473
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlw_manifests",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_mlw_manifests")),
    )
    op.create_table(
        "mlw_reuse_leases",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("reuse_key", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "reuse_key", name=op.f("pk_mlw_reuse_leases")),
    )
    op.create_table(
        "mlw_version_counters",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "workspace_id", "name", name=op.f("pk_mlw_version_counters")),
    )
    op.create_table(
        "mlw_workspaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("default_datastore", sa.String(length=255), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_workspaces")),
        sa.UniqueConstraint("name", name=op.f("uq_mlw_workspaces_name")),
    )
    op.create_table(
        "mlw_compute_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["mlw_workspaces.id"],
            name=op.f("fk_mlw_compute_targets_workspace_id_mlw_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_compute_targets")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_mlw_compute_targets_workspace_id_name")),
    )
    op.create_table(
        "mlw_datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["mlw_workspaces.id"],
            name=op.f("fk_mlw_datasets_workspace_id_mlw_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_datasets")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_mlw_datasets_workspace_id_name")),
    )
    op.create_table(
        "mlw_datastores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("conn_id", sa.String(length=255), nullable=True),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["mlw_workspaces.id"],
            name=op.f("fk_mlw_datastores_workspace_id_mlw_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_datastores")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_mlw_datastores_workspace_id_name")),
    )
    op.create_table(
        "mlw_environments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["mlw_workspaces.id"],
            name=op.f("fk_mlw_environments_workspace_id_mlw_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_environments")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_mlw_environments_workspace_id_name")),
    )
    op.create_table(
        "mlw_lineage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("dataset_version_id", sa.String(length=32), nullable=True),
        sa.Column("model_version_id", sa.String(length=32), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("dag_id", sa.String(length=255), nullable=True),
        sa.Column("dag_run_id", sa.String(length=255), nullable=True),
        sa.Column("task_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["mlw_workspaces.id"],
            name=op.f("fk_mlw_lineage_workspace_id_mlw_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_lineage")),
    )
    with op.batch_alter_table("mlw_lineage", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mlw_lineage_dataset_version_id"), ["dataset_version_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_mlw_lineage_model_version_id"), ["model_version_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mlw_lineage_run_id"), ["run_id"], unique=False)

    op.create_table(
        "mlw_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["mlw_workspaces.id"],
            name=op.f("fk_mlw_models_workspace_id_mlw_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_models")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_mlw_models_workspace_id_name")),
    )
    op.create_table(
        "mlw_pipeline_endpoints",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("default_version", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["mlw_workspaces.id"],
            name=op.f("fk_mlw_pipeline_endpoints_workspace_id_mlw_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_pipeline_endpoints")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_mlw_pipeline_endpoints_workspace_id_name")),
    )
    op.create_table(
        "mlw_published_pipelines",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("dag_id", sa.String(length=255), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("continue_on_step_failure", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["mlw_workspaces.id"],
            name=op.f("fk_mlw_published_pipelines_workspace_id_mlw_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_published_pipelines")),
    )
    with op.batch_alter_table("mlw_published_pipelines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mlw_published_pipelines_workspace_id_name", ["workspace_id", "name"], unique=False
        )

    op.create_table(
        "mlw_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("experiment_name", sa.String(length=255), nullable=True),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("dag_id", sa.String(length=255), nullable=True),
        sa.Column("dag_run_id", sa.String(length=255), nullable=True),
        sa.Column("task_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("compute_target", sa.String(length=255), nullable=True),
        sa.Column("reuse_key", sa.String(length=64), nullable=True),
        sa.Column("key_document", sa.JSON(), nullable=True),
        sa.Column("reused_from_id", sa.String(length=32), nullable=True),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["mlw_workspaces.id"],
            name=op.f("fk_mlw_runs_workspace_id_mlw_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_runs")),
    )
    with op.batch_alter_table("mlw_runs", schema=None) as batch_op:
        batch_op.create_index("ix_mlw_runs_dag_id_dag_run_id", ["dag_id", "dag_run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mlw_runs_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(
            "ix_mlw_runs_workspace_id_name_finished_at", ["workspace_id", "name", "finished_at"], unique=False
        )
        batch_op.create_index(
            "ix_mlw_runs_workspace_id_reuse_key_status", ["workspace_id", "reuse_key", "status"], unique=False
        )

    op.create_table(
        "mlw_schedules",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("pipeline_id", sa.String(length=32), nullable=True),
        sa.Column("pipeline_endpoint_id", sa.String(length=32), nullable=True),
        sa.Column("experiment_name", sa.String(length=255), nullable=False),
        sa.Column("recurrence", sa.JSON(), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["mlw_workspaces.id"],
            name=op.f("fk_mlw_schedules_workspace_id_mlw_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_schedules")),
    )
    with op.batch_alter_table("mlw_schedules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mlw_schedules_pipeline_endpoint_id"), ["pipeline_endpoint_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mlw_schedules_pipeline_id"), ["pipeline_id"], unique=False)

    op.create_table(
        "mlw_webservices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("compute_target", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("scoring_uri", sa.String(length=1024), nullable=True),
        sa.Column("container_id", sa.String(length=128), nullable=True),
        sa.Column("model_version_ids", sa.JSON(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["mlw_workspaces.id"],
            name=op.f("fk_mlw_webservices_workspace_id_mlw_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_webservices")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_mlw_webservices_workspace_id_name")),
    )
    op.create_table(
        "mlw_dataset_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("manifest_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("snapshot", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["mlw_datasets.id"],
            name=op.f("fk_mlw_dataset_versions_dataset_id_mlw_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["manifest_fingerprint"],
            ["mlw_manifests.fingerprint"],
            name=op.f("fk_mlw_dataset_versions_manifest_fingerprint_mlw_manifests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_dataset_versions")),
        sa.UniqueConstraint("dataset_id", "version", name=op.f("uq_mlw_dataset_versions_dataset_id_version")),
    )
    with op.batch_alter_table("mlw_dataset_versions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mlw_dataset_versions_dataset_id_fingerprint", ["dataset_id", "fingerprint"], unique=False
        )

    op.create_table(
        "mlw_environment_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("spec_hash", sa.String(length=64), nullable=False),
        sa.Column("image_tag", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["mlw_environments.id"],
            name=op.f("fk_mlw_environment_versions_environment_id_mlw_environments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_environment_versions")),
        sa.UniqueConstraint(
            "environment_id", "version", name=op.f("uq_mlw_environment_versions_environment_id_version")
        ),
    )
    with op.batch_alter_table("mlw_environment_versions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mlw_environment_versions_environment_id_spec_hash",
            ["environment_id", "spec_hash"],
            unique=False,
        )

    op.create_table(
        "mlw_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["mlw_runs.id"], name=op.f("fk_mlw_metrics_run_id_mlw_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_metrics")),
    )
    with op.batch_alter_table("mlw_metrics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mlw_metrics_run_id"), ["run_id"], unique=False)

    op.create_table(
        "mlw_model_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("manifest_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("location", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("dataset_version_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_fingerprint"],
            ["mlw_manifests.fingerprint"],
            name=op.f("fk_mlw_model_versions_manifest_fingerprint_mlw_manifests"),
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["mlw_models.id"],
            name=op.f("fk_mlw_model_versions_model_id_mlw_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_model_versions")),
        sa.UniqueConstraint("model_id", "version", name=op.f("uq_mlw_model_versions_model_id_version")),
    )
    with op.batch_alter_table("mlw_model_versions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mlw_model_versions_model_id_fingerprint", ["model_id", "fingerprint"], unique=False
        )

    op.create_table(
        "mlw_pipeline_endpoint_versions",
        sa.Column("endpoint_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("published_pipeline_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["mlw_pipeline_endpoints.id"],
            name=op.f("fk_mlw_pipeline_endpoint_versions_endpoint_id_mlw_pipeline_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["published_pipeline_id"],
            ["mlw_published_pipelines.id"],
            name=op.f("fk_mlw_pipeline_endpoint_versions_published_pipeline_id_mlw_published_pipelines"),
        ),
        sa.PrimaryKeyConstraint("endpoint_id", "version", name=op.f("pk_mlw_pipeline_endpoint_versions")),
    )
    op.create_table(
        "mlw_schedule_firings",
        sa.Column("schedule_id", sa.String(length=32), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dag_run_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["mlw_schedules.id"],
            name=op.f("fk_mlw_schedule_firings_schedule_id_mlw_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("schedule_id", "due_at", name=op.f("pk_mlw_schedule_firings")),
    )


def downgrade() -> None:
    op.drop_table("mlw_schedule_firings")
    op.drop_table("mlw_pipeline_endpoint_versions")
    with op.batch_alter_table("mlw_model_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_mlw_model_versions_model_id_fingerprint")

    op.drop_table("mlw_model_versions")
    with op.batch_alter_table("mlw_metrics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mlw_metrics_run_id"))

    op.drop_table("mlw_metrics")
    with op.batch_alter_table("mlw_environment_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_mlw_environment_versions_environment_id_spec_hash")

    op.drop_table("mlw_environment_versions")
    with op.batch_alter_table("mlw_dataset_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_mlw_dataset_versions_dataset_id_fingerprint")

    op.drop_table("mlw_dataset_versions")
    op.drop_table("mlw_webservices")
    with op.batch_alter_table("mlw_schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mlw_schedules_pipeline_id"))
        batch_op.drop_index(batch_op.f("ix_mlw_schedules_pipeline_endpoint_id"))

    op.drop_table("mlw_schedules")
    with op.batch_alter_table("mlw_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_mlw_runs_workspace_id_reuse_key_status")
        batch_op.drop_index("ix_mlw_runs_workspace_id_name_finished_at")
        batch_op.drop_index(batch_op.f("ix_mlw_runs_parent_id"))
        batch_op.drop_index("ix_mlw_runs_dag_id_dag_run_id")

    op.drop_table("mlw_runs")
    with op.batch_alter_table("mlw_published_pipelines", schema=None) as batch_op:
        batch_op.drop_index("ix_mlw_published_pipelines_workspace_id_name")

    op.drop_table("mlw_published_pipelines")
    op.drop_table("mlw_pipeline_endpoints")
    op.drop_table("mlw_models")
    with op.batch_alter_table("mlw_lineage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mlw_lineage_run_id"))
        batch_op.drop_index(batch_op.f("ix_mlw_lineage_model_version_id"))
        batch_op.drop_index(batch_op.f("ix_mlw_lineage_dataset_version_id"))

    op.drop_table("mlw_lineage")
    op.drop_table("mlw_environments")
    op.drop_table("mlw_datastores")
    op.drop_table("mlw_datasets")
    op.drop_table("mlw_compute_targets")
    op.drop_table("mlw_workspaces")
    op.drop_table("mlw_version_counters")
    op.drop_table("mlw_reuse_leases")
    op.drop_table("mlw_manifests")
