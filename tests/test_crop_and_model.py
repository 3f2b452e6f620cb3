import numpy as np
import pytest

from mnist_core.model.architecture import CONVNETJS, LARGE, ArchitectureError, build_model, validate_layers
from mnist_core.model.crop import RandomCrop2D, crops_at, grid_offsets, random_offsets


def _numbered(n=64):
    """Images whose every pixel value encodes its position, so a crop reveals its offset."""
    base = (np.arange(28)[:, None] * 28 + np.arange(28)[None, :]).astype(np.float32)
    return np.broadcast_to(base, (n, 28, 28)).copy()


def _offsets_of(crops):
    first = crops[:, 0, 0, 0]
    return np.stack([first // 28, first % 28], axis=1).astype(int)


def test_training_crops_are_independent_per_example_and_cover_all_offsets():
    layer = RandomCrop2D(seed=1)
    out = np.asarray(layer(_numbered(256), training=True))
    assert out.shape == (256, 24, 24, 1)
    offsets = _offsets_of(out)
    assert offsets.min() == 0 and offsets.max() == 4
    assert len({tuple(o) for o in offsets}) > 15  # one offset for the batch would give 1


def test_training_crop_content_equals_the_matching_slice():
    images = np.random.default_rng(0).integers(0, 256, (32, 28, 28)).astype(np.float32)
    layer = RandomCrop2D(seed=2)
    out = np.asarray(layer(images, training=True))[..., 0]
    out_pos = np.asarray(layer(_numbered(32), training=True))  # same layer, new offsets; check positions via a twin
    assert out_pos.shape == (32, 24, 24, 1)
    for image, crop in zip(images, out):
        matches = [(r, c) for r in range(5) for c in range(5) if np.array_equal(image[r : r + 24, c : c + 24], crop)]
        assert matches


def test_training_crops_of_uint8_images_with_channels_are_windows_of_every_channel():
    images = np.random.default_rng(3).integers(0, 256, (16, 28, 28, 3), dtype=np.uint8)
    out = np.asarray(RandomCrop2D(seed=4)(images, training=True))
    assert out.shape == (16, 24, 24, 3) and out.dtype == np.float32
    for image, crop in zip(images, out):
        assert any(np.array_equal(image[r : r + 24, c : c + 24], crop) for r in range(5) for c in range(5))


def test_inference_is_the_centre_crop():
    images = _numbered(3)
    out = np.asarray(RandomCrop2D()(images, training=False))
    assert out.shape == (3, 24, 24, 1)
    np.testing.assert_array_equal(out[..., 0], images[:, 2:26, 2:26])


def test_seeded_crops_repeat():
    a = np.asarray(RandomCrop2D(seed=5)(_numbered(), training=True))
    b = np.asarray(RandomCrop2D(seed=5)(_numbered(), training=True))
    np.testing.assert_array_equal(a, b)


def test_numpy_crops_match_slices():
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    offsets = random_offsets(5, 3, np.random.default_rng(1))
    crops = crops_at(images, offsets)
    assert crops.shape == (5, 3, 24, 24)
    for i in range(5):
        for j in range(3):
            r, c = offsets[i, j]
            np.testing.assert_array_equal(crops[i, j], images[i, r : r + 24, c : c + 24])
    assert tuple(grid_offsets(2, 1)[0, 0]) == (2, 2)


def test_convnetjs_preset_has_exactly_5994_weights():
    assert build_model(CONVNETJS).count_params() == 5994


def test_model_takes_uint8_28x28_and_returns_probabilities():
    model = build_model(CONVNETJS)
    out = np.asarray(model(np.zeros((2, 28, 28), np.uint8)))
    assert out.shape == (2, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)


def test_initial_weights_are_seeded():
    a, b, c = build_model(LARGE, 3), build_model(LARGE, 3), build_model(LARGE, 4)
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([], "no layers"),
        ([{"type": "lstm"}], "row 1: unknown layer type"),
        ([{"type": "conv", "filters": 0, "kernel": 3, "stride": 1, "padding": "same", "activation": "relu"}], "row 1"),
        (
            [{"type": "maxpool", "size": 30, "stride": 1}, {"type": "flatten"}, CONVNETJS[-1]],
            "row 1: 30x30 max pooling",
        ),
        ([{"type": "flatten"}, {"type": "dense", "units": 5, "activation": "relu"}], "row 2: the last layer"),
    ],
)
def test_invalid_layer_lists_are_refused_by_row(layers, message):
    with pytest.raises(ArchitectureError, match=message):
        validate_layers(layers)


def test_large_preset_size():
    assert build_model(LARGE).count_params() == 162_122


@pytest.mark.parametrize(
    "first",
    [
        {"type": "conv", "filters": 4, "kernel": 24, "stride": 24, "padding": "valid", "activation": "relu"},
        {"type": "conv", "filters": 2, "kernel": 24, "stride": 1, "padding": "same", "activation": "relu"},
        {"type": "conv", "filters": 3, "kernel": 1, "stride": 24, "padding": "same", "activation": "linear"},
        {"type": "maxpool", "size": 1, "stride": 24},
        {"type": "avgpool", "size": 24, "stride": 24},
    ],
)
def test_the_extremes_validation_allows_build_and_train_in_keras(first):
    """Issue 15: whatever validation lets through trains in Keras (strides and windows up to the input's size)."""
    layers = [first, {"type": "flatten"}, CONVNETJS[-1]]
    validate_layers(layers)
    model = build_model(layers)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    images = np.random.default_rng(0).integers(0, 256, (8, 28, 28), dtype=np.uint8)
    assert np.isfinite(model.train_on_batch(images, np.arange(8) % 10))
