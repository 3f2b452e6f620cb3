"""Fuzz the dataset file loader: `python -m tools.fuzz_dataset --examples N` prints one JSON object.

Every input is a mutation of a small valid `.npz` (MNIST's layout with 60 training and 10 test images, which
the loader is told to expect while the fuzzer runs): its `.npy` headers (version, length, shape, dtype, order),
its bodies (cut, extended, compressed bombs), its zip entries (names, compression method, flags, CRC and size
fields, extra members) and its raw bytes. The property: load_mnist gives a Mnist or raises DatasetError, never
another exception, within CPU_SECONDS of CPU and PEAK_MB of traced allocations per input.

`--costs` instead measures, each in a fresh process, what loading the real file costs and what refusing the
issue's hostile files costs (a 2 GiB bomb, a header declaring 10^13 elements as a member and as an extra one).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st

from tools.fuzzing import fuzz_arguments, long_run

_REPO = Path(__file__).resolve().parent.parent
SMALL = {
    "x_train": ((60, 28, 28), np.uint8),
    "y_train": ((60,), np.uint8),
    "x_test": ((10, 28, 28), np.uint8),
    "y_test": ((10,), np.uint8),
}
CPU_SECONDS = 10.0  # per input; a small file loads or is refused in milliseconds
PEAK_MB = 64  # traced allocations per input; the small file's arrays are 55 kB, the bombs up to 256 MiB
STORED, DEFLATED = 0, 8


# --- building zip files byte by byte (zipfile cannot write lies) ---


@dataclass(frozen=True)
class Member:
    """One zip entry as written: `data` is the stored bytes (already compressed for DEFLATED)."""

    name: bytes
    data: bytes
    method: int = DEFLATED
    crc: int = 0
    size: int = 0  # declared uncompressed size
    flags: int = 0
    csize: int | None = None  # declared compressed size; None: len(data)


def member(name: str, payload: bytes, method: int = DEFLATED) -> Member:
    """An honest entry holding `payload`."""
    data = deflate(payload) if method == DEFLATED else payload
    return Member(name.encode(), data, method, zlib.crc32(payload), len(payload))


def zip_bytes(members: list[Member]) -> bytes:
    """A zip archive of `members` with their fields exactly as given."""
    out, central = bytearray(), bytearray()
    for m in members:
        csize = len(m.data) if m.csize is None else m.csize
        fields = struct.pack("<HHHHHIIIHH", 20, m.flags, m.method, 0, 0x21, m.crc, csize, m.size, len(m.name), 0)
        central += b"PK\x01\x02" + struct.pack("<H", 20) + fields + struct.pack("<HHHII", 0, 0, 0, 0, len(out))
        central += m.name
        out += b"PK\x03\x04" + fields + m.name + m.data
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(out), 0)
    return bytes(out + central + end)


def deflate(payload: bytes) -> bytes:
    """Raw deflate, as zip stores it."""
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(payload) + packer.flush()


@cache
def deflated_zeros(size: int) -> bytes:
    """Raw deflate of `size` zero bytes, built from 1 MiB blocks without holding them all."""
    block = bytes(min(size, 2**20))
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH) if block else b""  # each block: same bytes
    count, rest = divmod(size, len(block) or 1)
    return segment * count + packer.compress(bytes(rest)) + packer.flush()


@cache
def crc_with_zeros(start: bytes, zeros: int) -> int:
    """CRC-32 of `start` and then `zeros` zero bytes (Python's zlib has no crc32_combine: feed them)."""
    crc = zlib.crc32(start)
    block = bytes(min(zeros, 2**20))
    count, rest = divmod(zeros, len(block) or 1)
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    return zlib.crc32(bytes(rest), crc)


def npy_header(shape: Any, descr: Any = "|u1", fortran: Any = False, version: tuple[int, int] = (1, 0)) -> bytes:
    """A .npy header with any values in its dict, padded as numpy pads it."""
    text = "{'descr': %r, 'fortran_order': %r, 'shape': %r, }" % (descr, fortran, shape)  # noqa: UP031 - repr of any
    return npy_header_text(text, version)


def npy_header_text(text: str, version: tuple[int, int] = (1, 0)) -> bytes:
    """A .npy header holding `text` as its dict."""
    length = "<H" if version[0] == 1 else "<I"
    prefix = 6 + 2 + struct.calcsize(length)
    body = text.encode("latin1", "replace")
    body += b" " * (-(prefix + len(body) + 1) % 64) + b"\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack(length, len(body)) + body


def small_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Arrays of SMALL's shapes: random ink, labels 0-9."""
    rng = np.random.default_rng(seed)
    return {
        key: rng.integers(0, 10 if key.startswith("y") else 256, shape, dtype=np.uint8)
        for key, (shape, _) in SMALL.items()
    }


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def small_members(method: int = DEFLATED, seed: int = 0) -> list[Member]:
    """The entries of a valid small MNIST .npz, as np.savez(_compressed) names them."""
    return [member(f"{key}.npy", npy_bytes(array), method) for key, array in small_arrays(seed).items()]


def bomb_member(name: str, start: bytes, zeros: int) -> Member:
    """An entry holding `start` and then `zeros` zero bytes, compressed about a thousand to one, CRC valid."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = packer.compress(start) + packer.flush(zlib.Z_FULL_FLUSH)  # byte-aligned: the zeros' own stream follows
    return Member(
        name.encode(), head + deflated_zeros(zeros), DEFLATED, crc_with_zeros(start, zeros), len(start) + zeros
    )


# --- outcome of one input ---


@contextlib.contextmanager
def small_mnist() -> Iterator[None]:
    """The loader expects SMALL's shapes and keeps nothing cached, for as long as this block runs."""
    from mnist_core.data import mnist as data

    saved = data._EXPECTED, dict(data._cache)
    data._EXPECTED = SMALL
    try:
        yield
    finally:
        data._EXPECTED = saved[0]
        data._cache.clear()
        data._cache.update(saved[1])


def load(blob: bytes, folder: Path) -> str:
    """'loaded' or 'refused: <message>' for `blob` as the dataset file; any other exception propagates."""
    from mnist_core.data import mnist as data

    path = folder / "mnist.npz"
    path.write_bytes(blob)
    data._cache.pop(str(path.resolve()), None)
    try:
        data.load_mnist(path)
    except data.DatasetError as exc:
        return f"refused: {exc}"
    return "loaded"


def outcome(blob: bytes, folder: Path) -> tuple[str, dict[str, Any] | None]:
    """(what load() said, None) if `blob` loads or is refused within the bounds, else (.., what went wrong)."""
    tracemalloc.start()
    cpu = time.process_time()
    try:
        said = load(blob, folder)
    except Exception as exc:  # noqa: BLE001 - any other exception is the finding
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return "failed", {
            "error": f"{type(exc).__name__}: {str(exc)[:300]}",
            "where": f"{frame.filename}:{frame.lineno}",
        }
    finally:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    spent = time.process_time() - cpu
    if spent > CPU_SECONDS or peak > PEAK_MB:
        return said, {"error": f"over the bounds: {spent:.1f} s of CPU, {peak:.0f} MB traced peak"}
    return said, None


# --- mutations ---

_SIZES = st.sampled_from([0, 1, 7, 4096, 2**20, 2**28])  # bodies beyond the declared size, up to 256 MiB of zeros
_DIMS = st.one_of(st.sampled_from([0, 1, 10, 28, 60, 2**31, 2**63, 10**13, 10**30]), st.integers(-(2**64), 2**64))
_SHAPES = st.one_of(
    st.lists(_DIMS, max_size=4).map(tuple),
    st.sampled_from([(60, 28, 28), (60,), (10, 28, 28), (10,), (10**13,), (60, 28, 27), (2**31, 2**31), ()]),
    st.sampled_from(["x", None, 60, [60, 28, 28], (60.0,), (True,), ("60",)]),
)
_DESCRS = st.one_of(
    st.sampled_from(["|u1", "<u1", "|i1", "|b1", "<f4", "<u2", ">u2", "|O", "O", "|V1", "<U1", "|S1", "<M8[s]"]),
    st.sampled_from([[("a", "|u1")], [("a", "|O")], ("|u1", (2,)), "u1" * 40, "", None, 1, {"a": 1}]),
    st.text(max_size=12),
)
_HEADER_TEXTS = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["", "{}", "{'descr': '|u1'}", "(" * 300 + ")" * 300, "[" * 5000, "-" * 4000 + "1", "{'a':" * 50]),
)


@st.composite
def mutated_header(draw: st.DrawFn, key: str) -> bytes:
    """A .npy header for `key`: usually MNIST-like with one field changed, sometimes anything."""
    shape, _ = SMALL[key]
    version = draw(st.sampled_from([(1, 0), (2, 0), (3, 0), (0, 9), (255, 255)]))
    kind = draw(st.sampled_from(["shape", "descr", "fortran", "text", "length", "magic"]))
    if kind == "text":
        return npy_header_text(draw(_HEADER_TEXTS), version if version[0] in (1, 2, 3) else (1, 0))
    header = npy_header(
        draw(_SHAPES) if kind == "shape" else shape,
        draw(_DESCRS) if kind == "descr" else "|u1",
        draw(st.sampled_from([True, 1, "no", None])) if kind == "fortran" else False,
        version if version[0] in (1, 2) else (1, 0),
    )
    if kind == "length":  # the header-length field lies, up to 4 GiB
        size = 2 if header[6] == 1 else 4
        lie = draw(st.integers(0, 2 ** (8 * size) - 1))
        return header[:8] + lie.to_bytes(size, "little") + header[8 + size :]
    if kind == "magic":
        return (
            draw(st.binary(max_size=8)) + header[8:]
            if draw(st.booleans())
            else header[:6] + bytes(version) + header[8:]
        )
    return header


@st.composite
def mutated_member(draw: st.DrawFn, index: int, method: int) -> Member:
    """Entry `index` of the small npz with one of its header, body or zip fields changed (or none)."""
    key = list(SMALL)[index]
    array = small_arrays()[key]
    header, body = npy_bytes(array)[:128], array.tobytes()
    what = draw(st.sampled_from(["none", "header", "body", "bomb", "name", "method", "flags", "crc", "size", "raw"]))
    if what == "header":
        header = draw(mutated_header(key))
    elif what == "body":
        cut = draw(st.integers(0, len(body)))
        body = draw(st.sampled_from([body[:cut], body + draw(st.binary(max_size=64)), draw(st.binary(max_size=200))]))
    elif what == "bomb":
        zeros = draw(_SIZES)
        if draw(st.booleans()):  # a valid .npy of `zeros` elements, or MNIST's array with `zeros` more bytes
            return bomb_member(f"{key}.npy", npy_header((zeros,)), zeros)
        return bomb_member(f"{key}.npy", header + body, zeros)
    entry = member(f"{key}.npy", header + body, method)
    if what == "name":
        name = draw(st.sampled_from([key, key + ".NPY", key + ".npy\x00", "dir/" + key + ".npy", key + ".npy/", ""]))
        entry = replace(entry, name=name.encode("utf-8"))
    elif what == "method":
        entry = replace(entry, method=draw(st.sampled_from([STORED, DEFLATED, 1, 9, 12, 14, 93, 98, 99, 65535])))
    elif what == "flags":
        entry = replace(entry, flags=draw(st.sampled_from([1, 8, 0x20, 0x40, 0x800, 0x2000, 0xFFFF])))
    elif what == "crc":
        entry = replace(entry, crc=draw(st.integers(0, 2**32 - 1)))
    elif what == "size":
        field = draw(st.sampled_from(["size", "csize"]))
        entry = replace(entry, **{field: draw(st.sampled_from([0, 1, 2**31, 2**32 - 1]) | st.integers(0, 2**32 - 1))})
    elif what == "raw":  # the compressed bytes themselves damaged, CRC and sizes kept
        data = bytearray(entry.data)
        for _ in range(draw(st.integers(1, 4))):
            if data:
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        entry = replace(entry, data=bytes(data))
    return entry


@st.composite
def extra_member(draw: st.DrawFn) -> Member:
    """An entry MNIST does not have: any name, a hostile header or plain bytes."""
    name = draw(
        st.sampled_from(["extra.npy", "x_train", "README", "x_train.npy", "../evil.npy"]) | st.text(max_size=20)
    )
    header = draw(mutated_header("x_train")) if draw(st.booleans()) else b""
    if draw(st.booleans()):
        return bomb_member(name, npy_header((10**13,)), draw(_SIZES))
    return member(name, header + draw(st.binary(max_size=100)), draw(st.sampled_from([STORED, DEFLATED])))


@st.composite
def mutated_npz(draw: st.DrawFn) -> tuple[str, bytes]:
    """(what was changed, the file's bytes): the small npz with entries, extras or bytes mutated."""
    method = draw(st.sampled_from([STORED, DEFLATED]))
    entries = [draw(mutated_member(i, method)) for i in range(len(SMALL))]
    entries = draw(st.permutations(entries))
    if draw(st.booleans()):
        entries = entries[: draw(st.integers(0, len(entries)))]
    extras = draw(st.lists(extra_member(), max_size=3))
    blob = zip_bytes(entries + extras)
    what = f"method {method}, members {[e.name for e in entries]}, extras {[e.name for e in extras]}"
    if draw(st.booleans()):  # byte-level damage: anywhere, or in the zip's own records (which start with "PK")
        data = bytearray(blob)
        records = [found.start() for found in re.finditer(b"PK", blob)]
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.sampled_from(records)) + draw(st.integers(0, 45)) if records and draw(st.booleans()) else 0
            at = min(at or draw(st.integers(0, len(data) - 1)), len(data) - 1)
            data[at] = draw(st.integers(0, 255))
        cut = draw(st.integers(0, len(data)))
        blob = bytes(data[:cut] if draw(st.booleans()) else data)
        what += ", bytes damaged"
    return what, blob


# --- the command ---


def fuzz(examples: int, seed: int | None = None) -> dict[str, Any]:
    """Try `examples` mutated npz files; every failure, not only the first."""
    tried, refused, loaded, failures, cpu_max = 0, 0, 0, [], 0.0

    @long_run(examples, seed)
    @given(mutated_npz())
    def attempt(case: tuple[str, bytes]) -> None:
        nonlocal tried, refused, loaded, cpu_max
        what, blob = case
        tried += 1
        start = time.process_time()
        with tempfile.TemporaryDirectory() as folder:
            said, found = outcome(blob, Path(folder))
        refused += said.startswith("refused")
        loaded += said == "loaded"
        cpu_max = max(cpu_max, time.process_time() - start)
        if found is not None:
            failures.append({"input": what, "bytes": len(blob), **found})

    start = time.monotonic()
    with small_mnist():
        (fixed_seed(seed)(attempt) if seed is not None else attempt)()
    return {
        "tried": tried,
        "refused": refused,
        "loaded": loaded,
        "failures": failures,
        "failure_count": len(failures),
        "max_cpu_seconds": round(cpu_max, 3),
        "seconds": round(time.monotonic() - start, 1),
    }


_COST_PROBE = """
import json, resource, sys, tempfile, time
from pathlib import Path
from tools import fuzz_dataset as f
from mnist_core.data import mnist as data
case = sys.argv[1]
folder = Path(tempfile.mkdtemp())
if case == "real file":
    path = Path(data.os.environ.get(data.ENV_VAR) or f._REPO.parent / "shared" / "data" / "mnist.npz")
else:
    path = folder / "mnist.npz"
    path.write_bytes(f.hostile_file(case))
before, cpu, wall = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.process_time(), time.monotonic()
try:
    data.load_mnist(path)
    result = "loaded"
except data.DatasetError as exc:
    result = "refused: " + str(exc)
print(json.dumps({"file_mb": round(path.stat().st_size / 2**20, 2), "cpu_seconds": round(time.process_time() - cpu, 3),
    "wall_seconds": round(time.monotonic() - wall, 3), "result": result[:300],
    "peak_rss_growth_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, 1)}))
"""

HOSTILE = ("2 GiB bomb", "10^13 elements", "10^13 elements, extra member")


def hostile_file(case: str) -> bytes:
    """The issue's examples at MNIST's real sizes (zeros for the arrays)."""
    from mnist_core.data.mnist import _EXPECTED

    members = [member(f"{key}.npy", npy_bytes(np.zeros(shape, dtype))) for key, (shape, dtype) in _EXPECTED.items()]
    if case == "2 GiB bomb":
        members[0] = bomb_member("x_train.npy", npy_header((2**31,)), 2**31)
    elif case == "10^13 elements":
        members[0] = member("x_train.npy", npy_header((10**13,)) + bytes(100))
    else:
        members.append(member("extra.npy", npy_header((10**13,)) + bytes(100)))
    return zip_bytes(members)


def costs() -> dict[str, Any]:
    """CPU, wall time and peak memory of loading the real file and each hostile file, each in a fresh process."""
    found = {}
    for case in ("real file", *HOSTILE):
        done = subprocess.run(
            [sys.executable, "-c", _COST_PROBE, case],
            capture_output=True,
            text=True,
            check=False,
            timeout=3600,
            cwd=_REPO,
        )
        lines = done.stdout.strip().splitlines()
        found[case] = json.loads(lines[-1]) if done.returncode == 0 and lines else {"error": done.stderr[-2000:]}
    return found


def main(argv: list[str] | None = None) -> None:
    parser = fuzz_arguments(__doc__.splitlines()[0], "mutated npz files")
    parser.add_argument("--costs", action="store_true", help="measure the real file and the hostile ones instead")
    args = parser.parse_args(argv)
    print(json.dumps(costs() if args.costs else fuzz(args.examples, args.seed), indent=1))


if __name__ == "__main__":
    main()
