"""Fuzz the snapshot loader: `python -m tools.fuzz_snapshot --examples N` prints one JSON object.

Every input is a mutation of a real snapshot (made by save_snapshot from a tiny network): its manifest's JSON
values, types and nesting, its model.keras's config.json, or its bytes (the outer zip, the inner model.keras zip,
the HDF5 weights file). The property: load_snapshot gives a snapshot or raises SnapshotError, never another
exception, within CPU_SECONDS of CPU and RSS_GROWTH_MB of peak memory per input.

`--costs` instead measures what two hostile files cost to refuse (CPU seconds, peak memory), each in a fresh
process: a snapshot whose weights file holds 100,000 tiny HDF5 datasets, and a zip whose central directory lists
1,000,000 entries.
"""

from __future__ import annotations

import io
import json
import re
import resource
import struct
import subprocess
import sys
import time
import traceback
import zipfile
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st

from tools.fuzzing import fuzz_arguments, long_run

# Every kind of layer field (window, stride, padding, rate) for the mutations to reach; 2,458 weights.
SMALL_NET = [
    {"type": "conv", "filters": 2, "kernel": 3, "stride": 1, "padding": "valid", "activation": "relu"},
    {"type": "batchnorm"},
    {"type": "maxpool", "size": 2, "stride": 2},
    {"type": "flatten"},
    {"type": "dropout", "rate": 0.1},
    {"type": "dense", "units": 10, "activation": "softmax"},
]
CPU_SECONDS = 60.0  # per input; a load measures ~0.3 s here, a refusal milliseconds
RSS_GROWTH_MB = 400  # per input, over the peak before it (the 50 MB cap alone allows a few copies of a file)
_REPO = Path(__file__).resolve().parent.parent
MANIFEST, MODEL, CONFIG, WEIGHTS = "manifest.json", "model.keras", "config.json", "model.weights.h5"


@cache
def tiny_snapshot() -> bytes:
    """A real snapshot of SMALL_NET with a short history, as the app saves one."""
    from mnist_core.model.architecture import build_model
    from mnist_core.settings import TrainSettings
    from mnist_core.snapshots import save_snapshot
    from mnist_core.training.run_state import EpochRecord, ProgressPoint, RunView

    history = (EpochRecord(1, 1000, 2.0, 0.5, 0.8, 0.4, 0.85, 0.9, 0.91, 4),)
    progress = tuple(ProgressPoint(i * 100, i / 5, 2.0 / (i + 1), 0.01, i / 10, i * 0.2) for i in range(1, 6))
    metrics = RunView(status="finished", examples_seen=1000, train_seconds=2.0, progress=progress, history=history)
    return save_snapshot(build_model(SMALL_NET, 1), SMALL_NET, TrainSettings(preset="custom", seed=1), metrics)


# --- zip helpers ---


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zipped(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def with_inner(snapshot: bytes, name: str, data: bytes) -> bytes:
    """`snapshot` with member `name` of its model.keras replaced by `data`."""
    outer = members(snapshot)
    inner = members(outer[MODEL])
    inner[name] = data
    outer[MODEL] = zipped(inner, zipfile.ZIP_STORED)
    return zipped(outer)


# --- hostile files ---


def many_entries_zip(count: int, name: bytes = b"a", declared: int | None = None) -> bytes:
    """A zip of one empty member whose central directory lists it `count` times (zip64 records above 65,534).

    `declared`: the entry count its end record states instead (zipfile reads as many as the directory's size holds).
    """
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0) + name
    entry = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0, 0, 0, 0, 0, 0)
    directory = (entry + name) * count
    start, size = len(local), len(directory)
    if declared is not None:
        return local + directory + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, declared, declared, size, start, 0)
    zip64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, start)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, start + size, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return local + directory + zip64 + locator + end


def many_datasets_snapshot(count: int, snapshot: bytes | None = None) -> bytes:
    """`snapshot` (default tiny_snapshot()) with `count` extra one-byte datasets in its weights file."""
    import h5py

    snapshot = snapshot or tiny_snapshot()
    buffer = io.BytesIO(members(members(snapshot)[MODEL])[WEIGHTS])
    with h5py.File(buffer, "r+") as file:
        group = file.create_group("extra")
        for i in range(count):
            group.create_dataset(str(i), data=0, dtype="u1")
    return with_inner(snapshot, WEIGHTS, buffer.getvalue())


# --- outcome of one input ---


def outcome(data: bytes) -> tuple[str, dict[str, Any] | None]:
    """What load_snapshot made of `data` ("loaded" or the refusal), and what went wrong if it was neither.

    Wrong: another exception than SnapshotError, or more than CPU_SECONDS of CPU or RSS_GROWTH_MB of peak memory.
    """
    from mnist_core.snapshots import SnapshotError, load_snapshot

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu = time.process_time()
    try:
        load_snapshot(data)
        result = "loaded"
    except SnapshotError as exc:
        result = str(exc)
    except Exception as exc:  # noqa: BLE001 - any other exception is the finding
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        found = {"error": f"{type(exc).__name__}: {str(exc)[:300]}", "where": f"{frame.filename}:{frame.lineno}"}
        return type(exc).__name__, found
    spent = time.process_time() - cpu
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
    if spent > CPU_SECONDS or grown > RSS_GROWTH_MB:
        return result, {"error": f"over the bounds: {spent:.1f} s of CPU, +{grown:.0f} MB peak RSS"}
    return result, None


# --- mutations ---

_WEIRD_NUMBERS = st.sampled_from(
    [0, -1, 1, 2**31, 2**63, 10**19, -(10**19), 1e300, -1e300, 1e-320, 0.5, 1.5, 10**20, 10**25]
)
_TEXTS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["", "conv", "dense", "softmax", "same", "keras", "os", "Functional", "Dense", "9999-12-31T23:59:59-14:00"]
    ),
)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), _WEIRD_NUMBERS, st.floats(allow_nan=False), _TEXTS)
JSON_VALUES = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXTS, inner, max_size=4), max_leaves=12
)


def nested_text(depth: int, kind: str) -> str:
    """JSON text of a value `depth` lists or objects deep (as text: json.dumps recurses)."""
    return ("[" * depth + "0" + "]" * depth) if kind == "list" else ('{"a": ' * depth + "0" + "}" * depth)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (keys and indexes) into `value`, the root first; iterative, so any depth is fine."""
    found, stack = [], [(prefix, value)]
    while stack:
        path, item = stack.pop()
        found.append(path)
        if isinstance(item, dict):
            stack.extend((path + (k,), v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((path + (i,), v) for i, v in enumerate(item))
    return found


def _replaced(document: Any, path: tuple, make: Callable[[Any], Any]) -> Any:
    if not path:
        return make(document)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = make(parent[path[-1]])
    return document


@st.composite
def mutated_json(draw: st.DrawFn, document: Any) -> tuple[str, bytes]:
    """A JSON document with one to three of its values replaced, removed, wrapped, nested deep or duplicated."""
    document = json.loads(json.dumps(document))
    steps, deep = [], {}
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(document)
        path = draw(st.sampled_from(paths[1:] or paths))
        action = draw(st.sampled_from(["value", "drop", "wrap", "deep", "extra", "number"]))
        steps.append(f"{action} at {list(path)[:8]}")
        if action == "value":
            new = draw(JSON_VALUES)
            document = _replaced(document, path, lambda _old, new=new: new)
        elif action == "number":
            new = draw(_WEIRD_NUMBERS)
            document = _replaced(document, path, lambda _old, new=new: new)
        elif action == "drop" and path:
            parent = _replaced(document, path[:-1], lambda old: old)
            for key in path[:-1]:
                parent = parent[key]
            del parent[path[-1]]
        elif action == "wrap":
            kind = draw(st.sampled_from(["list", "object"]))
            document = _replaced(document, path, lambda old, kind=kind: [old] if kind == "list" else {"x": old})
        elif action == "deep":
            depth, kind = draw(st.sampled_from([30, 100, 500, 5000])), draw(st.sampled_from(["list", "object"]))
            marker = f"@@deep{len(deep)}@@"
            deep[json.dumps(marker)] = nested_text(depth, kind)
            document = _replaced(document, path, lambda _old, marker=marker: marker)
        elif action == "extra":
            target = _replaced(document, path, lambda old: old)
            for key in path:
                target = target[key]
            if isinstance(target, dict):
                target[draw(_TEXTS)] = draw(JSON_VALUES)
    text = json.dumps(document, allow_nan=True)
    for marker, value in deep.items():
        text = text.replace(marker, value)
    if draw(st.booleans()) and len(text) > 2:  # now and then also damage the text itself
        cut = draw(st.integers(0, len(text) - 1))
        text = text[:cut] + draw(st.sampled_from(["", "}", "]", "NaN", "1e999", '"', "\\ud800", ","])) + text[cut:]
        steps.append(f"text edit at {cut}")
    return "; ".join(steps), text.encode("utf-8", "surrogatepass")


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes) -> tuple[str, bytes]:
    """`data` with a few bytes flipped, inserted or removed, or cut short."""
    buffer = bytearray(data)
    steps = []
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "zero"]))
        last = max(len(buffer) - 1, 0)
        # Anywhere, or in the headers at either end (a zip's directory and end record, an HDF5 superblock).
        at = draw(st.integers(0, last) | st.integers(max(last - 200, 0), last) | st.integers(0, min(last, 200)))
        steps.append(f"{action} at {at}")
        if action == "flip" and buffer:
            buffer[at] ^= draw(st.integers(1, 255))
        elif action == "insert":
            buffer[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del buffer[at : at + draw(st.integers(1, 8))]
        elif action == "truncate":
            del buffer[at:]
        elif action == "zero":
            buffer[at : at + 4] = bytes(len(buffer[at : at + 4]))
    return "; ".join(steps), bytes(buffer)


@st.composite
def mutated_snapshots(draw: st.DrawFn, part: str) -> tuple[str, bytes]:
    """A mutation of tiny_snapshot(): of its `manifest`, its `config` (config.json), or its `bytes` at some layer."""
    good = tiny_snapshot()
    if part == "manifest":
        what, text = draw(mutated_json(json.loads(members(good)[MANIFEST])))
        outer = members(good)
        outer[MANIFEST] = text
        return f"manifest: {what}", zipped(outer)
    if part == "config":
        what, text = draw(mutated_json(json.loads(members(members(good)[MODEL])[CONFIG])))
        return f"config.json: {what}", with_inner(good, CONFIG, text)
    layer = draw(st.sampled_from(["snapshot zip", "model.keras zip", "weights file"]))
    if layer == "snapshot zip":
        what, data = draw(mutated_bytes(good))
        return f"{layer}: {what}", data
    if layer == "model.keras zip":
        what, inner = draw(mutated_bytes(members(good)[MODEL]))
        outer = members(good)
        outer[MODEL] = inner
        return f"{layer}: {what}", zipped(outer)
    what, weights = draw(mutated_bytes(members(members(good)[MODEL])[WEIGHTS]))
    return f"{layer}: {what}", with_inner(good, WEIGHTS, weights)


PARTS = ("manifest", "config", "bytes")


# --- the command ---


def fuzz(examples: int, seed: int | None = None) -> dict[str, Any]:
    """Try about `examples` mutated snapshots, spread over PARTS; every failure, not only the first."""
    tried, failures, cpu_max, results = 0, [], 0.0, Counter()

    def run(part: str) -> None:
        @long_run(max(examples // len(PARTS), 1), seed)
        @given(mutated_snapshots(part))
        def attempt(case: tuple[str, bytes]) -> None:
            nonlocal tried, cpu_max
            what, data = case
            tried += 1
            start = time.process_time()
            result, found = outcome(data)
            results[re.sub(r"[0-9][0-9,.]*", "N", result)[:70]] += 1  # counted by kind, so numbers are masked
            cpu_max = max(cpu_max, time.process_time() - start)
            if found is not None:
                failures.append({"input": what, **found})

        (fixed_seed(seed)(attempt) if seed is not None else attempt)()

    tiny_snapshot()  # imports Keras and builds the seed file outside Hypothesis's generation
    start = time.monotonic()
    for part in PARTS:
        run(part)
    return {
        "tried": tried,
        "failures": failures,
        "failure_count": len(failures),
        "loaded": results["loaded"],
        "most_common_results": dict(results.most_common(15)),
        "max_cpu_seconds": round(cpu_max, 3),
        "seconds": round(time.monotonic() - start, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


_COST_PROBE = """
import json, resource, sys, time
from tools import fuzz_snapshot as f
from mnist_core.snapshots import SnapshotError, load_snapshot
data = f.many_datasets_snapshot(100_000) if sys.argv[1] == "datasets" else f.many_entries_zip(1_000_000)
load_snapshot(f.tiny_snapshot())  # Keras and TensorFlow warm, as on a running server
before, cpu, wall = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.process_time(), time.monotonic()
try:
    load_snapshot(data)
    result = "loaded"
except SnapshotError as exc:
    result = "refused: " + str(exc)
print(json.dumps({"file_mb": round(len(data) / 2**20, 2), "cpu_seconds": round(time.process_time() - cpu, 3),
    "wall_seconds": round(time.monotonic() - wall, 3), "result": result[:200],
    "peak_rss_growth_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, 1)}))
"""


def costs() -> dict[str, Any]:
    """CPU and peak memory of loading each hostile file, each in a fresh process."""
    found = {}
    for name in ("datasets", "entries"):
        done = subprocess.run(
            [sys.executable, "-c", _COST_PROBE, name],
            capture_output=True,
            text=True,
            check=False,
            timeout=3600,
            cwd=_REPO,
        )
        lines = done.stdout.strip().splitlines()
        found[name] = json.loads(lines[-1]) if done.returncode == 0 and lines else {"error": done.stderr[-2000:]}
    return {"100,000 HDF5 datasets": found["datasets"], "1,000,000 zip entries": found["entries"]}


def main(argv: list[str] | None = None) -> None:
    parser = fuzz_arguments(__doc__.splitlines()[0], "mutated snapshots", 300)
    parser.add_argument("--costs", action="store_true", help="measure the two hostile files instead")
    args = parser.parse_args(argv)
    print(json.dumps(costs() if args.costs else fuzz(args.examples, args.seed), indent=1))


if __name__ == "__main__":
    main()
