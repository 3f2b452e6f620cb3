"""A session's training job and race end with the session: stopped, joined and forgotten once its page is gone.

Streamlit (1.67) clears a session's `scope="session"` resources the moment its websocket closes (a closed tab,
but also a network blip) and keeps the session itself resumable for `server.disconnectedSessionTTL` seconds.
So the release hook stops nothing at once: it starts a timer, and when the timer fires after the TTL (plus a
margin) and the runtime confirms that the session never came back, the owner stops the work, waits for its
threads to end, clears the session's state and has the runtime shut the session down. Both matter: Streamlit
never shuts down a session that timed out; it only drops it from its session storage at some later write
there, and until then the session (its state, its fragments and the page namespace they see, which hold its
models) stays in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import threading
import time
from collections.abc import Callable
from typing import Protocol

import streamlit as st
from streamlit.logger import get_logger

from mnist_core.runtime.memory import release_free_memory
from ui.streamlit_workarounds import current_session, session_closer, session_is_active, session_keys

OWNER = "session_owner"
GRACE_MARGIN = 5.0  # seconds after the TTL, so a session resumed at its last moment has time to rerun
JOIN_SECONDS = 60.0  # a job notices a stop within a batch, or an epoch-end evaluation (a few seconds)
SETTLE_SECONDS = (3.0, 10.0)  # pauses before the later collections of a stopped session's models
WORK_THREAD_PREFIX = "mnist-live-"  # TrainingJob's "mnist-live-training", Race's "mnist-live-race"

_log = get_logger(__name__)


class Work(Protocol):
    """What the owner needs of a TrainingJob or a Race (mnist_core.training.run.BackgroundRun)."""

    def stop(self) -> None: ...

    def join(self, timeout: float | None = None) -> bool: ...


TimerFactory = Callable[[float, Callable[[], None]], object]


def _daemon_timer(delay: float, action: Callable[[], None]) -> threading.Timer:
    timer = threading.Timer(delay, action)
    timer.name, timer.daemon = "session-release", True
    timer.start()
    return timer


def work_threads() -> list[str]:
    """Names of the training and race threads alive in this process."""
    return [t.name for t in threading.enumerate() if t.name.startswith(WORK_THREAD_PREFIX)]


class SessionOwner:
    """One session's background work and whether its page is still there, under one lock.

    Touched by the script thread (adopt, connected), Streamlit's event loop (disconnected, from on_release) and
    the release timer (check, close). `is_active` asks the runtime whether the session has a live connection;
    `forget` drops the session's state.
    """

    _ids = itertools.count(1)

    def __init__(
        self,
        session_id: str,
        grace: float,
        is_active: Callable[[], bool],
        forget: Callable[[], None] = lambda: None,
        *,
        timer: TimerFactory = _daemon_timer,
        clock: Callable[[], float] = time.monotonic,
        join_seconds: float = JOIN_SECONDS,
        settle_seconds: tuple[float, ...] = SETTLE_SECONDS,
    ):
        self.id = next(SessionOwner._ids)
        self.session_id = session_id
        self.grace = grace
        self._is_active, self._forget = is_active, forget
        self._timer, self._clock = timer, clock
        self._join_seconds, self._settle_seconds = join_seconds, settle_seconds
        self._lock = threading.Lock()
        self._works: dict[str, Work] = {}
        self._generation = 0  # bumped by every (dis)connection: a timer armed before it is obsolete
        self._gone_since: float | None = None
        self._closed = False
        self.released = threading.Event()  # set once close has stopped, joined and forgotten everything

    @property
    def closed(self) -> bool:
        with self._lock:
            return self._closed

    def adopt(self, role: str, work: Work) -> None:
        """Own `work` as the session's `role` ("job", "race"), replacing (not stopping) the previous one."""
        with self._lock:
            if self._closed:
                raise RuntimeError("this session has ended")
            self._works[role] = work

    def drop(self, role: str) -> None:
        """Forget the session's `role` work (stopped by the page, e.g. Reset), so that it can be collected."""
        with self._lock:
            self._works.pop(role, None)

    def connected(self) -> None:
        """A script run armed the release hook: any pending release is void, if the session is really back."""
        # A run still in flight when the tab closed re-arms the hook too; the runtime knows it is not back.
        if not self._is_active():
            return
        with self._lock:
            self._generation += 1
            self._gone_since = None

    def disconnected(self) -> None:
        """The release hook fired (the websocket closed): check again once the session can no longer resume."""
        with self._lock:
            if self._closed:
                return
            self._generation += 1
            self._gone_since = self._clock()
            generation = self._generation
        self._timer(self.grace, lambda: self.check(generation))

    def check(self, generation: int) -> None:
        """The release timer: close the session if it has been gone for the whole grace period, else look again."""
        active = self._is_active()  # outside the lock: it asks the runtime
        with self._lock:
            if self._closed or generation != self._generation:
                return  # closed already, or a newer (dis)connection armed its own timer
            now = self._clock()
            if active:
                # Back without rerunning a page that arms the hook: keep watching, at a relaxed pace.
                self._gone_since, delay = None, self.grace
            elif self._gone_since is None:
                self._gone_since, delay = now, self.grace
            else:
                delay = self._gone_since + self.grace - now
            gone = now - (self._gone_since or now)
        if active or delay > 0:
            self._timer(delay, lambda: self.check(generation))
            return
        self.close(f"its page has been gone for {gone:.0f} s")

    def close(self, reason: str) -> dict[str, bool]:
        """Stop every owned work, wait for its thread, forget the session's state; each role: did its thread end."""
        with self._lock:
            if self._closed:
                return {}
            self._closed, works = True, dict(self._works)
            self._works.clear()
            self._generation += 1
            forget, self._forget = self._forget, lambda: None
        for work in works.values():
            work.stop()  # all first: a queued one leaves the line at once and lets no other wait for it
        ended = {role: work.join(self._join_seconds) for role, work in works.items()}
        del works
        try:
            forget()
        except Exception:  # noqa: BLE001 - the work has stopped anyway; say why the state may linger
            _log.exception("Session %s ended, but its state could not be dropped.", self.session_id[:8])
        # The server turns off Streamlit's collection after each script run (runner.postScriptGC), so the
        # models' reference cycles would wait for Python's own thresholds: collect now, and again later, as
        # TensorFlow lets go of a stopped model's traced functions only some time after its thread ends.
        gc.collect()
        stopped = ", ".join(f"{role} ({'ended' if done else 'STILL RUNNING'})" for role, done in ended.items())
        _log.info(
            "Session %s ended (%s): stopped %s; %d training thread(s) left in the process.",
            self.session_id[:8],
            reason,
            stopped or "nothing",
            len(work_threads()),
        )
        for pause in self._settle_seconds:
            time.sleep(pause)
            gc.collect()
            release_free_memory()
        self.released.set()
        return ended


# --- Streamlit glue: one owner per session, and the session-scoped resource whose release starts the timer ---


def _session_is_active(session_id: str) -> Callable[[], bool]:
    return lambda: session_is_active(session_id)


class _ServerLoop:
    """The server's event loop, as seen by the release hook (which Streamlit calls on it)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def note(self) -> None:
        with contextlib.suppress(RuntimeError), self._lock:  # RuntimeError: not on a running loop (tests)
            self._loop = asyncio.get_running_loop()

    def call(self, action: Callable[..., None], *args) -> bool:
        """Run `action(*args)` on the loop soon; False if no loop has been seen or it has closed."""
        with self._lock:
            loop = self._loop
        if loop is None or loop.is_closed():
            return False
        loop.call_soon_threadsafe(action, *args)
        return True


_server_loop = _ServerLoop()


def _forget_session(session_id: str, state) -> Callable[[], None]:
    """Delete every key of a session's state, then have the runtime shut the session down.

    Deleting the keys (SafeSessionState: thread-safe) frees the models at once. Shutting down drops what the
    keys do not reach: the session's fragments and the page namespace they keep, its media and uploaded files.
    Streamlit itself only forgets a timed-out session later, without shutting it down.
    """

    def forget() -> None:
        for key in session_keys(state):
            with contextlib.suppress(Exception):  # a key may be a widget's, or vanish meanwhile
                del state[key]
        close = session_closer()
        if close is not None:  # Runtime.close_session must run on the event loop thread
            _server_loop.call(close, session_id)

    return forget


def _grace() -> float:
    return float(st.get_option("server.disconnectedSessionTTL")) + GRACE_MARGIN


def _released(owner: SessionOwner) -> None:
    _server_loop.note()
    owner.disconnected()


@st.cache_resource(scope="session", on_release=_released, show_spinner=False)
def _release_hook(owner_id: int, _owner: SessionOwner) -> SessionOwner:
    # Keyed by the owner's id (the owner itself is not hashed): a new owner gets a hook of its own.
    _owner.connected()
    return _owner


def session_owner() -> SessionOwner:
    """This session's owner, with its release hook armed for the current connection."""
    owner = st.session_state.get(OWNER)
    if owner is None or owner.closed:
        session, state = current_session()
        forget = _forget_session(session, state)
        owner = SessionOwner(session, _grace(), _session_is_active(session), forget)
        st.session_state[OWNER] = owner
    _release_hook(owner.id, owner)
    return owner
