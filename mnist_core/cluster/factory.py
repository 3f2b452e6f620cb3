"""Where a new run trains: in this process (the default), or on the Ray cluster MNIST_LIVE_RAY_ADDRESS names.

The one place that decides; the pages call `new_job` and `new_race` and drive whatever comes back through the
same interface. With the variable unset, Ray is not even imported.
"""

from __future__ import annotations

import logging

from mnist_core.cluster.config import cluster_config

_log = logging.getLogger(__name__)


def _cluster():
    """(the connected cluster, '') or (None, why not); (None, '') when none is configured."""
    config = cluster_config()
    if config is None:
        return None, ""
    from mnist_core.cluster.connection import ClusterUnavailable, get_cluster

    try:
        return get_cluster(config), ""
    except ClusterUnavailable as exc:
        _log.warning("The Ray cluster at %s cannot be reached: %s", config.address, exc)
        return None, f"The Ray cluster at {config.address} cannot be reached ({exc}): this run trains on this server."


def new_job(settings, data, layers=None, **options):
    """A TrainingJob, or its cluster proxy; `options` as TrainingJob takes them (initial_weights, history, ...)."""
    cluster, notice = _cluster()
    if cluster is not None:
        from mnist_core.cluster.remote import RemoteJob

        cluster_options = {k: options.pop(k) for k in ("initial_weights", "history", "extra") if k in options}
        return RemoteJob(cluster, settings, data, layers, **cluster_options)
    from mnist_core.training.job import TrainingJob

    return _noted(TrainingJob(settings, data, layers, **options), notice)


def new_race(contestants, data, layers=None, *args, **options):
    """A Race, or its cluster proxy; arguments as Race takes them."""
    cluster, notice = _cluster()
    if cluster is not None:
        from mnist_core.cluster.remote import RemoteRace

        return RemoteRace(cluster, contestants, data, layers, *args, **options)
    from mnist_core.training.race import Race

    return _noted(Race(contestants, data, layers, *args, **options), notice)


def _noted(run, notice: str):
    if notice:
        run.notice = notice
        run.where = "on this server (the cluster cannot be reached)"
    return run
