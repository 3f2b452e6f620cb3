"""The cluster settings, from the environment: where the Ray cluster is and how many CPUs each run asks for."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from mnist_core.runtime.threads import shown_env, whole_number

ADDRESS_ENV = "MNIST_LIVE_RAY_ADDRESS"
CPUS_ENV = "MNIST_LIVE_RAY_CPUS"
DEFAULT_CPUS = 2
MAX_CPUS = 256


@dataclass(frozen=True)
class ClusterConfig:
    address: str  # "auto", "host:port" or "ray://host:port"
    cpus: int  # CPUs each run asks Ray for
    note: str = ""  # why a set MNIST_LIVE_RAY_CPUS was not used


def cluster_config(environ: Mapping[str, str] | None = None) -> ClusterConfig | None:
    """The configured cluster, or None when MNIST_LIVE_RAY_ADDRESS is unset or blank (train in this process)."""
    environ = os.environ if environ is None else environ
    address = (environ.get(ADDRESS_ENV) or "").strip()
    if not address:
        return None
    raw = environ.get(CPUS_ENV)
    if raw is None or not raw.strip():
        return ClusterConfig(address, DEFAULT_CPUS)
    value = whole_number(raw)
    if value is None or not 1 <= value <= MAX_CPUS:
        note = f"{shown_env(CPUS_ENV, raw)} is not a whole number from 1 to {MAX_CPUS}; using {DEFAULT_CPUS}."
        return ClusterConfig(address, DEFAULT_CPUS, note)
    return ClusterConfig(address, value)
