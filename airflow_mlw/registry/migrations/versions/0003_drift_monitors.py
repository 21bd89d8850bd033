"""drift monitors and their windows (DataDriftDetector)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlw_drift_monitors",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("baseline_dataset_id", sa.String(length=32), nullable=False),
        sa.Column("target_dataset_id", sa.String(length=32), nullable=False),
        sa.Column("frequency", sa.String(length=16), nullable=False),
        sa.Column("latency", sa.Integer(), nullable=False),
        sa.Column("drift_threshold", sa.Float(), nullable=False),
        sa.Column("feature_list", sa.JSON(), nullable=False),
        sa.Column("compute_target", sa.String(length=255), nullable=True),
        sa.Column("alert", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("dag_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["mlw_workspaces.id"],
            name=op.f("fk_mlw_drift_monitors_workspace_id_mlw_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_drift_monitors")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_mlw_drift_monitors_workspace_id_name")),
    )
    op.create_table(
        "mlw_drift_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("monitor_id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("dag_id", sa.String(length=255), nullable=True),
        sa.Column("dag_run_id", sa.String(length=255), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("magnitude", sa.Float(), nullable=True),
        sa.Column("drift_threshold", sa.Float(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("baseline_rows", sa.Integer(), nullable=False),
        sa.Column("target_rows", sa.Integer(), nullable=False),
        sa.Column("alerted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["mlw_drift_monitors.id"],
            name=op.f("fk_mlw_drift_windows_monitor_id_mlw_drift_monitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlw_drift_windows")),
    )
    op.create_index(
        "ix_mlw_drift_windows_monitor_id_window_start",
        "mlw_drift_windows",
        ["monitor_id", "window_start"],
    )
    op.create_index(op.f("ix_mlw_drift_windows_run_id"), "mlw_drift_windows", ["run_id"])


def downgrade() -> None:
    op.drop_table("mlw_drift_windows")
    op.drop_table("mlw_drift_monitors")
