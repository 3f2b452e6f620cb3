"""A session's work ends with the session (ui.lifecycle): the release timing, real threads ending, objects freed."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.runtime.queue import JobQueue, get_queue
from mnist_core.settings import TrainSettings, default_optimizer
from mnist_core.training.contestants import Contestant
from mnist_core.training.job import TrainingJob
from mnist_core.training.model_pool import ModelPool
from mnist_core.training.race import Race
from tests.conftest import wait_until
from ui.lifecycle import SessionOwner, work_threads
from ui.queue_note import ordinal

pytestmark = pytest.mark.timeout(300)


class FakeWork:
    def __init__(self):
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True

    def join(self, timeout: float | None = None) -> bool:
        return self.stopped


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Timers:
    """Records the timers an owner arms; `fire` runs the due ones, as the real daemon timers would."""

    def __init__(self, clock: Clock):
        self.clock, self.pending = clock, []

    def __call__(self, delay: float, action) -> None:
        self.pending.append((self.clock.now + delay, action))

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        due = [a for t, a in self.pending if t <= self.clock.now]
        self.pending = [(t, a) for t, a in self.pending if t > self.clock.now]
        for action in due:
            action()


def _owner(active: list[bool], grace: float = 10.0):
    clock = Clock()
    timers = Timers(clock)
    forgotten = []
    owner = SessionOwner(
        "session-1",
        grace,
        lambda: active[0],
        lambda: forgotten.append(1),
        timer=timers,
        clock=clock,
        join_seconds=1,
        settle_seconds=(),
    )
    work = FakeWork()
    owner.adopt("job", work)
    return owner, work, timers, forgotten


def test_a_closed_tab_stops_the_work_once_the_session_cannot_come_back():
    active = [True]
    owner, work, timers, forgotten = _owner(active)
    active[0] = False
    owner.disconnected()
    timers.advance(9.9)
    assert not work.stopped and not owner.closed  # still resumable: a network blip must not kill the run
    timers.advance(0.2)
    assert work.stopped and owner.closed and forgotten == [1]
    with pytest.raises(RuntimeError):
        owner.adopt("job", FakeWork())
    assert owner.close("again") == {}  # closing twice does nothing


def test_a_session_that_comes_back_keeps_its_work():
    active = [True]
    owner, work, timers, _ = _owner(active)
    active[0] = False
    owner.disconnected()
    timers.advance(5)
    active[0] = True
    owner.connected()  # the resumed session's rerun arms the hook again
    timers.advance(60)
    assert not work.stopped and not owner.closed and not timers.pending


def test_a_run_still_in_flight_when_the_tab_closed_does_not_cancel_the_release():
    active = [False]
    owner, work, timers, _ = _owner(active)
    owner.disconnected()
    owner.connected()  # the script run that was going on re-arms the hook, but the runtime knows better
    timers.advance(10.1)
    assert work.stopped


def test_a_session_back_without_a_rerun_is_watched_until_it_goes_for_good():
    active = [False]
    owner, work, timers, _ = _owner(active)
    owner.disconnected()
    timers.advance(3)
    active[0] = True  # resumed, but no page armed the hook again
    timers.advance(7.1)
    assert not work.stopped and timers.pending  # it looks again later
    timers.advance(10)
    assert not work.stopped
    active[0] = False  # gone again: the first look that notices starts a whole grace period
    timers.advance(10)
    assert not work.stopped
    timers.advance(10)
    assert work.stopped


def test_a_second_disconnection_gets_its_own_full_grace_period():
    active = [False]
    owner, work, timers, _ = _owner(active)
    owner.disconnected()
    timers.advance(4)
    active[0] = True
    owner.connected()
    timers.advance(2)
    active[0] = False
    owner.disconnected()  # at t=6: the first timer (due at t=10) is void
    timers.advance(4.5)
    assert not work.stopped
    timers.advance(6)
    assert work.stopped


# --- real threads and real objects ---


def _real_owner(settle_seconds: tuple[float, ...] = (1.0,)) -> SessionOwner:
    return SessionOwner("session-real", 0.2, lambda: False, join_seconds=60, settle_seconds=settle_seconds)


def _train_then_end_the_session(tiny, before: list[str]) -> tuple[weakref.ref, ...]:
    owner = _real_owner()
    # A pool that keeps no model: the process's keeps a few ended jobs' models, on purpose and bounded.
    job = TrainingJob(TrainSettings(batch_size=50, epochs=100, seed=0), tiny, pool=ModelPool(0))
    owner.adopt("job", job)
    job.start()
    wait_until(lambda state=job.state: state.view().examples_seen > 0)
    refs = weakref.ref(job), weakref.ref(job.state), weakref.ref(job.model)
    del job  # only the owner holds it now, as only the session's state would
    owner.disconnected()
    assert owner.released.wait(60)
    assert work_threads() == before
    return refs


def _collected(refs) -> bool:
    gc.collect()
    return all(ref() is None for ref in refs)


def test_a_training_job_of_an_ended_session_stops_and_can_be_collected(tiny):
    refs = _train_then_end_the_session(tiny, work_threads())
    # Job, state, model: nothing global holds them (TensorFlow lets go of the model a moment after the thread).
    wait_until(lambda: _collected(refs), timeout=30, step=0.5)


def test_a_queued_job_and_a_race_of_an_ended_session_stop_at_once(tiny):
    slots = JobQueue(1)
    blocker = slots.enqueue("someone else")
    owner = _real_owner(settle_seconds=())
    job = TrainingJob(TrainSettings(batch_size=50, epochs=1, seed=0), tiny, queue=slots)
    race = Race([Contestant("SGD", default_optimizer("sgd"))], tiny, budget_examples=1_000_000, queue=slots)
    owner.adopt("job", job)
    owner.adopt("race", race)
    job.start()
    race.start()
    assert (job.state.view().queue_position, race.view().queue_position) == (1, 2)
    started = time.monotonic()
    assert owner.close("test") == {"job": True, "race": True}
    assert time.monotonic() - started < 5
    assert job.state.view().status == race.view().status == "stopped"
    assert (slots.running_count, slots.queued_count) == (1, 0)  # only the other session's ticket is left
    slots.release(blocker)


def test_a_running_race_of_an_ended_session_stops(tiny):
    owner = _real_owner()
    contestants = [Contestant("SGD", default_optimizer("sgd")), Contestant("Adam", default_optimizer("adam"))]
    race = Race(contestants, tiny, budget_examples=1_000_000, eval_every_examples=500)
    owner.adopt("race", race)
    race.start()
    wait_until(lambda state=race.state: state.view().status == "running")
    race_ref = weakref.ref(race)
    del race
    owner.disconnected()
    assert owner.released.wait(60)
    assert not [name for name in work_threads() if name == "mnist-live-race"]
    gc.collect()
    assert race_ref() is None


# --- the Streamlit glue: the session-scoped resource's release starts it all ---


def _script():
    import streamlit as st

    from tests.test_lifecycle import FakeWork
    from ui.lifecycle import session_owner

    if "work" not in st.session_state:
        st.session_state["work"] = FakeWork()
        session_owner().adopt("job", st.session_state["work"])
    session_owner()
    st.write("ok")


def test_releasing_the_session_resources_ends_the_session_work(monkeypatch):
    from streamlit.runtime.caching import clear_session_resource_cache

    import ui.lifecycle

    monkeypatch.setattr(ui.lifecycle, "_grace", lambda: 0.2)
    monkeypatch.setattr(ui.lifecycle, "_session_is_active", lambda session_id: lambda: False)
    at = AppTest.from_function(_script, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    at.run()  # later runs reuse the owner and its hook
    owner, work = at.session_state["session_owner"], at.session_state["work"]
    assert not owner.closed
    clear_session_resource_cache(owner.session_id)  # what Streamlit does when the websocket closes
    assert owner.released.wait(30)
    assert work.stopped
    assert "work" not in at.session_state and "session_owner" not in at.session_state  # the state is dropped
    # Timers of sessions other tests left behind may still wait out their grace: only this owner's must be gone.
    wait_until(lambda: not _release_timers(owner), timeout=30)


class FakeState(dict):
    """SafeSessionState's part that forget uses: its keys, and deleting them."""

    @property
    def filtered_state(self) -> dict:
        return dict(self)


@pytest.fixture
def server_loop(monkeypatch):
    """A running event loop in a thread, as the server's, and a runtime whose close_session records its thread."""
    from streamlit import runtime

    import ui.lifecycle

    closed: list[tuple[str, threading.Thread]] = []

    class FakeRuntime:
        def close_session(self, session_id: str) -> None:
            closed.append((session_id, threading.current_thread()))

    monkeypatch.setattr(runtime, "exists", lambda: True)
    monkeypatch.setattr(runtime, "get_instance", lambda: FakeRuntime())
    monkeypatch.setattr(ui.lifecycle, "_server_loop", ui.lifecycle._ServerLoop())
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="server-loop", daemon=True)
    thread.start()
    yield loop, thread, closed
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_a_forgotten_session_is_shut_down_on_the_server_loop(server_loop):
    import ui.lifecycle

    loop, thread, closed = server_loop

    async def release_hook() -> None:  # Streamlit calls the release hook on its event loop
        ui.lifecycle._released(SessionOwner("s1", grace=60, is_active=lambda: False, timer=lambda delay, action: None))

    asyncio.run_coroutine_threadsafe(release_hook(), loop).result(5)
    state = FakeState(job="a model", settings="some settings")
    ui.lifecycle._forget_session("s1", state)()  # from the release timer's thread
    assert not state  # the state goes at once
    wait_until(lambda: closed, timeout=5)
    assert closed == [("s1", thread)]  # Runtime.close_session runs on the loop thread only


def test_without_a_loop_seen_forgetting_clears_the_state_only(server_loop):
    import ui.lifecycle

    _, _, closed = server_loop
    state = FakeState(job="a model")
    ui.lifecycle._forget_session("s2", state)()
    time.sleep(0.2)
    assert not state and not closed


# --- the queue on the pages (AppTest; the process-wide slots filled by other "sessions") ---

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


@pytest.fixture
def full_slots(monkeypatch):
    """Every process-wide slot taken by someone else; given back after the test."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):  # pages through st.navigation from the first run, as in tests/test_app.py
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
    slots = get_queue()
    blockers = [slots.enqueue("another session") for _ in range(slots.limit)]
    yield slots
    for ticket in blockers:
        slots.release(ticket)


def _button(at: AppTest, label: str, key: str | None = None):
    return next(b for b in at.button if b.label == label and (key is None or b.key == key))


def test_a_queued_job_shows_its_place_and_stops_at_once(full_slots):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    _button(at, "Train").click().run()
    assert not at.exception, at.exception
    job = at.session_state["job"]
    assert job.state.view().status == "queued"
    text = at.get("progress")[0].proto.text
    assert f"Waiting for a training slot: 1st in line (this server trains at most {full_slots.limit} at once)" in text
    assert _button(at, "Pause").disabled and not _button(at, "Stop").disabled
    _button(at, "Stop").click().run()
    assert job.join(timeout=5)
    assert job.state.view().status == "stopped" and full_slots.queued_count == 0
    at.run()
    assert not at.exception and "Stopped" in at.get("progress")[0].proto.text


def test_a_queued_race_shows_its_place_and_stops_at_once(full_slots):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/compare.py").run()
    _button(at, "Start race").click().run()
    assert not at.exception, at.exception
    race = at.session_state["race"]
    assert race.view().status == "queued"
    assert "Waiting for a training slot: 1st in line" in at.get("progress")[0].proto.text
    assert any("training job on the Train page" in c.value for c in at.caption)
    assert _button(at, "Pause", "race_pause").disabled
    _button(at, "Stop", "race_stop").click().run()
    assert race.join(timeout=5)
    assert race.view().status == "stopped" and full_slots.queued_count == 0


def test_ordinals():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th",
    ]  # fmt: skip


def test_a_dropped_work_is_not_stopped_again_at_the_end():
    owner, work, timers, _ = _owner([False])
    owner.drop("job")  # the page stopped and discarded it (Reset)
    owner.disconnected()
    timers.advance(10.1)
    assert owner.closed and not work.stopped


def test_download_callables_hold_the_job_weakly(tiny):
    from ui.session import metrics_file, model_file

    job = TrainingJob(TrainSettings(batch_size=50, epochs=1, seed=0), tiny)
    job.start()
    assert job.join(timeout=200)
    model, metrics = model_file(job), metrics_file(job)
    assert model()[:2] == b"PK" and "examples_seen" in metrics()  # a .keras file is a zip
    ref = weakref.ref(job)
    del job
    wait_until(lambda: _collected([ref]), timeout=30, step=0.5)
    with pytest.raises(RuntimeError, match="discarded"):
        metrics()


def _release_timers(owner) -> list[threading.Thread]:
    """Alive release timers whose action belongs to `owner` (its lambda closes over the owner)."""
    return [
        t
        for t in threading.enumerate()
        if t.name == "session-release"
        and any(
            cell.cell_contents is owner for cell in getattr(getattr(t, "function", None), "__closure__", None) or ()
        )
    ]
