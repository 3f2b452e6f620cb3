"""A run: work in its own daemon thread, steered from the page through its lock-protected state."""

from __future__ import annotations

from mnist_core.runtime.queue import JobQueue, Ticket, get_queue
from mnist_core.training.handle import RunHandle
from mnist_core.training.status import Status

QUEUE_STOP_MESSAGE = "Stopped before it started: it was waiting for a free training slot."


class BackgroundRun(RunHandle):
    """Start, pause, resume and stop a RunHandle's daemon thread running `self._run` in one of the process's slots.

    Subclasses set `self.state` (with request_pause, request_resume, request_stop, stop_requested,
    set_queue_position and set_status) before start. The thread first waits its turn for a slot in `queue`
    (the process-wide job queue by default), reporting its place in line through `state.set_queue_position`, and
    gives the slot back however `_run` ends.

    A paused job keeps its slot: its model and optimizer state live in the paused thread, so it uses memory but
    no CPU, and giving the slot up would send Resume to the back of the line behind jobs that started later.
    """

    where = "on this server"  # the page's line saying where the run trains (a cluster run names its machine)
    notice = ""  # why it trains here although a cluster is configured (mnist_core.cluster.factory)
    lost = False  # only a cluster run loses the machine training it; one here ends with the server

    def __init__(self, thread_name: str, queue: JobQueue | None = None):
        self._queue = queue if queue is not None else get_queue()
        self._ticket: Ticket | None = None
        super().__init__(thread_name)

    def _run(self) -> None:
        raise NotImplementedError

    def _stopped_in_queue(self) -> None:
        self.state.set_status(Status.STOPPED, QUEUE_STOP_MESSAGE)

    def start(self) -> None:
        if self._ticket is not None:
            raise RuntimeError("background work can only be started once")
        ticket = self._queue.enqueue(self._thread.name)
        self._ticket = ticket
        # Before the thread starts, so the page that pressed Train already sees its place in line.
        self.state.set_queue_position(self._queue.position(ticket) or 0)
        try:
            self._thread.start()
        except BaseException:
            self._queue.release(ticket)
            raise

    def _main(self) -> None:
        ticket, state = self._ticket, self.state
        try:
            granted = self._queue.wait(ticket, lambda: state.stop_requested, on_position=state.set_queue_position)
            if granted and not state.stop_requested:
                self._run()  # reports its own failures in the state
            else:
                self._stopped_in_queue()
        except Exception as exc:  # noqa: BLE001 - the page shows it; the thread must not die silently
            state.set_status(Status.ERROR, f"Waiting for a training slot failed: {type(exc).__name__}: {exc}")
        finally:
            self._queue.release(ticket)
            self._ended()

    def _release_slot(self) -> None:
        """Give the training slot to the next run in line now; the rest of `_run` must not train."""
        if self._ticket is not None:
            self._queue.release(self._ticket)

    def pause(self) -> None:
        self.state.request_pause()

    def resume(self) -> None:
        self.state.request_resume()

    def stop(self) -> None:
        self.state.request_stop()
        if self._ticket is not None:
            self._queue.withdraw(self._ticket)  # a waiting job leaves the line now, not at its next poll

    @property
    def queue(self) -> JobQueue:
        return self._queue
