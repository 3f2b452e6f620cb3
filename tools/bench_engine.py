"""The engine against plain Keras on the same net, in one run: `python -m tools.bench_engine` prints one JSON object.

Each side trains in a process of its own, taking turns (--rounds), so that a busy spell of the machine falls on both:

- `engine`: the app's training model and engine as a job uses them, with the app's thread settings;
- `keras_user`: plain Keras as a user would write it, with TensorFlow's own thread pool sizes (and the app's
  other TensorFlow switches, oneDNN on among them, without which it is several times slower): the same network
  (random crop layer included), `compile(Adadelta(1.0, 0.95, 1e-6), "sparse_categorical_crossentropy", ["accuracy"])`
  and `fit(x, y, batch_size=128)` on the numpy arrays;
- `keras_tuned`: the same, fed by a prefetching tf.data pipeline of whole-batch slices, 8 steps per call;
- `convolutions`: the net's convolutions alone, forward and both gradients, back to back at the training shapes,
  with TensorFlow's own thread settings (tools/arithmetic.py): a bound on what any training step can reach.

Every side trains the same --examples examples per pass, and reports examples/s per pass (each pass after one
that traced); ratios use each side's median.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import mnist_core  # noqa: F401 - TensorFlow's switches (oneDNN on) before it loads, for every side alike

SIDES = ("engine", "keras_user", "keras_tuned", "convolutions")
# The app's thread settings are mnist_core's; the others get TensorFlow's own (no variables set).
APP_SIDES = ("engine",)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_engine", description=__doc__)
    parser.add_argument("--examples", type=int, default=20_000, help="examples per timed pass")
    parser.add_argument("--passes", type=int, default=3, help="timed passes per turn")
    parser.add_argument("--rounds", type=int, default=3, help="turns each side takes")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        print(json.dumps(_side(args.side, args.examples, args.passes)))
        return {}
    rates: dict[str, list[float]] = {side: [] for side in SIDES}
    extra: dict[str, dict] = {}
    for _ in range(args.rounds):
        for side in SIDES:
            result = _turn(side, args.examples, args.passes)
            rates[side] += result.pop("rates")
            extra[side] = result
    median = {side: statistics.median(values) for side, values in rates.items()}
    flops = extra["engine"]["flops_per_example"]
    report = {
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "threads": {side: extra[side]["threads"] for side in SIDES},
        "date": time.strftime("%Y-%m-%d"),
        "examples_per_pass": args.examples,
        "examples_per_second": {side: round(median[side]) for side in SIDES if side != "convolutions"},
        "best_examples_per_second": {side: round(max(rates[side])) for side in SIDES if side != "convolutions"},
        "engine_over_keras_user": round(median["engine"] / median["keras_user"], 3),
        "engine_over_keras_tuned": round(median["engine"] / median["keras_tuned"], 3),
        "engine_gflops": round(median["engine"] * flops / 1e9, 1),
        "convolutions_gflops": round(median["convolutions"], 1),
        "engine_share_of_convolutions": round(median["engine"] * flops / 1e9 / median["convolutions"], 3),
        "rates": {side: [round(r) for r in values] for side, values in rates.items()},
    }
    print(json.dumps(report, indent=2))
    return report


def _turn(side: str, examples: int, passes: int) -> dict:
    env = dict(os.environ)
    if side not in APP_SIDES:  # TensorFlow's own sizes: every CPU in both pools (mnist_core keeps values set)
        env["TF_NUM_INTRAOP_THREADS"] = env["TF_NUM_INTEROP_THREADS"] = str(os.cpu_count())
    command = [sys.executable, "-m", "tools.bench_engine", "--side", side, "--examples", str(examples)]
    done = subprocess.run(
        [*command, "--passes", str(passes)], env=env, capture_output=True, text=True, check=False, timeout=1800
    )
    if done.returncode != 0:
        raise SystemExit(f"{side} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _side(side: str, examples: int, passes: int) -> dict:
    import keras
    import numpy as np

    from mnist_core.data.mnist import load_mnist
    from mnist_core.model.architecture import PRESETS, build_model
    from mnist_core.model.flops import training_flops
    from mnist_core.runtime.memory import map_large_blocks
    from mnist_core.settings import TrainSettings

    map_large_blocks()
    data, settings = load_mnist(), TrainSettings()
    layers, batch = PRESETS[settings.preset], settings.batch_size
    rng = np.random.default_rng(0)
    x, y = data.train.x[:examples], data.train.y[:examples]
    if side == "convolutions":
        from tools.arithmetic import convolution_ceiling

        model = build_model(layers, settings.seed)
        return {"rates": [convolution_ceiling(model, batch)["gflops"] for _ in range(passes)], "threads": _threads()}
    if side == "engine":
        train, flops = _engine(settings, layers, data)
    else:
        model = build_model(layers, settings.seed)
        params = settings.optimizer.params
        optimizer = keras.optimizers.Adadelta(params["learning_rate"], rho=params["rho"], epsilon=params["epsilon"])
        tuned = side == "keras_tuned"
        model.compile(
            optimizer=optimizer,
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            steps_per_execution=8 if tuned else 1,
        )
        flops = training_flops(model)
        if tuned:

            def train(x, y):
                model.fit(tf_data_batches(x, y, batch), epochs=1, shuffle=False, verbose=0)
        else:

            def train(x, y):
                model.fit(x, y, batch_size=batch, epochs=1, shuffle=True, verbose=0)

    train(x[: batch * 16], y[: batch * 16])  # traces
    rates = []
    for _ in range(passes):
        order = rng.permutation(len(y))
        started = time.perf_counter()
        train(x[order], y[order])
        rates.append(len(y) / (time.perf_counter() - started))
    return {"rates": rates, "flops_per_example": flops, "threads": _threads()}


def tf_data_batches(x, y, batch_size: int):
    """A tf.data pipeline of batches sliced whole from the arrays, prefetched: Keras's fit at its fastest."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False  # the sizes are fixed; its thread would only wake and stop at each call
    images, labels = tf.constant(x), tf.constant(y)
    return (
        tf.data.Dataset.range(0, len(y), batch_size)
        .map(lambda start: (images[start : start + batch_size], labels[start : start + batch_size]))
        .prefetch(4)
        .with_options(options)
    )


def _threads() -> dict:
    from mnist_core.runtime.threads import training_parts

    return {
        "intra_op": os.environ.get("TF_NUM_INTRAOP_THREADS"),
        "inter_op": os.environ.get("TF_NUM_INTEROP_THREADS"),
        "batch_parts": training_parts(),
    }


def _engine(settings, layers, data):
    from mnist_core.model.flops import training_flops
    from mnist_core.training.engine import Engine
    from mnist_core.training.model_pool import new_training_model
    from mnist_core.training.run_state import RunState
    from mnist_core.training.schedule import Anneal

    held = new_training_model(layers, settings)
    engine = Engine(
        held,
        RunState(1, len(data.train)),
        params=settings.optimizer.params,
        batch_size=settings.batch_size,
        weight_decay=settings.weight_decay,
        examples_per_epoch=len(data.train),
        stream=data.test,
        crops=settings.crops,
        seed=settings.seed,
        anneal=Anneal(settings.anneal),
        planned_examples=10 * len(data.train),
    )
    return engine.fit, training_flops(held.model)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
