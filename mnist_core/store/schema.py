"""The run store's tables (the newest schema; mnist_core/store/migrations holds how it got here)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    false,
)

# Prefixed names: a PostgreSQL database may be shared with other applications' tables.
VERSION_TABLE = "mnist_live_alembic_version"
RUNS_TABLE = "mnist_live_runs"
DIGITS_TABLE = "mnist_live_digits"
OWNER_CHARS = 80
NAME_CHARS = 80
NICKNAME_CHARS = 40
NOTE_CHARS = 200
SOURCE_CHARS = 16

METADATA = MetaData()
runs = Table(
    RUNS_TABLE,
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", String(OWNER_CHARS), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False),  # "train" (a Train page job) or "race" (a race contestant)
    Column("name", String(NAME_CHARS), nullable=False),
    Column("status", String(16), nullable=False),
    Column("optimizer", String(16), nullable=False),
    Column("network", String(40), nullable=False),  # a preset's name, or "custom"
    Column("settings", Text, nullable=False),  # TrainSettings.to_dict() as JSON
    Column("layers", Text, nullable=False),  # the LayerSpec list as JSON
    Column("curves", Text, nullable=False),  # bounded curves as JSON (mnist_core.store.record)
    Column("test_accuracy", Float),
    Column("validation_accuracy", Float),
    Column("final_loss", Float),
    Column("examples_seen", Integer, nullable=False),
    Column("epochs", Integer, nullable=False),
    Column("train_seconds", Float, nullable=False),
    Column("wall_seconds", Float, nullable=False),
    Column("examples_per_second", Float),
    Column("weight_count", Integer, nullable=False),
    Column("weights", LargeBinary),
    Column("weights_note", String(NOTE_CHARS)),
    # Revision 0002: the class board.
    Column("shared", Boolean, nullable=False, server_default=false()),
    Column("nickname", String(NICKNAME_CHARS)),
    Column("shared_at", DateTime(timezone=True)),
    Index("ix_mnist_live_runs_owner_created", "owner", "created_at"),
    Index("ix_mnist_live_runs_created", "created_at"),
    Index("ix_mnist_live_runs_shared", "shared", "test_accuracy"),
)

# Columns a listing reads: everything but the curves and the weights.
SUMMARY_COLUMNS = [c for c in runs.columns if c.name not in ("curves", "weights", "layers")]

# Revision 0003: digits people drew or uploaded, each as the network saw it (28x28 uint8, row by row).
digits = Table(
    DIGITS_TABLE,
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", String(OWNER_CHARS), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("label", SmallInteger, nullable=False),
    Column("pixels", LargeBinary, nullable=False),
    Column("source", String(SOURCE_CHARS), nullable=False),  # "drawn" or "uploaded"
    Column("shared", Boolean, nullable=False, server_default=false()),
    Column("nickname", String(NICKNAME_CHARS)),
    Column("shared_at", DateTime(timezone=True)),
    Index("ix_mnist_live_digits_owner_created", "owner", "created_at"),
    Index("ix_mnist_live_digits_created", "created_at"),
    Index("ix_mnist_live_digits_shared", "shared", "label"),
)
