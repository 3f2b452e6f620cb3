"""The run history: one row per ended run.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mnist_live_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("owner", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("optimizer", sa.String(16), nullable=False),
        sa.Column("network", sa.String(40), nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("layers", sa.Text, nullable=False),
        sa.Column("curves", sa.Text, nullable=False),
        sa.Column("test_accuracy", sa.Float),
        sa.Column("validation_accuracy", sa.Float),
        sa.Column("final_loss", sa.Float),
        sa.Column("examples_seen", sa.Integer, nullable=False),
        sa.Column("epochs", sa.Integer, nullable=False),
        sa.Column("train_seconds", sa.Float, nullable=False),
        sa.Column("wall_seconds", sa.Float, nullable=False),
        sa.Column("examples_per_second", sa.Float),
        sa.Column("weight_count", sa.Integer, nullable=False),
        sa.Column("weights", sa.LargeBinary),
        sa.Column("weights_note", sa.String(200)),
    )
    op.create_index("ix_mnist_live_runs_owner_created", "mnist_live_runs", ["owner", "created_at"])
    op.create_index("ix_mnist_live_runs_created", "mnist_live_runs", ["created_at"])


def downgrade() -> None:
    op.drop_table("mnist_live_runs")
