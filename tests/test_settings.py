import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from mnist_core.model.architecture import PRESETS
from mnist_core.model.optimizers import build_optimizer
from mnist_core.settings import FIELDS, OPTIMIZERS, SettingsError, TrainSettings, default_optimizer, validate_settings


def test_defaults_are_convnetjs_adadelta():
    settings = TrainSettings()
    assert settings.optimizer.name == "adadelta"
    assert settings.optimizer.params == {"learning_rate": 3.0, "rho": 0.95, "epsilon": 1e-6}
    assert (settings.weight_decay, settings.crops, settings.preset) == (0.001, 4, "convnetjs")
    assert list(OPTIMIZERS)[0] == "adadelta"


def test_adadelta_builds_with_learning_rate_three_not_keras_default():
    optimizer = build_optimizer(default_optimizer("adadelta"))
    assert float(optimizer.learning_rate) == pytest.approx(3.0)
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


# The optimizer that has each optimizer field, so that validate_settings reads it.
_OWNER = {"momentum": "momentum", "beta_1": "adam", "beta_2": "adam"}


@pytest.mark.parametrize("field", list(FIELDS))
@pytest.mark.parametrize(
    "value", [10**400, -(10**400), 10**5000, Fraction(10**400, 3)], ids=["1e400", "-1e400", "1e5000", "fraction"]
)
def test_integers_too_large_for_a_float_are_out_of_range(field, value):
    with pytest.raises(SettingsError) as info:
        validate_settings({"optimizer": _OWNER.get(field, "adadelta"), field: value}, PRESETS)
    assert list(info.value.errors) == [field]
    message = info.value.errors[field]
    assert message.startswith(f"{FIELDS[field].label}: ") and "is out of range" in message
    assert len(message) < 200  # a 5,000-digit number is described, not printed


@pytest.mark.parametrize(
    "value",
    [True, False, np.bool_(True), {"a": 1}, [[0.5]], b"1", bytearray(b"1"), Decimal("sNaN"), 1j, np.array([0.5])],
    ids=repr,
)
def test_values_that_are_not_numbers_or_text_name_their_field(value):
    with pytest.raises(SettingsError) as info:
        validate_settings({"optimizer": "adadelta", "rho": value}, PRESETS)
    assert list(info.value.errors) == ["rho"] and "Rho: " in info.value.errors["rho"]
    assert "is not a number" in info.value.errors["rho"]


def test_long_or_strange_text_is_refused_with_its_field_named_and_shown_short():
    for value in ("9" * 5000, "1" * 10**6, "0." + "0" * 100 + "1"):
        with pytest.raises(SettingsError) as info:
            validate_settings({"optimizer": "adadelta", "epsilon": value}, PRESETS)
        assert "Epsilon: " in info.value.errors["epsilon"] and "too long" in info.value.errors["epsilon"]
        assert len(info.value.errors["epsilon"]) < 200
    nested = []
    for _ in range(100_000):
        nested = [nested]
    for name in ("optimizer", "preset"):
        for value in (10**5000, nested, "x" * 10**6):
            with pytest.raises(SettingsError) as info:
                validate_settings({name: value}, PRESETS)
            assert list(info.value.errors) == [name] and len(info.value.errors[name]) < 300


def test_unicode_digits_and_signs_read_as_numbers():
    s = validate_settings(
        {"seed": "\u0663", "batch_size": "\uff16\uff14", "weight_decay": "-0", "epochs": " +2 "}, PRESETS
    )
    assert (s.seed, s.batch_size, s.weight_decay, s.epochs) == (3, 64, 0.0, 2)
