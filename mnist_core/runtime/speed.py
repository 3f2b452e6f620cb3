"""This server's measured training speed for the default run, for the Train page's promise."""

from __future__ import annotations

import threading


class ServerSpeed:
    """The last measured examples/s of the default network and batch size (None until something measured it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._examples_per_second: float | None = None
        self._source = ""

    def record(self, examples_per_second: float | None, source: str) -> None:
        """Keep a measurement; `source` says where it came from ("the warm-up", "a finished run")."""
        if examples_per_second is None or not examples_per_second > 0:
            return
        with self._lock:
            self._examples_per_second, self._source = float(examples_per_second), source

    def current(self) -> tuple[float | None, str]:
        with self._lock:
            return self._examples_per_second, self._source


_SPEED = ServerSpeed()


def server_speed() -> ServerSpeed:
    """The process-wide record."""
    return _SPEED
