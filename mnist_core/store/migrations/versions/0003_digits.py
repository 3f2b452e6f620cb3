"""Saved digits: what people drew or uploaded, labelled, each as the network saw it; shareable to the class set.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mnist_live_digits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("owner", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("label", sa.SmallInteger, nullable=False),
        sa.Column("pixels", sa.LargeBinary, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("shared", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("nickname", sa.String(40)),
        sa.Column("shared_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_mnist_live_digits_owner_created", "mnist_live_digits", ["owner", "created_at"])
    op.create_index("ix_mnist_live_digits_created", "mnist_live_digits", ["created_at"])
    op.create_index("ix_mnist_live_digits_shared", "mnist_live_digits", ["shared", "label"])


def downgrade() -> None:
    op.drop_table("mnist_live_digits")
