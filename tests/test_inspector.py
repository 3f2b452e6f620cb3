import io
import threading

import keras
import numpy as np
import pytest
from PIL import Image

from mnist_core.inspection import pictures as render
from mnist_core.inspection.inference import InferenceModel
from mnist_core.inspection.inspector import FilterBank, Inspector, LayerActivation
from mnist_core.model.architecture import CONVNETJS, LARGE, build_model, core_of
from mnist_core.model.crop import CROP_SIZE, grid_offsets
from mnist_core.model.predict import CropPredictor
from mnist_core.snapshots.pretrained import load_pretrained
from mnist_core.training.run_state import RunState


@pytest.fixture(scope="module")
def pretrained() -> keras.Model:
    return load_pretrained().model._model


@pytest.fixture(scope="module")
def inspector(pretrained) -> Inspector:
    return Inspector(pretrained)


@pytest.fixture(scope="module")
def unsure_digit(mnist, pretrained) -> np.ndarray:
    """A real test digit the pretrained net reads right but not with near certainty, so gradients are not ~0."""
    x, y = mnist.test.x[:1000], mnist.test.y[:1000]
    probabilities = CropPredictor(pretrained).predict(x, k=4, grid=True).probabilities
    top = probabilities.max(axis=1)
    candidates = np.flatnonzero((probabilities.argmax(axis=1) == y) & (top > 0.6) & (top < 0.95))
    assert len(candidates), "no moderately confident digit among the first 1,000"
    return x[candidates[0]]


def keras_outputs(model: keras.Model, crop: np.ndarray) -> list[np.ndarray]:
    """Every core layer's output by Keras's own functional graph: an independent path to the same numbers."""
    core = core_of(model)
    probe = keras.Model(core.inputs[0], [layer.output for layer in core.layers[1:]])
    return [np.asarray(out)[0] for out in probe(crop[None, :, :, None].astype(np.float32), training=False)]


def png_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    image.load()
    return image.convert("RGB")


def centre_crop(image28: np.ndarray) -> np.ndarray:
    return image28[2 : 2 + CROP_SIZE, 2 : 2 + CROP_SIZE]


# --- activations ---------------------------------------------------------------------------------------------------


def test_activations_one_per_core_layer_with_keras_shapes_and_values(mnist, pretrained, inspector):
    digit = mnist.test.x[0]
    core = core_of(pretrained)
    assert isinstance(core.layers[0], keras.layers.Rescaling)
    activations = inspector.activations(digit)
    assert [a.name for a in activations] == ["input"] + [layer.name for layer in core.layers[1:]]
    assert [a.kind for a in activations] == ["input", "conv", "maxpool", "conv", "maxpool", "flatten", "dense"]
    np.testing.assert_array_equal(activations[0].values[..., 0], centre_crop(digit))
    assert activations[0].shape == (24, 24, 1)
    expected = keras_outputs(pretrained, centre_crop(digit))
    for activation, layer, values in zip(activations[1:], core.layers[1:], expected):
        assert activation.shape == tuple(layer.output.shape[1:]) == activation.values.shape
        np.testing.assert_allclose(activation.values, values, rtol=1e-4, atol=1e-5)
    for activation in activations:
        assert activation.minimum == activation.values.min()
        assert activation.maximum == activation.values.max()
    last = activations[-1].values
    assert last.shape == (10,)
    assert last.sum() == pytest.approx(1.0, abs=1e-5)
    centre = CropPredictor(pretrained).predict_center(digit[None])[0]
    np.testing.assert_allclose(last, centre, rtol=1e-4, atol=1e-6)
    assert last.argmax() == load_pretrained().model.predict(digit, k=1, grid=True).labels[0] == mnist.test.y[0]


def test_every_layer_kind_is_named_and_shaped_like_keras(mnist):
    layers = [
        {"type": "conv", "filters": 4, "kernel": 3, "stride": 2, "padding": "valid", "activation": "tanh"},
        {"type": "batchnorm"},
        {"type": "avgpool", "size": 2, "stride": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 12, "activation": "relu"},
        {"type": "dropout", "rate": 0.5},
        {"type": "dense", "units": 10, "activation": "softmax"},
    ]
    model = build_model(layers, seed=3)
    activations = Inspector(model).activations(mnist.test.x[1])
    kinds = ["input", "conv", "batchnorm", "avgpool", "flatten", "dense", "dropout", "dense"]
    assert [a.kind for a in activations] == kinds
    shapes = [(24, 24, 1), (11, 11, 4), (11, 11, 4), (5, 5, 4), (100,), (12,), (12,), (10,)]
    assert [a.shape for a in activations] == shapes
    assert activations[2].minimum < 0 < activations[2].maximum  # tanh then batchnorm: signed
    # Dropout is inactive at inference: its output is its input.
    np.testing.assert_array_equal(activations[6].values, activations[5].values)
    for activation, values in zip(activations[1:], keras_outputs(model, centre_crop(mnist.test.x[1]))):
        np.testing.assert_allclose(activation.values, values, rtol=1e-4, atol=1e-5)


def test_large_preset(mnist):
    model = build_model(LARGE)
    inspector = Inspector(model)
    activations = inspector.activations(mnist.test.x[2])
    assert [a.kind for a in activations][-3:] == ["dense", "dropout", "dense"]
    assert activations[-1].values.sum() == pytest.approx(1.0, abs=1e-5)
    assert [bank.kernels.shape for bank in inspector.filters()] == [(5, 5, 1, 16), (5, 5, 16, 32)]


# --- fresh weights -------------------------------------------------------------------------------------------------


def test_inspector_sees_new_weights_without_retracing(mnist):
    digit = mnist.test.x[3]
    model, other = build_model(CONVNETJS, seed=0), build_model(CONVNETJS, seed=5)
    inspector = Inspector(model)
    before = inspector.activations(digit)[-1].values
    saliency_before = inspector.saliency(digit).map
    model.set_weights(other.get_weights())
    after = inspector.activations(digit)[-1].values
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, CropPredictor(other).predict_center(digit[None])[0], rtol=1e-4, atol=1e-6)
    assert not np.allclose(saliency_before, inspector.saliency(digit).map)
    expected = CropPredictor(other).predict(digit, k=4, grid=True).probabilities[0]
    assert inspector.saliency(digit).probability == pytest.approx(expected.max(), rel=1e-4)
    first = core_of(other).layers[1]
    np.testing.assert_array_equal(inspector.filters()[0].kernels, first.kernel.numpy())
    inspector.saliency(digit, k=1)
    inspector.saliency(digit, k=9)
    # One trace each: calls with new weights or another k reuse it.
    assert inspector._all_outputs.experimental_get_tracing_count() == 1
    assert inspector._gradient.experimental_get_tracing_count() == 1


def test_the_inference_inspector_follows_published_weights_and_never_sees_a_half_update(mnist):
    digit = mnist.test.x[4]
    a, b = build_model(CONVNETJS, seed=1), build_model(CONVNETJS, seed=2)
    expected = [CropPredictor(m).predict_center(digit[None])[0] for m in (a, b)]
    inference = InferenceModel(build_model(CONVNETJS, seed=9))
    inspector = inference.inspector()
    state = RunState(1, 1)
    state.publish_weights(a.get_weights())
    inference.sync(state)
    np.testing.assert_allclose(inspector.activations(digit)[-1].values, expected[0], rtol=1e-4, atol=1e-6)

    stop = threading.Event()

    def publish_alternately():
        weights = [a.get_weights(), b.get_weights()]
        turn = 0
        while not stop.is_set():
            turn += 1
            state.publish_weights(weights[turn % 2])
            inference.sync(state)

    worker = threading.Thread(target=publish_alternately)
    worker.start()
    try:
        for _ in range(30):
            last = inspector.activations(digit)[-1].values
            assert any(np.allclose(last, e, rtol=1e-4, atol=1e-6) for e in expected)
    finally:
        stop.set()
        worker.join(timeout=60)


# --- saliency ------------------------------------------------------------------------------------------------------


def test_saliency_is_zero_outside_the_crop_windows(mnist, pretrained, inspector):
    digit = mnist.test.x[5]
    centre = inspector.saliency(digit, k=1)
    assert centre.map.shape == (28, 28) and centre.map.dtype == np.float32
    border = np.ones((28, 28), bool)
    border[2:26, 2:26] = False
    assert np.all(centre.map[border] == 0)
    assert np.count_nonzero(centre.map[2:26, 2:26]) > 100
    np.testing.assert_array_equal(centre.offsets, [[2, 2]])

    four = inspector.saliency(digit, k=4)
    covered = np.zeros((28, 28), bool)
    for r, c in grid_offsets(1, 4)[0]:
        covered[r : r + 24, c : c + 24] = True
    assert not covered.all()  # the first four grid crops leave the bottom-left corner out
    assert np.all(four.map[~covered] == 0)
    assert np.count_nonzero(four.map[covered]) > 100
    reference = CropPredictor(pretrained).predict(digit, k=4, grid=True).probabilities[0]
    assert four.predicted == reference.argmax() == mnist.test.y[5]
    assert four.probability == pytest.approx(reference.max(), rel=1e-4)


def test_saliency_sign_raises_and_lowers_the_predicted_score(mnist, pretrained, inspector, unsure_digit):
    for image in (unsure_digit, mnist.test.x[0]):  # an unsure reading and a 100% sure one
        saliency = inspector.saliency(image, k=4)
        probability = CropPredictor(pretrained).predict(image, k=4, grid=True).probabilities[0, saliency.predicted]
        assert probability == pytest.approx(saliency.probability, rel=1e-4)

        def score(pixels: np.ndarray, cls: int = saliency.predicted) -> float:
            return float(inspector.class_scores(pixels, k=4)[cls])

        eps = 0.5  # in pixel units (0..255), small enough for the linear approximation
        base = image.astype(np.float32)
        step = eps * np.sign(saliency.map)
        s0, up, down = score(base), score(base + step), score(base - step)
        assert down < s0 < up
        # To first order each nudge moves the score by eps * sum|gradient|.
        assert (up - down) / 2 == pytest.approx(eps * np.abs(saliency.map).sum(), rel=0.1)
        assert np.abs(saliency.map).max() > 1e-4  # not flattened by a saturated softmax


def test_class_scores_are_the_logits_behind_the_probabilities(mnist, pretrained, inspector):
    image = mnist.test.x[3]
    logits = inspector.class_scores(image, k=1)  # k=1: the centre crop
    probabilities = CropPredictor(pretrained).predict_center(image[None])[0]
    np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(), probabilities, rtol=1e-4, atol=1e-6)


# --- filters -------------------------------------------------------------------------------------------------------


def test_filters_shapes_bias_and_shared_limit(pretrained, inspector):
    banks = inspector.filters()
    convs = [layer for layer in core_of(pretrained).layers if isinstance(layer, keras.layers.Conv2D)]
    assert [bank.kernels.shape for bank in banks] == [(5, 5, 1, 8), (5, 5, 8, 16)]
    assert [bank.bias.shape for bank in banks] == [(8,), (16,)]
    for bank, layer in zip(banks, convs):
        assert bank.name == layer.name
        np.testing.assert_array_equal(bank.kernels, layer.kernel.numpy())
        assert bank.limit == pytest.approx(np.abs(layer.kernel.numpy()).max())
        assert bank.limit >= np.abs(bank.kernels).max()


# --- rendering -----------------------------------------------------------------------------------------------------


def test_diverging_and_sequential_colour_maps():
    limit = 0.42
    colours = render.diverging_rgb(np.array([0.0, limit, -limit, 5.0, -5.0, limit / 2]), limit)
    assert tuple(colours[0]) == render.WHITE == (255, 255, 255)
    assert tuple(colours[1]) == tuple(colours[3]) == render.RED
    assert tuple(colours[2]) == tuple(colours[4]) == render.BLUE
    red, green, blue = colours[5].astype(int)
    assert red > green and red > blue and min(red, green, blue) > 100  # half way: a light red
    sequential = render.sequential_rgb(np.array([-1.0, 3.0]), -1.0, 3.0)
    assert tuple(sequential[0]) == render.VIRIDIS[0] and tuple(sequential[1]) == render.VIRIDIS[-1]
    assert render.diverging_label(limit) == "-0.42 … 0 … +0.42"
    assert render.sequential_label(0.0, 255.0) == "0 … 255"


def test_colour_scale_png():
    bar = png_image(render.colour_scale_png(width=256, height=12))
    assert bar.size == (256, 12)
    assert bar.getpixel((0, 6)) == render.BLUE and bar.getpixel((255, 6)) == render.RED
    assert min(bar.getpixel((128, 6))) > 245
    sequential = png_image(render.colour_scale_png(diverging=False))
    assert sequential.getpixel((0, 0)) == render.VIRIDIS[0] and sequential.getpixel((255, 0)) == render.VIRIDIS[-1]


def test_filter_grids_of_the_real_network(inspector):
    first, second = inspector.filters()
    one = png_image(render.filter_grid_png(first, scale=8))
    assert one.size == (8 * 41 - 1, 40)  # 8 tiles of 5x5 at 8 px, 1-px gaps
    assert render.filter_grid_shape(second) == render.GridShape(16, 8, 8, 16, 8, 16, 8)
    two = png_image(render.filter_grid_png(second, scale=8))
    assert two.size == (8 * 41 - 1, 16 * 41 - 1)  # a row per filter, a column per input channel
    assert two.getpixel((40, 3)) == render.GAP and two.getpixel((3, 40)) == render.GAP


def test_filter_grid_colours_and_layout():
    kernels = np.zeros((3, 3, 2, 3), np.float32)
    kernels[0, 0, 0, 0] = 0.5  # filter 0, channel 0, top-left
    kernels[2, 2, 1, 2] = -0.5  # filter 2, channel 1, bottom-right
    image = png_image(render.filter_grid_png(FilterBank("conv", kernels, None, 0.5), scale=4))
    assert image.size == (2 * 13 - 1, 3 * 13 - 1)
    assert image.getpixel((0, 0)) == render.RED
    assert image.getpixel((13 + 11, 2 * 13 + 11)) == render.BLUE
    assert image.getpixel((6, 6)) == render.WHITE


def test_filter_grids_are_capped_and_bounded():
    wide = FilterBank("conv", np.ones((5, 5, 100, 80), np.float32), None, 1.0)
    shape = render.filter_grid_shape(wide)
    assert (shape.rows, shape.cols, shape.filters_shown, shape.channels_shown) == (64, 64, 64, 64)
    assert shape.truncated and shape.scale == 3
    image = png_image(render.filter_grid_png(wide))
    assert image.size == (64 * 16 - 1, 64 * 16 - 1) and max(image.size) <= render.MAX_SIDE
    first = FilterBank("conv", np.ones((5, 5, 1, 40), np.float32), None, 1.0)
    shape = render.filter_grid_shape(first)
    assert (shape.rows, shape.cols, shape.filters_shown, shape.truncated) == (3, 16, 40, False)
    assert png_image(render.filter_grid_png(first)).size == (16 * 41 - 1, 3 * 41 - 1)


def test_feature_maps_png_for_maps_and_vectors(mnist, inspector):
    activations = inspector.activations(mnist.test.x[0])
    crop = png_image(render.feature_maps_png(activations[0], scale=4))
    assert crop.size == (96, 96)
    assert crop.getpixel((0, 0)) == (0, 0, 0)  # the input crop stays a grey digit
    conv = png_image(render.feature_maps_png(activations[1], scale=4))
    assert conv.size == (8 * 97 - 1, 96)  # 8 channels of 24x24
    second = png_image(render.feature_maps_png(activations[3], scale=4))
    assert second.size == (8 * 49 - 1, 2 * 49 - 1)  # 16 channels of 12x12 in rows of 8
    probabilities = png_image(render.feature_maps_png(activations[-1], scale=4))
    assert probabilities.size == (10 * 17 - 1, 16)  # a strip of 10 cells of 16 px
    winner = int(activations[-1].values.argmax())
    assert probabilities.getpixel((winner * 17 + 8, 8)) == render.VIRIDIS[-1]
    flat = png_image(render.feature_maps_png(activations[-2], scale=4))
    assert flat.size == (32 * 17 - 1, 8 * 17 - 1)  # 256 units in rows of 32


def test_feature_maps_of_a_constant_layer_and_bounded_size():
    constant = np.zeros((4, 4, 3), np.float32)
    image = png_image(render.feature_maps_png(LayerActivation("c", "conv", (4, 4, 3), constant, 0.0, 0.0)))
    assert image.getpixel((0, 0)) == render.VIRIDIS[0]
    big = np.random.default_rng(0).random((24, 24, 64), dtype=np.float32)
    image = png_image(render.feature_maps_png(LayerActivation("b", "conv", big.shape, big, 0.0, 1.0), scale=8))
    assert max(image.size) <= render.MAX_SIDE
    huge = LayerActivation("h", "conv", (24, 24, 3000), np.zeros((24, 24, 3000), np.float32), 0.0, 0.0)
    image = png_image(render.feature_maps_png(huge, columns=100))
    assert image.size == (48 * 25 - 1, 48 * 25 - 1)  # 48 x 48 tiles at 1 px per value fill MAX_SIDE
    assert render.feature_maps_shown(huge, columns=100) == 48 * 48
    assert render.feature_maps_shown(LayerActivation("v", "dense", (10,), np.zeros(10), 0.0, 0.0)) == 10


def test_saliency_pictures(mnist, inspector):
    digit = mnist.test.x[0]
    saliency = inspector.saliency(digit)
    assert png_image(render.saliency_png(saliency.map, scale=8)).size == (224, 224)
    assert png_image(render.saliency_overlay_png(digit, saliency.map, scale=8)).size == (224, 224)

    image = np.zeros((28, 28), np.uint8)
    image[10, 10] = 255
    gradient = np.zeros((28, 28), np.float32)
    gradient[5, 5], gradient[6, 6] = 2.0, -2.0
    overlay = png_image(render.saliency_overlay_png(image, gradient, scale=2))
    assert overlay.getpixel((0, 0)) == render.WHITE  # background, no gradient
    assert overlay.getpixel((10, 10)) == render.RED and overlay.getpixel((12, 12)) == render.BLUE
    grey = overlay.getpixel((20, 20))  # ink, no gradient
    assert grey[0] == grey[1] == grey[2] and 50 < grey[0] < 200
    alone = png_image(render.saliency_png(gradient, scale=1))
    assert alone.getpixel((5, 5)) == render.RED and alone.getpixel((6, 6)) == render.BLUE
    assert alone.getpixel((0, 0)) == render.WHITE
