"""Layer gradients (Inspector.gradients): shapes follow the layers; values match finite differences."""

import keras
import numpy as np
import pytest

from mnist_core.inspection.inspector import Inspector
from mnist_core.model.architecture import build_model, core_of
from mnist_core.model.crop import CROP_SIZE
from mnist_core.snapshots.pretrained import load_pretrained

TINY = [
    {"type": "conv", "filters": 3, "kernel": 3, "stride": 2, "padding": "valid", "activation": "relu"},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "softmax"},
]


def _centre(images):
    return np.asarray(images, np.float32)[:, 2 : 2 + CROP_SIZE, 2 : 2 + CROP_SIZE, None]


def _layers(model):
    core = core_of(model)
    return [layer for layer in core.layers if isinstance(layer, keras.layers.Rescaling)], [
        layer for layer in core.layers if not isinstance(layer, keras.layers.Rescaling)
    ]


def _losses(model, images, labels, start: int = 0, output=None) -> np.ndarray:
    """Each example's cross-entropy, run from layer `start` on `output` (default: from the input)."""
    rescale, layers = _layers(model)
    x = _centre(images)
    if output is None:
        for layer in rescale:
            x = layer(x)
    else:
        x = output
    for layer in layers[start:]:
        x = layer(x, training=False)
    probabilities = np.asarray(x, np.float64)
    return -np.log(probabilities[np.arange(len(labels)), labels])


def test_gradients_have_the_layers_shapes(mnist):
    model = load_pretrained().model._model
    inspector = Inspector(model)
    x, y = mnist.test.x[:8], mnist.test.y[:8]
    result = inspector.gradients(x, y, example=3)
    activations = inspector.activations(x[3])[1:]
    _, layers = _layers(model)
    assert [g.name for g in result.layers] == [a.name for a in activations] == [layer.name for layer in layers]
    for grad, activation, layer in zip(result.layers, activations, layers):
        assert grad.shape == activation.shape == grad.values.shape, grad.name
        kernel = getattr(layer, "kernel", None)
        assert (grad.weights is None) == (kernel is None), grad.name
        if kernel is not None:
            assert grad.weights.shape == tuple(kernel.shape)
            assert grad.weights_minimum <= 0 <= grad.weights_maximum and grad.weights_limit > 0
        assert grad.minimum <= grad.maximum and grad.limit == max(-grad.minimum, grad.maximum)
    assert result.batch == 8 and result.example == 3
    assert result.loss == pytest.approx(_losses(model, x, y).mean(), rel=1e-4)
    # The last layer's gradient is taken on its scores: softmax minus the one-hot label, summing to zero.
    last = result.layers[-1].values
    assert last.sum() == pytest.approx(0, abs=1e-5) and last[y[3]] < 0


def test_weight_and_output_gradients_match_finite_differences(mnist):
    model = build_model(TINY, seed=3)
    inspector = Inspector(model)
    x, y = mnist.train.x[:6], mnist.train.y[:6]
    result = inspector.gradients(x, y, example=2)
    conv, dense = result.layers[0], result.layers[2]
    _, layers = _layers(model)
    h = 1e-2
    for layer, grad in ((layers[0], conv.weights), (layers[2], dense.weights)):
        kernel = layer.kernel
        original = kernel.numpy()
        for index in np.argsort(-np.abs(grad).ravel())[:4]:  # the largest entries: a clear signal in float32
            where = np.unravel_index(index, grad.shape)
            changed = []
            for sign in (1, -1):
                nudged = original.copy()
                nudged[where] += sign * h
                kernel.assign(nudged)
                changed.append(_losses(model, x, y).mean())
            kernel.assign(original)
            numeric = (changed[0] - changed[1]) / (2 * h)
            assert numeric == pytest.approx(float(grad[where]), rel=0.05, abs=1e-4), (layer.name, where)
    # d(example 2's own loss) / d(the conv layer's output), by nudging that output and running the rest.
    rescale, _ = _layers(model)
    crops = _centre(x)
    for layer in rescale:
        crops = layer(crops)
    out = np.asarray(layers[0](crops, training=False))
    for index in np.argsort(-np.abs(conv.values).ravel())[:4]:
        where = (2, *np.unravel_index(index, conv.values.shape))
        changed = []
        for sign in (1, -1):
            nudged = out.copy()
            nudged[where] += sign * h
            changed.append(_losses(model, x, y, start=1, output=nudged)[2])
        numeric = (changed[0] - changed[1]) / (2 * h)
        assert numeric == pytest.approx(float(conv.values[where[1:]]), rel=0.05, abs=1e-4), where


def test_gradients_follow_new_weights(mnist):
    model = build_model(TINY, seed=3)
    inspector = Inspector(model)
    x, y = mnist.train.x[:4], mnist.train.y[:4]
    before = inspector.gradients(x, y).layers[0].weights
    model.set_weights(build_model(TINY, seed=4).get_weights())
    after = inspector.gradients(x, y).layers[0].weights
    assert not np.allclose(before, after)


def _png(data: bytes):
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return np.asarray(image.convert("RGB"))


def test_gradient_pictures_use_one_symmetric_scale_per_layer():
    from mnist_core.inspection import pictures as render
    from mnist_core.inspection.gradients import LayerGradient

    values = np.zeros((2, 2, 3), np.float32)
    values[0, 0, 0], values[1, 1, 2] = -0.5, 0.25  # the scale is +-0.5: 0.25 is half-way to red
    kernel = np.zeros((3, 3, 1, 2), np.float32)
    kernel[0, 0, 0, 1] = 0.1
    grad = LayerGradient("conv", "conv", values.shape, values, -0.5, 0.25, kernel, 0.0, 0.1)
    assert grad.limit == 0.5 and grad.weights_limit == 0.1
    maps = _png(render.gradient_maps_png(grad, scale=1))
    assert maps.shape == (2, 2 * 3 + 2, 3)  # three 2x2 tiles with 1-px gaps
    assert tuple(maps[0, 0]) == render.BLUE and tuple(maps[0, 1]) == render.WHITE
    assert tuple(maps[1, 7]) == tuple(render.diverging_rgb(np.array(0.25), 0.5))
    conv = _png(render.weight_gradient_png(grad, scale=1))
    assert tuple(conv[0, 4]) == render.RED  # the second filter's corner: the layer's largest magnitude
    dense = LayerGradient("dense", "dense", (10,), np.zeros(10), 0, 0, np.linspace(-1, 1, 300).reshape(30, 10), -1, 1)
    matrix = _png(render.weight_gradient_png(dense, scale=8))
    assert matrix.shape[1] == 30 * 8 and matrix.shape[0] % 10 == 0  # a row per unit, a column per input
    assert tuple(matrix[0, 0]) == render.BLUE and tuple(matrix[-1, -1]) == render.RED
    with pytest.raises(ValueError, match="no weights"):
        render.weight_gradient_png(LayerGradient("flatten", "flatten", (10,), np.zeros(10), 0, 0, None))
