"""The web process's connection to the Ray cluster: joined once, MNIST put in its object store once.

Imported only when MNIST_LIVE_RAY_ADDRESS is set: it imports Ray.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import mnist_core
from mnist_core.cluster.config import ClusterConfig
from mnist_core.cluster.host import RunHost
from mnist_core.compat.ray_workarounds import set_ray_environment
from mnist_core.data.mnist import Mnist

set_ray_environment()

import ray  # noqa: E402 - after the settings above

NAMESPACE = "mnist-live"
PROBE_SECONDS = 3.0  # a reachable head answers a TCP connect at once
RETRY_SECONDS = 30.0  # after a failed connection, new runs train here without trying again for this long


class ClusterUnavailable(RuntimeError):
    """The configured cluster cannot be reached; the message says why, in plain words."""


@dataclass(frozen=True)
class Placement:
    """Where one run trains."""

    hostname: str
    node_ip: str
    node_id: str
    pid: int


class Cluster:
    """This process's driver connection: the actor class for runs, the data references, the runs waiting."""

    def __init__(self, config: ClusterConfig, probe: tuple[str, int] | None):
        self.config = config
        self.address = config.address
        self._probe = probe
        self._lock = threading.Lock()
        self._data: dict[int, tuple[Mnist, ray.ObjectRef]] = {}
        self._waiting: list[object] = []  # runs created but not yet placed, oldest first
        env = {
            "MNIST_LIVE_MAX_JOBS": "1",
            # TensorFlow's pools sized for the CPUs Ray gives the run, not every core of the machine.
            "TF_NUM_INTRAOP_THREADS": str(config.cpus),
            "TF_NUM_INTEROP_THREADS": str(config.cpus),
        }
        self.host_class = ray.remote(RunHost).options(num_cpus=config.cpus, runtime_env={"env_vars": env})

    def data_ref(self, data: Mnist) -> ray.ObjectRef:
        """`data` in the object store, put there once; workers on a machine share one copy of it."""
        with self._lock:
            held = self._data.get(id(data))
            if held is None:
                held = self._data[id(data)] = (data, ray.put(data))
            return held[1]

    def reachable(self) -> str:
        """'' when the cluster answers now, else why not (cheap: a TCP connect to its head)."""
        return _probe(self._probe) if self._probe else ""

    # --- the runs waiting for a worker, in order, as far as this process knows ---
    def wait_in_line(self, run: object) -> None:
        with self._lock:
            self._waiting.append(run)

    def leave_line(self, run: object) -> None:
        with self._lock:
            if run in self._waiting:
                self._waiting.remove(run)

    def position(self, run: object) -> int:
        """1 for the oldest of this server's runs waiting for a worker; 0 when `run` is not waiting."""
        with self._lock:
            return self._waiting.index(run) + 1 if run in self._waiting else 0


_lock = threading.Lock()
_cluster: Cluster | None = None
_failed: dict[str, tuple[float, str]] = {}  # address: when the last attempt failed, and why


def get_cluster(config: ClusterConfig) -> Cluster:
    """The connection for `config`, made on first use; ClusterUnavailable when the cluster cannot be reached."""
    global _cluster
    with _lock:
        if _cluster is not None and _cluster.address == config.address:
            problem = _cluster.reachable()
            if problem:
                raise ClusterUnavailable(problem)
            if ray.is_initialized():
                return _cluster
            _cluster = None  # a Ray Client connection the cluster dropped: join it again
        failed = _failed.get(config.address)
        if failed is not None and time.monotonic() - failed[0] < RETRY_SECONDS:
            raise ClusterUnavailable(failed[1])
        try:
            if _cluster is not None:  # Ray joins one cluster per process
                problem = _probe(_probe_address(config.address) or ("", 0))
                raise ClusterUnavailable(problem or f"this server is connected to {_cluster.address}; restart it")
            _cluster = _connect(config)
        except ClusterUnavailable as exc:
            _failed[config.address] = (time.monotonic(), str(exc))
            raise
        _failed.pop(config.address, None)
        return _cluster


def _connect(config: ClusterConfig) -> Cluster:
    address = config.address
    if config.note:
        logging.getLogger(__name__).warning(config.note)
    probe = _probe_address(address)
    if probe is not None:
        problem = _probe(probe)
        if problem:
            raise ClusterUnavailable(problem)
    # The package travels with the connection: workers need the same requirements, not this checkout.
    runtime_env = {"py_modules": [str(Path(mnist_core.__file__).parent)]}
    try:
        ray.init(
            address=address,
            namespace=NAMESPACE,
            runtime_env=runtime_env,
            log_to_driver=False,
            ignore_reinit_error=True,
            logging_level="WARNING",
        )
    except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError, ...: all mean "not reachable"
        raise ClusterUnavailable(f"connecting to it failed ({type(exc).__name__}: {_short(exc)})") from exc
    if probe is None and not address.startswith("ray://"):
        probe = _probe_address(ray.get_runtime_context().gcs_address)
    return Cluster(config, probe)


def _probe_address(address: str) -> tuple[str, int] | None:
    """The (host, port) to test an address with; None for "auto" (Ray finds the local head itself)."""
    rest = address.removeprefix("ray://")
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _probe(probe: tuple[str, int]) -> str:
    host, port = probe
    try:
        with socket.create_connection((host, port), timeout=PROBE_SECONDS):
            return ""
    except OSError as exc:
        return f"nothing answers at {host}:{port} ({exc.strerror or type(exc).__name__})"


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:200] + "…"
