"""The class board: a run may be shared, with a nickname.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mnist_live_runs") as batch:
        batch.add_column(sa.Column("shared", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("nickname", sa.String(40)))
        batch.add_column(sa.Column("shared_at", sa.DateTime(timezone=True)))
    op.create_index("ix_mnist_live_runs_shared", "mnist_live_runs", ["shared", "test_accuracy"])


def downgrade() -> None:
    op.drop_index("ix_mnist_live_runs_shared", "mnist_live_runs")
    with op.batch_alter_table("mnist_live_runs") as batch:
        batch.drop_column("shared_at")
        batch.drop_column("nickname")
        batch.drop_column("shared")
