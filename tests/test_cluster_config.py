"""The cluster settings, and that without them nothing changes: runs train here and Ray is never imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from mnist_core.cluster.config import DEFAULT_CPUS, ClusterConfig, cluster_config
from tests.conftest import REPO


def test_unset_or_blank_means_no_cluster():
    assert cluster_config({}) is None
    assert cluster_config({"MNIST_LIVE_RAY_ADDRESS": "  "}) is None


def test_the_address_and_cpus_are_read_and_bad_cpus_fall_back_with_a_note():
    assert cluster_config({"MNIST_LIVE_RAY_ADDRESS": " auto "}) == ClusterConfig("auto", DEFAULT_CPUS)
    env = {"MNIST_LIVE_RAY_ADDRESS": "ray://head:10001", "MNIST_LIVE_RAY_CPUS": "4"}
    assert cluster_config(env) == ClusterConfig("ray://head:10001", 4)
    for bad in ("0", "-1", "two", "1.5", "100000"):
        config = cluster_config({"MNIST_LIVE_RAY_ADDRESS": "auto", "MNIST_LIVE_RAY_CPUS": bad})
        assert config.cpus == DEFAULT_CPUS and "MNIST_LIVE_RAY_CPUS=" in config.note and "using 2" in config.note


def test_without_the_variable_runs_train_here_and_ray_is_not_imported():
    script = textwrap.dedent(
        """
        import os, sys
        os.environ.pop("MNIST_LIVE_RAY_ADDRESS", None)
        from mnist_core.cluster.factory import new_job, new_race
        from mnist_core.data.mnist import load_mnist
        from mnist_core.settings import TrainSettings
        from mnist_core.training.contestants import default_contestants
        from mnist_core.training.job import TrainingJob
        from mnist_core.training.race import Race
        data = load_mnist()
        job, race = new_job(TrainSettings(), data), new_race(default_contestants()[:2], data)
        assert type(job) is TrainingJob and type(race) is Race, (job, race)
        assert job.where == "on this server" and not job.notice and not job.lost
        assert "ray" not in sys.modules, "ray was imported"
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.stdout.strip().endswith("ok"), done.stderr[-3000:]
