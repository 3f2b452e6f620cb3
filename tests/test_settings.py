import math

import pytest

from mnist_core.architecture import PRESETS
from mnist_core.optimizers import build_optimizer
from mnist_core.settings import OPTIMIZERS, SettingsError, TrainSettings, default_optimizer, validate_settings


def test_defaults_are_convnetjs_adadelta():
    settings = TrainSettings()
    assert settings.optimizer.name == "adadelta"
    assert settings.optimizer.params == {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-6}
    assert (settings.weight_decay, settings.crops, settings.preset) == (0.001, 4, "convnetjs")
    assert list(OPTIMIZERS)[0] == "adadelta"


def test_adadelta_builds_with_learning_rate_one_not_keras_default():
    optimizer = build_optimizer(default_optimizer("adadelta"))
    assert float(optimizer.learning_rate) == pytest.approx(1.0)
    assert optimizer.rho == 0.95 and optimizer.epsilon == 1e-6


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_builds_with_its_defaults(name):
    optimizer = build_optimizer(default_optimizer(name))
    assert float(optimizer.learning_rate) == pytest.approx(OPTIMIZERS[name].fields["learning_rate"])


def test_momentum_variants():
    assert build_optimizer(default_optimizer("momentum")).momentum == 0.9
    assert build_optimizer(default_optimizer("nesterov")).nesterov
    assert build_optimizer(default_optimizer("sgd")).momentum == 0.0


def test_strings_parse():
    s = validate_settings({"optimizer": "sgd", "learning_rate": " 0.05 ", "batch_size": "20", "seed": 3}, PRESETS)
    assert s.optimizer.params["learning_rate"] == 0.05 and s.batch_size == 20 and s.seed == 3


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("learning_rate", "abc", "Learning rate: 'abc' is not a number"),
        ("learning_rate", "0", "Learning rate: 0 is out of range"),
        ("learning_rate", math.nan, "Learning rate: must be a finite number"),
        ("learning_rate", "inf", "Learning rate: must be a finite number"),
        ("rho", "1", "Rho: 1 is out of range"),
        ("batch_size", -5, "Batch size: -5 is out of range"),
        ("batch_size", 2.5, "Batch size: must be a whole number"),
        ("weight_decay", "-0.1", "L2 weight decay: -0.1 is out of range"),
        ("epochs", 0, "Epochs: 0 is out of range"),
        ("crops", 100, "Crops per prediction: 100 is out of range"),
        ("seed", -1, "Seed: -1 is out of range"),
        ("seed", 2**31, "Seed: 2147483648 is out of range"),
        ("batch_size", 10**9, "Batch size: 1000000000 is out of range"),
        ("learning_rate", "1e400", "Learning rate: must be a finite number"),
        ("learning_rate", "", "Learning rate: '' is not a number"),
        ("epochs", None, "Epochs: 'None' is not a number"),
        ("averaging", "1", "Weight averaging (EMA): 1 is out of range"),
        ("rho", [0.9], "Rho: '[0.9]' is not a number"),
    ],
)
def test_bad_values_name_their_field(field, value, message):
    with pytest.raises(SettingsError) as info:
        validate_settings({"optimizer": "adadelta", field: value}, PRESETS)
    assert field in info.value.errors
    assert message in info.value.errors[field]


def test_all_errors_are_collected():
    with pytest.raises(SettingsError) as info:
        validate_settings({"optimizer": "adam", "beta_1": "x", "batch_size": 0, "preset": "huge"}, PRESETS)
    assert set(info.value.errors) == {"beta_1", "batch_size", "preset"}


def test_unknown_optimizer():
    with pytest.raises(SettingsError, match="unknown 'lbfgs'"):
        validate_settings({"optimizer": "lbfgs"}, PRESETS)
