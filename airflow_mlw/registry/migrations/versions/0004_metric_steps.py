"""metrics: the step a scalar was logged at (``run.log(name, value, step=...)``, MLflow's step)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 14:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("mlw_metrics", sa.Column("step", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mlw_metrics") as batch:
        batch.drop_column("step")
