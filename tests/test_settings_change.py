"""When a changed setting reaches a running job: declared once (FieldSpec.applies), read by everything else."""

import ast

import pytest

from mnist_core.settings import (
    CHOICES,
    FIELDS,
    Applies,
    TrainSettings,
    applying,
    default_optimizer,
    settings_change,
    with_changes,
)
from mnist_core.training.schedule import Anneal, LiveParams
from tests.conftest import REPO


def test_each_group_is_read_from_the_declaration():
    assert applying(Applies.NEXT_BATCH) == ("learning_rate", "momentum")
    assert applying(Applies.NEXT_EPOCH) == ("batch_size", "weight_decay", "epochs", "crops", "anneal", "stop_at")
    assert set(applying(Applies.NEW_RUN)) == set(FIELDS) - set(
        applying(Applies.NEXT_BATCH) + applying(Applies.NEXT_EPOCH)
    )
    assert FIELDS["momentum"].help == "Changes apply to a running job from the next batch."
    assert FIELDS["seed"].help.endswith("Changing it needs Reset.")


def test_the_difference_of_two_settings_comes_in_three_groups():
    old = TrainSettings(optimizer=default_optimizer("momentum"))
    params = {**old.optimizer.params, "learning_rate": 0.05, "momentum": 0.5}
    new = old.with_(
        optimizer=old.optimizer.__class__("momentum", params), batch_size=64, crops=8, seed=3, preset="large"
    )
    change = settings_change(old, new)
    assert change.next_batch == {"learning_rate": 0.05, "momentum": 0.5}
    assert change.next_epoch == {"batch_size": 64, "crops": 8}
    assert change.new_run == ("preset", "seed")
    assert settings_change(old, old) == settings_change(new, new)
    assert not settings_change(old, old).live and not settings_change(old, old).new_run


def test_another_optimizer_is_one_change_whatever_its_parameters():
    old, new = TrainSettings(), TrainSettings(optimizer=default_optimizer("adam"), epochs=9)
    change = settings_change(old, new)
    assert change.new_run == ("optimizer",) and change.next_batch == {} and change.next_epoch == {"epochs": 9}


def test_a_parameter_of_the_same_optimizer_that_is_not_live_needs_a_new_run():
    old = TrainSettings()
    new = with_changes(old, {"rho": 0.5, "learning_rate": 2.0})
    change = settings_change(old, new)
    assert change.new_run == ("rho",) and change.next_batch == {"learning_rate": 2.0}
    assert with_changes(old, change.live) == with_changes(old, {"learning_rate": 2.0})
    assert change.without("learning_rate").live == {}


def test_choices_are_named_as_the_pages_name_them():
    assert CHOICES == {"optimizer": "optimizer", "preset": "network"}


def test_live_params_compute_what_a_batch_trains_with():
    live = LiveParams({"learning_rate": 1.0, "momentum": 0.9, "rho": 0.95}, applying(Applies.NEXT_BATCH), Anneal(0.5))
    assert live.set == {"learning_rate": 1.0, "momentum": 0.9}  # rho is fixed when the optimizer is built
    assert live.for_batch(0, 100) == {"learning_rate": 1.0, "momentum": 0.9}
    live.change({"learning_rate": 2.0, "rho": 0.1})
    assert live.for_batch(75, 100) == pytest.approx(
        {"learning_rate": 2.0 * Anneal(0.5).factor(75, 100), "momentum": 0.9}
    )


def test_no_other_module_lists_the_live_settings():
    """The groups are read through `applying`; a copy of one (or of the old partial lists) elsewhere would drift."""
    groups = [set(applying(when)) for when in (Applies.NEXT_BATCH, Applies.NEXT_EPOCH)]
    groups += [{"epochs", "crops"}, {"batch_size", "weight_decay", "anneal", "stop_at"}]
    found = []
    for path in [*REPO.glob("mnist_core/**/*.py"), *REPO.glob("ui/*.py"), *REPO.glob("pages/*.py")]:
        if path.name == "settings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                names = {e.value for e in node.elts if isinstance(e, ast.Constant)}
                if names in groups:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}: {sorted(names)}")
    assert found == []
