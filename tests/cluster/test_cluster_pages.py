"""The Train page with a cluster configured (AppTest): where the run trains, a lost worker, the fallback."""

from __future__ import annotations

import os
import signal

import pytest
from streamlit.testing.v1 import AppTest

from tests.cluster.conftest import free_port
from tests.conftest import wait_until
from tests.test_app import APP, _button, _navigation_pages_only  # noqa: F401 - the fixture, used by every test

pytestmark = pytest.mark.timeout(600)


def _train(at: AppTest):
    at.number_input(key="epochs").set_value(1).run()
    _button(at, "Train").click().run()
    assert not at.exception, at.exception
    return at.session_state["job"]


def test_the_train_page_says_where_a_run_trains_and_continues_after_its_worker_is_lost(on_cluster):
    from mnist_core.cluster.remote import RemoteJob

    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    job = _train(at)
    assert isinstance(job, RemoteJob)
    wait_until(lambda: job.view().examples_seen > 500 or job.view().final, timeout=300)
    at.run()
    assert any(f"Trains on the Ray cluster at {on_cluster.address}: machine" in c.value for c in at.caption)
    os.kill(job.placement.pid, signal.SIGKILL)
    wait_until(lambda: job.view().final, timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert any(e.value.startswith("The machine training your run stopped") for e in at.error)
    lost = job.view()
    _button(at, "Continue training").click().run()
    again = at.session_state["job"]
    assert again is not job and isinstance(again, RemoteJob)
    assert again.view().history == lost.history and again.view().examples_seen == lost.examples_seen
    wait_until(lambda: again.view().examples_seen > lost.examples_seen or again.view().final, timeout=300)
    assert again.view().status in ("running", "paused"), again.view().message
    _button(at, "Stop").click().run()
    assert again.join(120) and again.view().status == "stopped"


def test_an_unreachable_cluster_is_said_on_the_train_page_and_the_run_trains_here(monkeypatch):
    address = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("MNIST_LIVE_RAY_ADDRESS", address)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    job = _train(at)
    assert any(f"The Ray cluster at {address} cannot be reached" in w.value for w in at.warning)
    assert any("Trains on this server (the cluster cannot be reached)." in c.value for c in at.caption)
    job.stop()
    assert job.join(120)
