"""Reading settings from a link's query string and writing them back (no Streamlit script run needed)."""

import re

import pytest

from mnist_core.model.architecture import PRESETS
from mnist_core.settings import TrainSettings, validate_settings
from ui.markdown import escape_markdown
from ui.query_settings import PARAMS, link_params, read_link, widget_state


def _settings(values: dict) -> TrainSettings:
    return validate_settings(values, PRESETS)


def test_a_good_link_gives_its_values_and_the_widget_state():
    link = read_link({"opt": "sgd", "lr": "0.05", "epochs": "3", "net": "large", "ema": "0"})
    assert link.notices == []
    assert link.values == {"optimizer": "sgd", "learning_rate": 0.05, "epochs": 3, "averaging": 0.0, "preset": "large"}
    assert widget_state(link.values) == {
        "optimizer": "sgd",
        "sgd.learning_rate": "0.05",  # text inputs take text
        "epochs": 3,  # number inputs take whole numbers
        "averaging": "0",
        "preset": "large",
    }


def test_every_parameter_round_trips():
    query = {"opt": "adam", "lr": "0.002", "eps": "1e-08", "beta1": "0.8", "beta2": "0.99", "batch": "64",
             "decay": "0.0005", "epochs": "3", "k": "8", "seed": "42", "ema": "0.9", "anneal": "0.5", "stop": "99.2",
             "mine": "1", "class": "1", "net": "large"}  # fmt: skip
    link = read_link(query)
    assert not link.notices
    assert link_params(_settings(link.values)) == query
    sgd = {"opt": "momentum", "lr": "0.05", "momentum": "0.5"}
    assert link_params(_settings(read_link(sgd).values)) == sgd
    adadelta = {"rho": "0.9", "eps": "1e-05"}
    assert link_params(_settings(read_link(adadelta).values)) == adadelta
    assert set(PARAMS) == {name for q in (query, sgd, adadelta) for name in q}


def test_only_values_that_differ_from_the_defaults_are_written():
    assert link_params(TrainSettings()) == {}
    sgd_default_lr = _settings({"optimizer": "sgd", "learning_rate": "0.01"})
    assert link_params(sgd_default_lr) == {"opt": "sgd"}  # 0.01 is SGD's own default
    precise = _settings({"learning_rate": "0.123456789", "seed": 7})
    assert link_params(precise) == {"lr": "0.123456789", "seed": "7"}  # %g would have rounded it


def test_a_custom_network_is_marked_in_the_link():
    custom = TrainSettings(preset="custom")
    assert link_params(custom) == {"net": "custom"}


def _notice(query: dict) -> str:
    link = read_link(query)
    assert link.values == {}, link.values
    assert len(link.notices) == 1, link.notices
    return link.notices[0]


@pytest.mark.parametrize(
    ("query", "notice"),
    [
        ({"seed": "banana"}, "Ignored seed=banana from the link: Seed: 'banana' is not a number. Using 0."),
        ({"lr": "nan"}, "Ignored lr=nan from the link: Learning rate: must be a finite number, got nan. Using 3."),
        (
            {"decay": "inf"},
            "Ignored decay=inf from the link: L2 weight decay: must be a finite number, got inf. Using 0.001.",
        ),
        (
            {"k": "1e400"},
            "Ignored k=1e400 from the link: Crops per prediction: must be a finite number, got 1e400. Using 4.",
        ),
        ({"batch": "-3"}, "Ignored batch=-3 from the link: Batch size: -3 is out of range [1, 4096]. Using 128."),
        ({"epochs": "1000"}, "Ignored epochs=1000 from the link: Epochs: 1000 is out of range [1, 200]. Using 5."),
        ({"seed": "99999999999999999999"}, "Seed: 99999999999999999999 is out of range [0, 2.14748e+09]. Using 0."),
        ({"batch": "64.5"}, "Batch size: must be a whole number, got 64.5. Using 128."),
        ({"ema": "1"}, "Ignored ema=1 from the link: Weight averaging (EMA): 1 is out of range [0, 1). Using 0.99."),
        ({"seed": ""}, "Ignored seed= from the link: Seed: '' is not a number. Using 0."),
        (
            {"opt": "lion"},
            "Ignored opt=lion from the link: Optimizer: unknown 'lion' (choose from adadelta, sgd, "
            "momentum, nesterov, adagrad, rmsprop, adam). Using Adadelta.",
        ),
        (
            {"net": "custom"},
            "Ignored net=custom from the link: a network built in the layer editor cannot travel in "
            "a link. Using ConvNetJS demo net (5,994 weights).",
        ),
        ({"net": "huge"}, "Network: unknown preset 'huge' (choose from convnetjs, large). Using ConvNetJS"),
        ({"momentum": "0.5"}, "Ignored momentum=0.5 from the link: Adadelta has no momentum setting."),
        ({"opt": "adam", "momentum": "0.5"}, "Ignored momentum=0.5 from the link: Adam has no momentum setting."),
    ],
)
def test_each_kind_of_garbage_is_named_with_the_value_used_instead(query, notice):
    link = read_link(query)
    [only] = link.notices
    assert notice in only
    assert link.values == ({"optimizer": "adam"} if query.get("opt") == "adam" else {})


@pytest.mark.parametrize("name", list(PARAMS))
def test_a_10_kb_value_is_refused_without_being_echoed_whole(name):
    optimizer = {"momentum": "momentum", "beta1": "adam", "beta2": "adam"}.get(name)
    query = {name: "9" * 10_000, **({"opt": optimizer} if optimizer else {})}
    [notice] = read_link(query).notices
    assert notice.startswith(f"Ignored {name}={'9' * 20}… from the link: ")
    assert "10,000 characters is too long" in notice
    assert len(notice) < 200


def test_control_characters_in_a_value_do_not_reach_the_message():
    notice = _notice({"seed": "1\n2\x00"})
    assert "\n" not in notice and "\x00" not in notice and "1\ufffd2" in notice


def test_bad_values_do_not_spoil_good_ones():
    link = read_link({"opt": "lion", "lr": "0.5", "seed": "banana", "epochs": "2", "net": "custom"})
    assert link.values == {"learning_rate": 0.5, "epochs": 2}  # the learning rate of the default, Adadelta
    ignored = [n.split(" from")[0] for n in link.notices]
    assert ignored == ["Ignored opt=lion", "Ignored seed=banana", "Ignored net=custom"]
    assert widget_state(link.values) == {"adadelta.learning_rate": "0.5", "epochs": 2}


def test_repeated_parameters_count_with_their_last_value():
    assert read_link({"seed": ["1", "5"], "opt": ["adam", "sgd"]}).values == {"seed": 5, "optimizer": "sgd"}
    assert read_link({"seed": ["banana", "3"]}).notices == []
    assert read_link({"seed": []}).notices == ["Ignored seed= from the link: Seed: '' is not a number. Using 0."]


def test_unknown_parameters_are_ignored_silently():
    assert read_link({"utm_source": "mail", "embed": "true", "Seed": "banana"}) == read_link({})


def test_names_are_forgiving_about_case_and_spaces_numbers_about_spaces():
    link = read_link({"opt": " SGD ", "net": "Large", "epochs": " 3 "})
    assert link.values == {"optimizer": "sgd", "preset": "large", "epochs": 3} and not link.notices


def test_markdown_in_a_notice_shows_literally():
    notice = _notice({"seed": "[login](http://evil.example) :red[x] $x$"})
    escaped = escape_markdown(notice)
    assert "[login](" not in escaped and ":red[" not in escaped and "$x$" not in escaped
    assert re.sub(r"\\(.)", r"\1", escaped) == notice  # every escape is a backslash before the character


@pytest.mark.parametrize(
    ("query", "notice"),
    [
        ({"seed": "1" + "0" * 400}, "Seed: a value of 401 characters is too long. Using 0."),
        ({"lr": "1e39"}, "Learning rate: 1e39 is out of range (0, 100]. Using 3."),
        ({"seed": "1e309"}, "Seed: must be a finite number, got 1e309. Using 0."),
        ({"batch": "0x80"}, "Batch size: '0x80' is not a number. Using 128."),
        ({"epochs": "\u00b2"}, "Epochs: '\u00b2' is not a number. Using 5."),
    ],
)
def test_numbers_beyond_a_float_and_odd_digits_are_ignored_with_the_field_named(query, notice):
    [only] = _notice_list(query)
    assert notice in only


def test_unicode_digits_in_a_link_read_as_the_number_and_go_back_in_ascii():
    link = read_link({"seed": "\u0663", "batch": "\uff16\uff14"})
    assert link.values == {"seed": 3, "batch_size": 64} and not link.notices
    assert link_params(validate_settings(link.values, PRESETS)) == {"seed": "3", "batch": "64"}


MINE_2 = "Ignored mine=2 from the link: Your digits in training: 2 is out of range [0, 1]. Using 0."
CLASS_YES = "Ignored class=yes from the link: Train with the class set: 'yes' is not a number. Using 0."


@pytest.mark.parametrize(
    ("query", "notices"),
    [({"mine": "2"}, [MINE_2]), ({"class": "yes"}, [CLASS_YES]), ({"mine": "2", "class": "yes"}, [MINE_2, CLASS_YES])],
)
def test_a_switch_set_to_other_than_0_or_1_gives_one_notice_each_and_uses_0(query, notices):
    link = read_link(query)
    assert link.notices == notices
    assert link.values == {}  # the switches stay at their default, off
    settings = validate_settings(link.values, PRESETS)
    assert settings.own_digits == settings.class_digits == 0


def _notice_list(query: dict) -> list[str]:
    link = read_link(query)
    assert link.values == {}, link.values
    return link.notices
