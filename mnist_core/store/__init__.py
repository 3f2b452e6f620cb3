"""The run store: every run that ended (a Train page job, a race contestant) kept in a database, with SQLAlchemy.

`config` says where the store is (an SQLite file by default, any SQLAlchemy URL from an environment variable or
the page's secrets) and its limits; `schema` is the table and `migrations` its Alembic history, applied on first
use by `migrate`; `record` turns an ended run into a row; `weights` packs and checks a run's weights; `text`
bounds the names people type; `rows` checks every value read back; `opening` opens the database and says why it
failed; `queries` are the statements; `store` is RunStore, the API the pages use, which never lets a database
failure reach training; `digits` is its DigitStore (`RunStore.digits`), the digits people saved. Never imports
streamlit; imports Keras only to check weights against their layers.
"""

from mnist_core.store.config import ENV_VAR, Limits, StoreConfig, default_path, store_config, store_url
from mnist_core.store.digits import ClassCounts, DigitListing, DigitStore, SavedDigit
from mnist_core.store.record import RunRecord, race_records, train_record
from mnist_core.store.rows import RunSummary, StoredRun, StoreError
from mnist_core.store.store import RunStore

__all__ = [
    "ENV_VAR",
    "ClassCounts",
    "DigitListing",
    "DigitStore",
    "Limits",
    "RunRecord",
    "RunStore",
    "RunSummary",
    "SavedDigit",
    "StoreConfig",
    "StoreError",
    "StoredRun",
    "default_path",
    "race_records",
    "store_config",
    "store_url",
    "train_record",
]
