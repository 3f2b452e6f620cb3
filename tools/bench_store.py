"""The run store's costs: `python -m tools.bench_store` prints one JSON object.

It saves `--runs` runs the size of a finished default run (the default settings: 6 epochs, a full 1,000-point
live curve thinned as the store thins it, the ConvNetJS net's 5,994 weights) into a new store, one browser's,
timing each save; then lists them and builds the Runs page's table as the page does (the frame, its sort, the
Arrow bytes st.dataframe sends, the CSV); and reports the store's size on disk. SQLite in a temporary file by
default; `--url` measures any SQLAlchemy URL (an empty PostgreSQL database, say) instead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from mnist_core.model.architecture import CONVNETJS, parameter_count
from mnist_core.settings import TrainSettings
from mnist_core.store import Limits, RunRecord, RunStore, store_url
from mnist_core.store.config import ENV_VAR
from mnist_core.store.curves import train_curves
from mnist_core.store.table import runs_table, sort_table, table_csv
from mnist_core.training.run_state import MAX_PROGRESS_POINTS, EpochRecord, ProgressPoint

OWNER = "browser:benchmark"


def default_run(seed: int = 0) -> RunRecord:
    """A record the size of a finished default run: every curve point and weight array a real one has."""
    rng = np.random.default_rng(seed)
    settings = TrainSettings()
    per_epoch, epochs = 55_000, settings.epochs
    seen = np.linspace(0, per_epoch * epochs, MAX_PROGRESS_POINTS)
    loss, accuracy = 2.3 * np.exp(-seen / 20_000) + 0.03, 1 - np.exp(-seen / 8000)
    progress = tuple(
        ProgressPoint(int(x), x / per_epoch, float(lo), 0.004, float(acc), x / 9000)
        for x, lo, acc in zip(seen, loss, accuracy)
    )
    history = tuple(
        EpochRecord(e, e * per_epoch, e * 6.1, 0.05, 0.98, 0.04, 0.985, 0.988, 0.99, 4) for e in range(1, epochs + 1)
    )
    weights = [rng.standard_normal(shape).astype(np.float32) for shape in _shapes()]
    return RunRecord(
        owner=OWNER, kind="train", name="Adadelta, batch 128", status="finished", settings=settings,
        layers=CONVNETJS, curves=train_curves(progress, history), test_accuracy=0.99, validation_accuracy=0.985,
        final_loss=0.03, examples_seen=per_epoch * epochs, epochs=epochs, train_seconds=36.6, wall_seconds=40.0,
        weights=weights,
    )  # fmt: skip


def _shapes() -> list[tuple[int, ...]]:
    """The ConvNetJS net's weight shapes (conv 5x5x8, conv 5x5x16, dense 10 from 4x4x16), without Keras."""
    return [(5, 5, 1, 8), (8,), (5, 5, 8, 16), (16,), (256, 10), (10,)]


def _disk_bytes(store: RunStore) -> int | None:
    if store.url.get_backend_name() != "sqlite":
        return None
    path = Path(store.url.database)
    store.dispose()  # closing the last connection checkpoints the write-ahead log into the file
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_store", description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--url", default=None, help=f"any SQLAlchemy URL (as {ENV_VAR} takes); default a temp file")
    args = parser.parse_args(argv)
    folder = tempfile.TemporaryDirectory(prefix="mnist-live-bench-store-")
    raw = args.url or str(Path(folder.name) / "runs.sqlite")
    store = RunStore(store_url({ENV_VAR: raw}), Limits(per_browser=args.runs, total=args.runs))
    record = default_run()
    assert sum(int(np.prod(s)) for s in _shapes()) == parameter_count(CONVNETJS)

    started = time.perf_counter()
    store.count()  # opens the store: Alembic creates the schema
    open_ms = (time.perf_counter() - started) * 1000
    saves = []
    for _ in range(args.runs):
        started = time.perf_counter()
        if store.save(record) is None:
            raise SystemExit(f"saving failed: {store.problem}")
        saves.append((time.perf_counter() - started) * 1000)

    from streamlit.dataframe_util import convert_pandas_df_to_arrow_bytes

    timings = []
    for _ in range(5):
        started = time.perf_counter()
        listed = store.runs(OWNER)
        frame = sort_table(runs_table(listed), "Newest first")
        arrow = convert_pandas_df_to_arrow_bytes(frame)
        csv = table_csv(frame)
        timings.append((time.perf_counter() - started) * 1000)
    disk = _disk_bytes(store)
    store.dispose()
    report = {
        "backend": store.url.get_backend_name(),
        "runs": args.runs,
        "record": "default settings: 6 epochs, 1,000 live curve points (stored thinned), 5,994 weights",
        "open_and_create_schema_ms": round(open_ms, 1),
        "save_ms_median": round(statistics.median(saves), 2),
        "save_ms_p95": round(sorted(saves)[int(len(saves) * 0.95) - 1], 2),
        "save_ms_max": round(max(saves), 2),
        "list_and_table_ms_median": round(statistics.median(timings), 1),
        "listed": len(listed),
        "table_arrow_bytes": len(arrow),
        "table_csv_bytes": len(csv),
        "disk_bytes": disk,
        "disk_bytes_per_run": round(disk / args.runs) if disk else None,
        "targets": {"save_ms": 50, "list_and_table_ms": 1000},
    }
    folder.cleanup()
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
