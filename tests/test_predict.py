import json
import subprocess
import sys

import numpy as np

from mnist_core.model.architecture import CONVNETJS, PRESETS, build_model, core_of
from mnist_core.model.crop import crops_at
from mnist_core.model.predict import MAX_CHUNK, CropPredictor, chunk_size
from mnist_core.runtime.memory import LARGE_BLOCK


def test_crop_averaged_prediction_shapes_and_average(mnist):
    predictor = CropPredictor(build_model(CONVNETJS))
    result = predictor.predict(mnist.test.x[:5], k=4, seed=0)
    assert result.probabilities.shape == (5, 10)
    assert result.per_crop.shape == (5, 4, 10)
    assert result.offsets.shape == (5, 4, 2)
    np.testing.assert_allclose(result.probabilities, result.per_crop.mean(axis=1), rtol=1e-6)
    assert result.labels.shape == (5,)


def test_a_single_28x28_image_is_accepted(mnist):
    result = CropPredictor(build_model(CONVNETJS)).predict(mnist.test.x[0], k=3, seed=1)
    assert result.per_crop.shape == (1, 3, 10)


def test_each_distinct_crop_runs_once_and_the_centre_comes_with_the_crops(mnist, monkeypatch):
    predictor = CropPredictor(build_model(CONVNETJS, seed=4))
    images = mnist.test.x[:300]
    result = predictor.predict(images, k=4, seed=5, center=True)
    every = predictor.forward(crops_at(images, result.offsets).reshape(-1, 24, 24)).reshape(300, 4, 10)
    np.testing.assert_allclose(result.per_crop, every, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result.center, predictor.predict_center(images), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(result.labels, every.mean(axis=1).argmax(axis=1))
    ran = []
    forward = predictor.forward
    monkeypatch.setattr(predictor, "forward", lambda crops, workers=1: ran.append(len(crops)) or forward(crops))
    predictor.predict(images, k=4, seed=5, center=True)
    distinct = {(i, *o) for i in range(300) for o in [(2, 2), *map(tuple, result.offsets[i])]}
    assert ran == [len(distinct)] and len(distinct) < 300 * 5


def test_seeded_predictions_repeat_and_seeds_differ(mnist):
    predictor = CropPredictor(build_model(CONVNETJS, seed=1))
    a = predictor.predict(mnist.test.x[:20], k=4, seed=7)
    b = predictor.predict(mnist.test.x[:20], k=4, seed=7)
    c = predictor.predict(mnist.test.x[:20], k=4, seed=8)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    np.testing.assert_allclose(a.probabilities, b.probabilities)
    assert not np.array_equal(a.offsets, c.offsets)


def test_per_crop_probabilities_match_the_model_on_that_crop(mnist):
    model = build_model(CONVNETJS, seed=2)
    predictor = CropPredictor(model)
    result = predictor.predict(mnist.test.x[:3], k=2, seed=3)
    r, c = result.offsets[1, 1]
    crop = mnist.test.x[1, r : r + 24, c : c + 24].astype(np.float32)[None, ..., None]
    expected = np.asarray(model.get_layer("core")(crop, training=False))[0]
    np.testing.assert_allclose(result.per_crop[1, 1], expected, rtol=1e-4, atol=1e-6)


def test_grid_offsets_start_at_the_centre(mnist):
    predictor = CropPredictor(build_model(CONVNETJS))
    result = predictor.predict(mnist.test.x[:2], k=1, grid=True)
    np.testing.assert_allclose(result.probabilities, predictor.predict_center(mnist.test.x[:2]), rtol=1e-5)


_EVALUATE_IN_A_FRESH_PROCESS = """
import gc, json, psutil
from mnist_core.model.architecture import CONVNETJS, build_model
from mnist_core.data.mnist import load_mnist
from mnist_core.runtime.memory import release_free_memory
from mnist_core.model.predict import CropPredictor

data = load_mnist()
rss = lambda: psutil.Process().memory_info().rss / 2**20
CropPredictor(build_model(CONVNETJS, 0)).predict(data.test.x[:8])  # TensorFlow's own start-up, not counted
gc.collect()
release_free_memory()
before = rss()
for _ in range(2):
    predictor = CropPredictor(build_model(CONVNETJS, 0))
    predictor.predict_center(data.validation.x)
    predictor.predict(data.test.x, 4, seed=0)
    del predictor
    gc.collect()
    release_free_memory()
print(json.dumps({"before": before, "after": rss()}))
"""


def test_evaluating_the_test_set_leaves_little_memory_behind(mnist):
    """TensorFlow keeps buffers sized for the largest batch it ran (mnist_core.model.predict.MAX_CHUNK) for good."""
    result = subprocess.run(
        [sys.executable, "-c", _EVALUATE_IN_A_FRESH_PROCESS], capture_output=True, text=True, timeout=300, check=True
    )
    rss = json.loads(result.stdout.strip().splitlines()[-1])
    assert rss["after"] - rss["before"] < 100, rss  # 4,096-crop chunks left ~260 MB here; 512 leave ~40


def test_threads_sharing_the_chunks_give_the_same_probabilities(mnist):
    predictor = CropPredictor(build_model(CONVNETJS, seed=2))
    images = mnist.test.x[:1500]  # 6,000 crops: 12 chunks
    alone = predictor.predict(images, 4, seed=5)
    shared = predictor.predict(images, 4, seed=5, workers=3)
    np.testing.assert_array_equal(shared.probabilities, alone.probabilities)
    np.testing.assert_array_equal(predictor.predict_center(images, workers=2), predictor.predict_center(images))


def test_a_forward_chunk_keeps_every_layer_output_under_a_large_block():
    """Larger buffers get mappings of their own (map_large_blocks) that fault their pages in at every call."""
    for layers in PRESETS.values():
        core = core_of(build_model(layers, 0))
        widest = max(int(np.prod(layer.output.shape[1:])) for layer in core.layers) * 4
        chunk = chunk_size(core)
        assert chunk * widest < LARGE_BLOCK
        assert chunk == MAX_CHUNK or (chunk + 1) * widest >= LARGE_BLOCK
    assert CropPredictor(build_model(CONVNETJS, 0)).chunk == 227  # 24 x 24 x 8 float32 outputs a crop
