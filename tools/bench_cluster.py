"""Many sessions' runs at once on a local Ray cluster, then in this process: `python -m tools.bench_cluster`.

Each of --sessions headless sessions starts a default run (--epochs, default 1) through the engine's interface
(mnist_core.cluster.factory.new_job, as the Train page does), all at once. Prints one JSON object: time until
all finish, each run's queue wait and examples/s, peak RSS of this (the web) process and of each worker, the
web process's RSS growth over idle and the Train page's script run time (AppTest) while the cluster trains,
the run actors left afterwards; then the same runs in this process for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import psutil

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
MB = 2**20


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_cluster", description=__doc__)
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--nodes", type=int, default=2, help="local Ray nodes (the head is one)")
    parser.add_argument("--node-cpus", type=int, default=1, help="CPUs each node declares")
    parser.add_argument("--run-cpus", type=int, default=1, help="CPUs each run asks for (MNIST_LIVE_RAY_CPUS)")
    parser.add_argument("--page-every", type=float, default=10.0, help="seconds between page loads while training")
    parser.add_argument("--skip-in-process", action="store_true")
    args = parser.parse_args(argv)

    from mnist_core.data.mnist import load_mnist
    from mnist_core.settings import TrainSettings
    from tools.local_ray import alive_hosts, start_head

    data, settings = load_mnist(), TrainSettings(epochs=args.epochs)
    page_seconds = _page_load()  # a server that has served a page: TensorFlow imported, the warm-up run done
    report: dict = {
        "sessions": args.sessions,
        "epochs": args.epochs,
        "first_page_load_seconds": round(page_seconds, 2),
        "note": "queue_wait_seconds: from Train until the run trains; on the cluster it includes starting the "
        "worker process and its TensorFlow import. page_load_seconds: the Train page's script run (AppTest) in "
        "this process, which holds every session's run, while the runs train.",
    }
    head = start_head(args.node_cpus)
    try:
        for _ in range(args.nodes - 1):
            head.add_node(args.node_cpus)
        os.environ["MNIST_LIVE_RAY_ADDRESS"] = head.address
        os.environ["MNIST_LIVE_RAY_CPUS"] = str(args.run_cpus)
        cluster = _phase(args.sessions, settings, data, args.page_every, connect=True)
        time.sleep(2.0)
        cluster |= {
            "nodes": args.nodes,
            "cpus_per_node": args.node_cpus,
            "cpus_per_run": args.run_cpus,
            "actors_left": _settled(lambda: len(alive_hosts(head))),
        }
        report["cluster"] = cluster
    finally:
        import ray

        ray.shutdown()
        head.stop()
        os.environ.pop("MNIST_LIVE_RAY_ADDRESS", None)
    if not args.skip_in_process:
        report["in_process"] = _phase(args.sessions, settings, data, args.page_every, connect=False)
    print(json.dumps(report, indent=2))
    return report


def _phase(sessions: int, settings, data, page_every: float, connect: bool) -> dict:
    from mnist_core.cluster.factory import new_job

    me = psutil.Process()
    if connect:  # the connection and the data in the object store belong to "idle": they are made once
        from mnist_core.cluster.config import cluster_config
        from mnist_core.cluster.connection import get_cluster

        get_cluster(cluster_config()).data_ref(data)
    idle = me.memory_info().rss
    started = time.monotonic()
    jobs = [new_job(settings, data) for _ in range(sessions)]
    for job in jobs:
        job.start()
    placed: dict[int, float] = {}
    worker_peak: dict[int, int] = {}
    web_peak, pages, next_page = idle, [], started + page_every
    while any(job.alive for job in jobs):
        now = time.monotonic()
        for i, job in enumerate(jobs):
            if i not in placed and job.view().status not in ("queued",):
                placed[i] = now - started
            pid = getattr(getattr(job, "placement", None), "pid", None)
            if pid is not None:
                worker_peak[i] = max(worker_peak.get(i, 0), _rss(pid))
        web_peak = max(web_peak, me.memory_info().rss)
        if now >= next_page:
            pages.append(_page_load())
            next_page = time.monotonic() + page_every
        time.sleep(0.5)
    total = time.monotonic() - started
    runs = []
    for i, job in enumerate(jobs):
        snap = job.view()
        runs.append(
            {
                "status": snap.status,
                "queue_wait_seconds": round(placed.get(i, total), 1),
                "examples_per_second": round(snap.examples_seen / snap.train_seconds) if snap.train_seconds else None,
                "where": job.where,
                **({"worker_peak_rss_mb": round(worker_peak[i] / MB)} if i in worker_peak else {}),
            }
        )
    rates = [r["examples_per_second"] for r in runs if r["examples_per_second"]]
    return {
        "seconds_until_all_finished": round(total, 1),
        "finished": sum(r["status"] == "finished" for r in runs),
        "median_examples_per_second": round(statistics.median(rates)) if rates else None,
        "web_rss_idle_mb": round(idle / MB),
        "web_rss_peak_mb": round(web_peak / MB),
        "web_rss_growth_mb": round((web_peak - idle) / MB),
        "page_load_seconds_max": round(max(pages), 2) if pages else None,
        "page_loads": len(pages),
        "runs": runs,
    }


def _page_load() -> float:
    """Seconds for the Train page's script run (AppTest: the server's part of a page load, no browser)."""
    from streamlit.testing.v1 import AppTest

    started = time.perf_counter()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if at.exception:
        raise SystemExit(f"the page failed: {at.exception}")
    return time.perf_counter() - started


def _rss(pid: int) -> int:
    try:
        return psutil.Process(pid).memory_info().rss
    except psutil.Error:
        return 0


def _settled(count, seconds: float = 30.0) -> int:
    """`count()` once it reaches 0, or after `seconds`."""
    deadline = time.monotonic() + seconds
    while (value := count()) and time.monotonic() < deadline:
        time.sleep(1.0)
    return value


if __name__ == "__main__":
    main()
