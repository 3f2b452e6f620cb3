"""The page's handle on a run: the daemon thread that owns it, its state, and the listeners told when it ends.

A run in this process (mnist_core.training.run.BackgroundRun) and one on the cluster (its proxy here,
mnist_core.cluster.remote.RemoteRun, whose thread follows the actor) are both read through one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Self

_LOG = logging.getLogger(__name__)


class RunHandle:
    """A daemon thread running `self._main`, and view, weights, join and alive of what it does.

    Subclasses set `self.state` (with view() and weights()) before the page reads it, write `_main`, start
    `self._thread`, and call `self._ended()` last in `_main`, however the run ends.
    """

    def __init__(self, thread_name: str):
        self._on_end: list[Callable[[Self], None]] = []
        self._thread = threading.Thread(target=self._main, name=thread_name, daemon=True)

    def _main(self) -> None:
        raise NotImplementedError

    def on_end(self, callback: Callable[[Self], None]) -> None:
        """Call `callback(self)` in the run's thread once it has ended (finished, stopped, diverged or failed)."""
        self._on_end.append(callback)

    def _ended(self) -> None:
        for callback in self._on_end:
            try:
                callback(self)
            except Exception:  # noqa: BLE001 - a listener (e.g. the run store) must not break the run's end
                _LOG.exception("an end callback of %s failed", self._thread.name)

    def view(self):
        """A consistent copy of the run's state, for the page (a RunView; a race's is a RaceView)."""
        return self.state.view()

    def weights(self) -> tuple[int, list | None]:
        """The last published weights with their version (0, None before any)."""
        return self.state.weights()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
