"""Draw-page benchmark: `python -m tools.bench_draw` prints one JSON object.

It measures two things with the pretrained ConvNetJS model shipped in the repo:

- Speed: server time for `preprocess` plus a k-crop prediction of one 280x280 RGBA drawing, as the Draw page
  does per stroke. The drawings are MNIST test digits enlarged to DRAWN_PX and centred on the canvas.
- Robustness to small, off-centre drawings: MNIST test digits shrunk to half size and pasted at a uniformly
  random position on a 280x280 black canvas, read through `preprocess`, through `plain_resize` (the naive
  baseline) and, for reference, as the original 28x28 digits.

"Half size" is read relative to the canvas a user draws on, not to MNIST's 28 pixels: a digit drawn to fill the
280x280 canvas is a 28x28 digit enlarged 10x, so half size is the 28x28 digit enlarged 5x to 140x140
(SMALL_PX), placed fully inside the canvas. (Shrinking the 28x28 image itself to 14x14 would leave a 280-pixel
canvas with a 10-pixel scribble, not a user's drawing; `--digit-px 14` runs that reading too.)

Canvases are RGBA drawings with a transparent background and white ink whose opacity is the digit's grey level
(the Draw page's pad sends white ink on opaque black; preprocess reads both the same way).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from PIL import Image

from mnist_core.data.preprocess import BlankImageError, TooLittleInkError, plain_resize, preprocess

CANVAS = 280  # the Draw page's canvas side, in pixels
SMALL_PX = CANVAS // 2  # a half-size drawing; see the module docstring
DRAWN_PX = 200  # a typical full-size drawing, for the timing
DIGIT = 28


def main(argv: list[str] | None = None) -> dict:
    parser = _parser()
    args = parser.parse_args(argv)
    if not 1 <= args.digit_px <= CANVAS:
        parser.error(f"--digit-px must be between 1 and {CANVAS}")
    if args.n < 1 or args.k < 1 or args.runs < 1:
        parser.error("--n, --k and --runs must be positive")
    result = run(args.n, args.seed, args.k, args.digit_px, args.runs)
    print(json.dumps(result, indent=2))
    return result


def run(n: int = 1000, seed: int = 0, k: int = 4, digit_px: int = SMALL_PX, runs: int = 200) -> dict:
    """Load MNIST and the pretrained model, then time the Draw page's work and run the robustness experiment."""
    from mnist_core.data.mnist import load_mnist
    from mnist_core.snapshots.pretrained import load_pretrained

    test = load_mnist().test
    model = load_pretrained().model
    latencies = draw_latencies(model, test.x, k, runs)
    return {
        "model": "pretrained convnetjs",
        "n": n,
        "k": k,
        "seed": seed,
        "digit_px": digit_px,
        "canvas_px": CANVAS,
        "preprocess_predict_ms_p50": round(float(np.percentile(latencies, 50)), 3),
        "preprocess_predict_ms_p95": round(float(np.percentile(latencies, 95)), 3),
        "timing_runs": runs,
        **robustness(model, test.x, test.y, n, seed, k, digit_px),
    }


def robustness(
    model, images: np.ndarray, labels: np.ndarray, n: int, seed: int, k: int = 4, digit_px: int = SMALL_PX
) -> dict:
    """Accuracy on n random digits as they are, and as small off-centre drawings read two ways."""
    rng = np.random.default_rng(seed)
    index = rng.choice(len(images), size=n, replace=False)
    digits, truth = images[index], labels[index]
    canvases = [small_offcentre_canvas(digit, rng, digit_px) for digit in digits]
    finals, rejected = _preprocessed(canvases)
    squashed = np.stack([plain_resize(canvas) for canvas in canvases])
    # One seed for all three: every image gets the same crop offsets whichever way it was made.
    original = _accuracy(model, digits, truth, k, seed)
    preprocessed = _accuracy(model, finals, truth, k, seed)
    plain = _accuracy(model, squashed, truth, k, seed)
    return {
        "accuracy_original": round(original, 4),
        "accuracy_preprocessed": round(preprocessed, 4),
        "accuracy_plain_resize": round(plain, 4),
        "drop_preprocessed_points": round(100 * (original - preprocessed), 2),
        "drop_plain_resize_points": round(100 * (original - plain), 2),
        "preprocess_rejected": rejected,
    }


def small_offcentre_canvas(digit: np.ndarray, rng: np.random.Generator, digit_px: int = SMALL_PX) -> np.ndarray:
    """(280, 280, 4) uint8 canvas with the digit resized to digit_px square at a uniformly random position."""
    top, left = rng.integers(0, CANVAS - digit_px, size=2, endpoint=True)
    return paste_on_canvas(resize_digit(digit, digit_px), int(top), int(left))


def drawn_canvas(digit: np.ndarray, digit_px: int = DRAWN_PX) -> np.ndarray:
    """(280, 280, 4) uint8 canvas with the digit resized to digit_px square in the middle: a full-size drawing."""
    offset = (CANVAS - digit_px) // 2
    return paste_on_canvas(resize_digit(digit, digit_px), offset, offset)


def resize_digit(digit: np.ndarray, size: int) -> np.ndarray:
    """A 28x28 uint8 digit resized to size x size uint8, anti-aliased."""
    # BOX averages what each output pixel covers when shrinking; BILINEAR enlarges smoothly, without ringing.
    resample = Image.Resampling.BOX if size < DIGIT else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(np.asarray(digit, dtype=np.uint8)).resize((size, size), resample))


def paste_on_canvas(ink: np.ndarray, top: int, left: int) -> np.ndarray:
    """Transparent 280x280 RGBA canvas with white ink of opacity `ink` at (top, left); ink must fit inside."""
    height, width = ink.shape
    if top < 0 or left < 0 or top + height > CANVAS or left + width > CANVAS:
        raise ValueError(f"a {height}x{width} image at ({top}, {left}) does not fit a {CANVAS}x{CANVAS} canvas")
    canvas = np.zeros((CANVAS, CANVAS, 4), dtype=np.uint8)
    region = canvas[top : top + height, left : left + width]
    region[..., :3] = np.where(ink > 0, 255, 0)[..., None]  # like a browser canvas: transparent pixels are 0,0,0,0
    region[..., 3] = ink
    return canvas


def draw_latencies(model, digits: np.ndarray, k: int = 4, runs: int = 200, warmup: int = 10) -> np.ndarray:
    """Milliseconds for preprocess plus a k-crop prediction of one 280x280 drawing, as the Draw page does."""
    rng = np.random.default_rng(0)
    # Different drawings, made beforehand: only the server's work per stroke is timed.
    canvases = [drawn_canvas(digit) for digit in digits[rng.choice(len(digits), size=20, replace=False)]]
    for i in range(warmup):
        model.predict(preprocess(canvases[i % len(canvases)]).final, k=k, seed=i)
    times = []
    for i in range(runs):
        canvas = canvases[i % len(canvases)]
        started = time.perf_counter()
        model.predict(preprocess(canvas).final, k=k, seed=i)
        times.append((time.perf_counter() - started) * 1000)
    return np.array(times)


def _preprocessed(canvases: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """Final 28x28 inputs; a canvas preprocess rejects becomes a blank input (so it counts as a miss)."""
    finals, rejected = [], 0
    for canvas in canvases:
        try:
            finals.append(preprocess(canvas).final)
        except (BlankImageError, TooLittleInkError):
            finals.append(np.zeros((DIGIT, DIGIT), dtype=np.uint8))
            rejected += 1
    return np.stack(finals), rejected


def _accuracy(model, images: np.ndarray, labels: np.ndarray, k: int, seed: int) -> float:
    return float((model.predict(images, k=k, seed=seed).labels == labels).mean())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_draw", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="test digits in the robustness experiment")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=4, help="crops averaged per prediction")
    parser.add_argument("--digit-px", type=int, default=SMALL_PX, help="side of the small drawing, in pixels")
    parser.add_argument("--runs", type=int, default=200, help="timed preprocess + predict calls")
    return parser


if __name__ == "__main__":
    main()
