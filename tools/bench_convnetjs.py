"""Side by side, in one run: ConvNetJS (npm, in Node) and this project's engine on the same examples, the
machine's float32 matrix-product rate, and two bounds on the engine's share of it (tools/arithmetic.py): the rate
of TensorFlow's kernels for the net's convolutions alone, and numpy's product on the matrices they lower to.
`python -m tools.bench_convnetjs` prints one JSON object.

ConvNetJS comes from the npm registry into `.cache/convnetjs` (ignored by git) the first time; its demo's net and
trainer settings are set in tools/convnetjs_driver.js, which calls the library and copies none of it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from mnist_core.data.geometry import MAX_OFFSET
from tools.arithmetic import matmul_gflops

ROOT = Path(__file__).resolve().parent.parent
CONVNETJS_DIR = ROOT / ".cache" / "convnetjs"
CONVNETJS_VERSION = "0.3.0"
DRIVER = Path(__file__).with_name("convnetjs_driver.js")
CONVNETJS_BATCH = 20  # the demo's trainer


def main(argv: list[str] | None = None) -> dict:
    args = _parser().parse_args(argv)
    result = run(args.examples, args.test, args.seed)
    print(json.dumps(result, indent=2))
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=10_000, help="training examples for each engine")
    parser.add_argument("--test", type=int, default=2_000, help="test images, 4 crops each, for both accuracies")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def run(examples: int, test: int, seed: int) -> dict:
    from mnist_core.data.mnist import load_mnist

    data = load_mnist()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data.train))[:examples]
    x, y = data.train.x[order], data.train.y[order]
    test_x, test_y = data.test.x[:test], data.test.y[:test]
    offsets = rng.integers(0, MAX_OFFSET + 1, size=(test, 4, 2))
    matmul_before = matmul_gflops()
    convnetjs = run_convnetjs(x, y, test_x, test_y, rng.integers(0, MAX_OFFSET + 1, size=(examples, 2)), offsets)
    engine = run_engine(x, y, test_x, test_y, offsets, seed)
    matmul_after = matmul_gflops()
    matmul = max(matmul_before, matmul_after)
    engine_gflops = engine["examples_per_second"] * engine["flops_per_example"] / 1e9
    ceiling = engine.pop("convolution_ceiling")
    lowered = engine.pop("lowered_matmul_gflops")
    cjs_ms = convnetjs["train_seconds"] * 1000 / examples
    return {
        "examples": examples,
        "test_images": test,
        "convnetjs": {
            "version": CONVNETJS_VERSION,
            "batch_size": CONVNETJS_BATCH,
            "ms_per_example": round(cjs_ms, 4),
            "examples_per_second": round(1000 / cjs_ms, 1),
            "test_accuracy": convnetjs["test_accuracy"],
        },
        "engine": {k: v for k, v in engine.items() if k != "flops_per_example"},
        "engine_vs_convnetjs_examples_per_second": round(engine["examples_per_second"] * cjs_ms / 1000, 1),
        "flops_per_training_example": engine["flops_per_example"],
        "matmul_gflops": {"before": round(matmul_before, 1), "after": round(matmul_after, 1)},
        "engine_gflops": round(engine_gflops, 1),
        "engine_share_of_matmul": round(engine_gflops / matmul, 3),
        "convolutions_alone": {**ceiling, "share_of_matmul": round(ceiling["gflops"] / matmul, 3)},
        "convolutions_as_matmul": {"gflops": round(lowered, 1), "share_of_matmul": round(lowered / matmul, 3)},
    }


def ensure_convnetjs() -> Path:
    """The installed package's folder, installing it from the npm registry first if needed."""
    package = CONVNETJS_DIR / "node_modules" / "convnetjs"
    if not (package / "package.json").exists():
        if shutil.which("npm") is None:
            raise SystemExit("The side-by-side benchmark needs Node.js and npm (Debian: apt-get install nodejs npm).")
        CONVNETJS_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--prefix",
                str(CONVNETJS_DIR),
                "--no-audit",
                "--no-fund",
                f"convnetjs@{CONVNETJS_VERSION}",
            ],
            check=True,
            capture_output=True,
        )
    return package


def run_convnetjs(x, y, test_x, test_y, train_offsets, test_offsets) -> dict:
    """Train ConvNetJS's demo net on these examples (one crop each at `train_offsets`) in Node; its JSON result."""
    package = ensure_convnetjs()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        arrays = {"train_x": x, "train_y": y, "train_offsets": train_offsets, "test_x": test_x, "test_y": test_y}
        arrays["test_offsets"] = test_offsets
        for name, array in arrays.items():
            (out / f"{name}.bin").write_bytes(np.ascontiguousarray(array, dtype=np.uint8).tobytes())
        meta = {"train": len(y), "test": len(test_y), "crops": test_offsets.shape[1], "batch_size": CONVNETJS_BATCH}
        (out / "meta.json").write_text(json.dumps(meta))
        done = subprocess.run(["node", str(DRIVER), str(package), str(out)], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_engine(x, y, test_x, test_y, offsets, seed: int) -> dict:
    """Train the project's default run on the same examples with the app's engine, live as on the Train page."""
    from mnist_core.data.mnist import load_mnist
    from mnist_core.model.architecture import PRESETS
    from mnist_core.model.crop import crops_at
    from mnist_core.model.flops import training_flops
    from mnist_core.model.predict import accuracy
    from mnist_core.runtime.memory import map_large_blocks
    from mnist_core.settings import TrainSettings
    from mnist_core.training.engine import Engine
    from mnist_core.training.model_pool import new_training_model
    from mnist_core.training.run_state import RunState
    from mnist_core.training.schedule import Anneal
    from tools.arithmetic import convolution_ceiling, lowered_matmul_gflops
    from tools.op_profile import op_profile

    map_large_blocks()  # as the app's server does
    settings = TrainSettings(seed=seed)
    held = new_training_model(PRESETS[settings.preset], settings)
    state = RunState(1, len(y))
    engine = Engine(
        held,
        state,
        params=settings.optimizer.params,
        batch_size=settings.batch_size,
        weight_decay=settings.weight_decay,
        examples_per_epoch=len(y),
        stream=load_mnist().test,
        crops=settings.crops,
        seed=seed,
        anneal=Anneal(settings.anneal),
        planned_examples=len(y),
    )
    engine.fit(x, y)
    n, k = offsets.shape[:2]
    per_crop = engine.predictor.forward(crops_at(test_x, offsets).reshape(n * k, 24, 24)).reshape(n, k, 10)
    first_ms = engine.train_seconds * 1000 / len(y)
    profiled = profile(engine, x, y)
    best_ms = min(first_ms, profiled["engine"])  # a pass is under a second: the best of four, as a rate
    return {
        "batch_size": settings.batch_size,
        "ms_per_example": round(best_ms, 4),
        "examples_per_second": round(1000 / best_ms, 1),
        "first_pass_examples_per_second": round(1000 / first_ms, 1),
        "test_accuracy": accuracy(per_crop.mean(axis=1), test_y),
        "flops_per_example": training_flops(held.model),
        "profile_ms_per_example": profiled,
        "op_profile": op_profile(lambda: engine.fit(x, y), steps=len(y) / settings.batch_size),
        "convolution_ceiling": convolution_ceiling(held.model, settings.batch_size),
        "lowered_matmul_gflops": lowered_matmul_gflops(held.model, settings.batch_size),
    }


def profile(engine, x, y) -> dict:
    """Where an example's time goes: the model's traced training loop on the same groups of batches without the
    engine, then the engine (adds its work between groups: pauses, live changes, the anneal, progress and the
    test-digit stream); each the best of three passes over the same examples. TF_ENABLE_ONEDNN_OPTS=0 in the
    environment shows what oneDNN's kernels give."""
    from mnist_core.training.engine import BATCHES_PER_CALL, group

    model, size = engine.keras_model, engine.batch_size
    n, per_call = len(y) // size * size, BATCHES_PER_CALL * size

    def timed(fit) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            fit()
            best = min(best, time.perf_counter() - started)
        return round(best * 1000 / n, 4)

    return {
        "training_loop": timed(lambda: [model.train_batches(*group(x, y, i, size)) for i in range(0, n, per_call)]),
        "engine": timed(lambda: engine.fit(x[:n], y[:n])),
    }


if __name__ == "__main__":
    main()
