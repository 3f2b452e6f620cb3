"""PNG pictures of a network's insides (filters, feature maps, saliency) with NumPy and Pillow only."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from mnist_core.inspection.gradients import LayerGradient
from mnist_core.inspection.inspector import FilterBank, LayerActivation

MAX_SIDE = 1200  # px: pictures shrink their scale (down to 1) to stay within this
MAX_TILES = 64  # filter grids show at most this many rows (filters) and columns (input channels)
FIRST_LAYER_COLUMNS = 16  # one-channel filters wrap into rows of this many tiles

# Diverging map: blue for negative, white for zero, red for positive (the ends of ColorBrewer's RdBu).
BLUE = (33, 102, 172)
WHITE = (255, 255, 255)
RED = (178, 24, 43)
# Sequential map for activations: five stops of viridis (dark purple, low, to yellow, high).
VIRIDIS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))
GAP = (128, 128, 128)  # between tiles: neither white (zero) nor a colour of either map
# Pictures are drawn as palette indices: a third of the bytes to enlarge, and PNG encodes them several times faster.
LEVELS = 255  # colours per map; odd, so that the middle index of the diverging map is exactly zero (white)
GAP_INDEX = LEVELS


@dataclass(frozen=True)
class GridShape:
    rows: int
    cols: int
    scale: int  # px per weight after fitting within MAX_SIDE
    filters_shown: int
    channels_shown: int
    filters: int
    channels: int

    @property
    def truncated(self) -> bool:
        return self.filters_shown < self.filters or self.channels_shown < self.channels


def _palette(stops: np.ndarray, colours: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    """(256, 3) uint8: LEVELS colours along the map, then GAP at index GAP_INDEX."""
    t = np.linspace(stops[0], stops[-1], LEVELS)
    channels = [np.interp(t, stops, np.array(colours, np.float32)[:, i]) for i in range(3)]
    return np.vstack([np.stack(channels, axis=-1).round(), [GAP]]).astype(np.uint8)


DIVERGING = _palette(np.array([-1.0, 0.0, 1.0]), (BLUE, WHITE, RED))
SEQUENTIAL = _palette(np.linspace(0, 1, len(VIRIDIS)), VIRIDIS)
GREYS = _palette(np.array([0.0, 1.0]), ((0, 0, 0), WHITE))


def diverging_index(values: np.ndarray, limit: float) -> np.ndarray:
    """Palette indices into DIVERGING: -limit the first, 0 the middle, +limit the last colour, clipped beyond."""
    t = np.clip(np.asarray(values, dtype=np.float32) / (limit if limit > 0 else 1.0), -1, 1)
    return ((t + 1) * (LEVELS - 1) / 2).round().astype(np.uint8)


def sequential_index(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Palette indices into SEQUENTIAL (or GREYS) from `low` to `high` (all the first colour if they are equal)."""
    span = high - low if high > low else 1.0
    t = np.clip((np.asarray(values, dtype=np.float32) - low) / span, 0, 1)
    return (t * (LEVELS - 1)).round().astype(np.uint8)


def diverging_rgb(values: np.ndarray, limit: float) -> np.ndarray:
    """uint8 RGB (..., 3): -limit blue, 0 white, +limit red, clipped beyond."""
    return DIVERGING[diverging_index(values, limit)]


def sequential_rgb(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """uint8 RGB (..., 3) on viridis from `low` to `high`."""
    return SEQUENTIAL[sequential_index(values, low, high)]


def diverging_label(limit: float) -> str:
    """Legend text for a symmetric scale, e.g. "-0.42 … 0 … +0.42"."""
    return f"{-limit:.3g} … 0 … +{limit:.3g}"


def sequential_label(low: float, high: float) -> str:
    return f"{low:.3g} … {high:.3g}"


def colour_scale_png(diverging: bool = True, width: int = 256, height: int = 12) -> bytes:
    """A horizontal colour bar, low (left) to high (right), to label with diverging_label or sequential_label."""
    ramp = np.broadcast_to(np.linspace(-1 if diverging else 0, 1, width), (height, width))
    if diverging:
        return _png(diverging_index(ramp, 1.0), DIVERGING)
    return _png(sequential_index(ramp, 0.0, 1.0), SEQUENTIAL)


def filter_grid_shape(bank: FilterBank, scale: int = 8) -> GridShape:
    """How filter_grid_png lays out a layer: tiles per row and column, the scale, and what it leaves out."""
    kh, kw, cin, cout = bank.kernels.shape
    if cin == 1:
        cols = min(cout, FIRST_LAYER_COLUMNS)
        rows = min(math.ceil(cout / cols), MAX_TILES)
        shown_filters, shown_channels = min(cout, rows * cols), 1
    else:
        rows, cols = min(cout, MAX_TILES), min(cin, MAX_TILES)
        shown_filters, shown_channels = rows, cols
    return GridShape(rows, cols, _fit_scale(scale, rows, cols, kh, kw), shown_filters, shown_channels, cout, cin)


def filter_grid_png(bank: FilterBank, scale: int = 8) -> bytes:
    """Conv kernels on the layer's symmetric scale: a tile per filter (one input channel), else filter x channel."""
    shape = filter_grid_shape(bank, scale)
    kernels = bank.kernels[:, :, : shape.channels_shown, : shape.filters_shown]
    # Tiles in reading order: filter by filter, each filter's input channels left to right.
    tiles = np.transpose(kernels, (3, 2, 0, 1)).reshape(-1, kernels.shape[0], kernels.shape[1])
    return _png(_tile(diverging_index(tiles, bank.limit), shape.rows, shape.cols, shape.scale), DIVERGING)


def feature_maps_png(activation: LayerActivation, scale: int = 4, columns: int | None = None) -> bytes:
    """One layer's output on one scale from its minimum to its maximum: a tile per channel, or a cell per unit."""
    tiles, rows, cols = _feature_grid(activation, columns)
    if activation.values.ndim != 3:
        scale *= 4  # a square cell of 4 x scale px per unit, so that a 10-way softmax stays readable
    low, high = activation.minimum, activation.maximum
    grid = _tile(sequential_index(tiles, low, high), rows, cols, _fit_scale(scale, rows, cols, *tiles.shape[1:]))
    # The input crop is an image: grey reads as the digit, the colour map would not.
    return _png(grid, GREYS if activation.kind == "input" else SEQUENTIAL)


def feature_maps_shown(activation: LayerActivation, columns: int | None = None) -> int:
    """How many channels (or units) feature_maps_png draws: the first ones that fit within MAX_SIDE at scale 1."""
    _, rows, cols = _feature_grid(activation, columns)
    return min(rows * cols, activation.values.shape[-1] if activation.values.ndim == 3 else activation.values.size)


def _feature_grid(activation: LayerActivation, columns: int | None) -> tuple[np.ndarray, int, int]:
    values = activation.values
    tiles = np.transpose(values, (2, 0, 1)) if values.ndim == 3 else values.reshape(-1, 1, 1)  # (n, h, w)
    cols = min(len(tiles), columns or (8 if values.ndim == 3 else 32), (MAX_SIDE + 1) // (tiles.shape[2] + 1))
    rows = min(math.ceil(len(tiles) / cols), (MAX_SIDE + 1) // (tiles.shape[1] + 1))
    return tiles[: rows * cols], rows, cols


def gradient_maps_png(gradient: LayerGradient, scale: int = 4, columns: int | None = None) -> bytes:
    """A layer's output gradient laid out as its feature maps are, on one symmetric scale (its largest magnitude)."""
    tiles, rows, cols = _feature_grid(gradient, columns)
    if gradient.values.ndim != 3:
        scale *= 4
    grid = _tile(diverging_index(tiles, gradient.limit), rows, cols, _fit_scale(scale, rows, cols, *tiles.shape[1:]))
    return _png(grid, DIVERGING)


def weight_gradient_png(gradient: LayerGradient, scale: int = 8) -> bytes:
    """A layer's kernel gradient on its symmetric scale: conv kernels as the filters are drawn, a dense kernel as
    a matrix (a row per unit, a column per input, the first MAX_SIDE inputs)."""
    weights = gradient.weights
    if weights is None:
        raise ValueError(f"layer {gradient.name} has no weights")
    if weights.ndim == 4:
        return filter_grid_png(FilterBank(gradient.name, weights, None, gradient.weights_limit), scale)
    matrix = weights.T[: MAX_TILES * 4, :MAX_SIDE]  # (units, inputs)
    wide = max(1, min(scale, MAX_SIDE // matrix.shape[1]))
    # Rows taller than wide (up to 3x scale), so that a 10-unit layer over hundreds of inputs stays readable.
    tall = max(wide, min(3 * scale, MAX_SIDE // (4 * matrix.shape[0])))
    pixels = np.repeat(np.repeat(diverging_index(matrix, gradient.weights_limit), tall, axis=0), wide, axis=1)
    return _png(pixels, DIVERGING)


def saliency_png(saliency_map: np.ndarray, scale: int = 8) -> bytes:
    """The map alone on the diverging scale, symmetric about its largest magnitude."""
    values = np.asarray(saliency_map, dtype=np.float32)
    return _png(_enlarge(diverging_index(values, float(np.abs(values).max())), scale), DIVERGING)


def saliency_overlay_png(image28: np.ndarray, saliency_map: np.ndarray, scale: int = 8) -> bytes:
    """The digit as grey ink on white, with positive gradient red and negative blue, opaque where it is largest."""
    ink = np.asarray(image28, dtype=np.float32) / 255
    # Grey, not black, ink so that red and blue stay visible on the strokes too.
    base = np.repeat((255 - 150 * ink)[..., None], 3, axis=-1)
    values = np.asarray(saliency_map, dtype=np.float32)
    peak = float(np.abs(values).max())
    alpha = (np.abs(values) / peak if peak > 0 else np.zeros_like(values))[..., None]
    colour = np.where((values >= 0)[..., None], np.array(RED, np.float32), np.array(BLUE, np.float32))
    blended = base * (1 - alpha) + colour * alpha
    return _png(_enlarge(blended.round().astype(np.uint8), scale))


def _fit_scale(scale: int, rows: int, cols: int, tile_h: int, tile_w: int) -> int:
    """The largest scale up to `scale` (at least 1) that keeps a rows x cols grid with 1-px gaps within MAX_SIDE."""
    fits_w = (MAX_SIDE - (cols - 1)) // (cols * tile_w)
    fits_h = (MAX_SIDE - (rows - 1)) // (rows * tile_h)
    return max(1, min(scale, fits_w, fits_h))


def _tile(tiles: np.ndarray, rows: int, cols: int, scale: int) -> np.ndarray:
    """Lay index tiles (n, h, w) out row by row, enlarged, with 1-px GAP_INDEX lines between them."""
    _, h, w = tiles.shape
    big = _enlarge(tiles[: rows * cols], scale, axes=(1, 2))
    # Give every tile a gap row and column, fill the grid up with gap tiles, then interleave rows and columns.
    padded = np.full((rows * cols, h * scale + 1, w * scale + 1), GAP_INDEX, np.uint8)
    padded[: len(big), :-1, :-1] = big
    grid = padded.reshape(rows, cols, h * scale + 1, w * scale + 1).transpose(0, 2, 1, 3)
    return grid.reshape(rows * (h * scale + 1), cols * (w * scale + 1))[:-1, :-1]


def _enlarge(pixels: np.ndarray, scale: int, axes: tuple[int, int] = (0, 1)) -> np.ndarray:
    """Nearest-neighbour: every pixel becomes a scale x scale block."""
    return np.repeat(np.repeat(pixels, scale, axis=axes[0]), scale, axis=axes[1])


def _png(pixels: np.ndarray, palette: np.ndarray | None = None) -> bytes:
    """PNG bytes of RGB (h, w, 3) pixels, or of palette indices (h, w) with a (256, 3) palette."""
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
    if palette is not None:
        image.putpalette(palette.tobytes())  # a 2-D uint8 image becomes mode "P"
    buffer = io.BytesIO()
    # Level 1: these flat-coloured pictures compress nearly as well as at the default 6, several times faster.
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
