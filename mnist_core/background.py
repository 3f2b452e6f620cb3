"""Work that runs in its own daemon thread and is steered from the page through a lock-protected state."""

from __future__ import annotations

import threading


class BackgroundWork:
    """Start, pause, resume, stop and join a daemon thread running `self._run`.

    Subclasses set `self.state` (with request_pause, request_resume and request_stop) before start.
    """

    def __init__(self, thread_name: str):
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def pause(self) -> None:
        self.state.request_pause()

    def resume(self) -> None:
        self.state.request_resume()

    def stop(self) -> None:
        self.state.request_stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
