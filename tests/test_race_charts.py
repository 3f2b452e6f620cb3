"""The race charts: one line per contestant, legend click highlights, both horizontal axes."""

from mnist_core.charts.race import race_frame, race_spec
from mnist_core.training.race_results import RacePoint


def _points():
    return {
        "Adam": (RacePoint(1000, 0.5, 2.0, 0.5, 0.4, "running"), RacePoint(2000, 1.0, 1.5, 0.7, 0.6, "finished")),
        "SGD": (RacePoint(1000, 0.4, 2.3, 0.2, 0.2, "diverged"),),
    }


def test_frame_has_a_row_per_contestant_and_point():
    frame = race_frame(_points())
    assert frame.groupby("contestant").size().to_dict() == {"Adam": 2, "SGD": 1}
    assert frame.loc[frame.contestant == "Adam", "validation_accuracy"].tolist() == [0.5, 0.7]


def test_spec_binds_the_legend_to_a_highlight_and_switches_axes():
    names = ("Adam", "SGD")
    spec = race_spec("test_accuracy", "examples_seen", names)
    assert spec["params"][0]["bind"] == "legend"
    assert spec["encoding"]["opacity"]["condition"]["param"] == spec["params"][0]["name"]
    assert spec["encoding"]["color"]["scale"]["domain"] == list(names)
    assert "data" not in spec
    assert race_spec("loss", "train_seconds", names)["encoding"]["x"]["field"] == "train_seconds"
