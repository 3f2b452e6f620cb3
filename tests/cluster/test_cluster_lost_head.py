"""A cluster that goes away while a run trains: the run is reported lost, the server lives on and trains here.

In a process of its own, with a head of its own, joined through Ray Client (ray://): a server that joins as a
node of the cluster (host:port) ends with that node's raylet, which Ray does not let it outlive.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.timeout(600)

SCRIPT = textwrap.dedent(
    """
    import json, os, signal, time
    from tools.local_ray import start_head
    head = start_head(2)
    try:
        os.environ["MNIST_LIVE_RAY_ADDRESS"] = head.client
        from mnist_core.cluster.factory import new_job
        from mnist_core.data.mnist import Mnist, Split, load_mnist
        from mnist_core.settings import TrainSettings
        d = load_mnist()
        part = lambda s, n: Split(s.x[:n], s.y[:n])
        tiny = Mnist(part(d.train, 20000), part(d.validation, 500), part(d.test, 500), "slice")
        job = new_job(TrainSettings(batch_size=50, epochs=200), tiny)
        if type(job).__name__ != "RemoteJob":  # Ray Client can refuse a head's first seconds under load
            time.sleep(31)  # the connection tries a cluster again 30 s after it failed
            job = new_job(TrainSettings(batch_size=50, epochs=200), tiny)
        job.start()
        while job.view().examples_seen < 200 and not job.view().final:
            time.sleep(0.5)
        out = {"kind": type(job).__name__, "where": job.where}
        head.process.send_signal(signal.SIGTERM)
        head.process.wait(60)
        deadline = time.monotonic() + 180
        while not job.view().final and time.monotonic() < deadline:
            time.sleep(0.5)
        out |= {"status": job.view().status, "lost": job.lost, "message": job.view().message}
        out |= {"weights": job.weights()[1] is not None, "joined": job.join(120)}
        after = new_job(TrainSettings(batch_size=50, epochs=1), tiny)
        out |= {"after": type(after).__name__, "notice": after.notice}
        print("RESULT", json.dumps(out), flush=True)
    finally:
        head.stop()
    """
)


def test_a_cluster_lost_mid_run_is_reported_and_new_runs_train_here():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MNIST_LIVE_RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=540)  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    out = json.loads(lines[-1].removeprefix("RESULT "))
    assert out["kind"] == "RemoteJob" and out["where"].startswith("on the Ray cluster at ray://")
    assert out["status"] == "error" and out["lost"] and out["weights"] and out["joined"]
    assert out["message"].startswith("The machine training your run stopped")
    assert out["after"] == "TrainingJob" and "cannot be reached" in out["notice"]
    assert "this run trains on this server" in out["notice"]
