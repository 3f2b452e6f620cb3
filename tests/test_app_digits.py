"""The Draw page's "Right" / "It is a …" buttons and digit keys, and the My digits page, through AppTest.

The drawing pad is replaced by what a browser sends (as in tests/test_drawing_pad.py); the run store is a
real SQLite file per test.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from mnist_core.store import RunStore
from mnist_core.store.config import sqlite_url
from tests.conftest import BROKEN_STORE, REPO
from ui import drawing_pad as pad
from ui.digits import WHERE
from ui.markdown import escape_markdown

pytestmark = pytest.mark.timeout(600)
APP = str(REPO / "streamlit_app.py")


@pytest.fixture(autouse=True)
def _navigation_pages_only(monkeypatch):
    """As in tests/test_app.py: pages run through st.navigation from the first pass, so clicks are not lost."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def _url(image: np.ndarray) -> str:
    import base64

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _seven(size: int = 280) -> np.ndarray:
    image = np.zeros((size, size, 4), np.uint8)
    image[..., 3] = 255
    image[50:75, 60:220, :3] = 255  # the top bar
    for row in range(75, 240):  # the leg, down to the left
        col = int(220 - (row - 75) * 0.55)
        image[row, col - 12 : col + 12, :3] = 255
    return image


@pytest.fixture
def sent(monkeypatch):
    """What the browser's pad sends; a test changes it between runs."""
    value = {"drawing": {"png": _url(_seven()), "strokes": 2}}
    monkeypatch.setattr(pad, "_component", lambda: lambda **kwargs: dict(value))
    return value


def _draw_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/draw.py").run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


def _saved(path) -> list:
    store = RunStore(sqlite_url(path), retry_seconds=0)
    try:
        return [(d.owner, d.label, d.source) for owner in _owners(path) for d in store.digits.digits(owner)]
    finally:
        store.dispose()


def _owners(path) -> list[str]:
    import sqlite3

    with sqlite3.connect(path) as connection:
        owners = [row[0] for row in connection.execute("SELECT DISTINCT owner FROM mnist_live_digits")]
    connection.close()
    return owners


def _big_answer(at: AppTest) -> int:
    body = next(h.proto.body for h in at.get("html") if "confident" in h.proto.body)
    return int(body.split('line-height:1">')[1][0])


def test_right_then_it_is_a_then_a_digit_key_label_one_drawing_once(sent, runs_file):
    at = _draw_page()
    predicted = _big_answer(at)
    _button(at, "draw_right").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == [f"Saved as a {predicted}."]
    assert [t.value for t in at.toast] == [WHERE]
    _button(at, "draw_is_3").click().run()
    assert [s.value for s in at.success] == ["Relabelled: saved as a 3."] and not at.toast  # the notice came once
    _button(at, "draw_is_3").click().run()  # again, at once: nothing new is written
    sent["label"] = 5  # the digit key 5, sent by the pad once
    at.run()
    sent.pop("label")
    assert [s.value for s in at.success] == ["Relabelled: saved as a 5."]
    at.run()  # a later rerun does not press the key again
    [(owner, label, source)] = _saved(runs_file)
    assert owner.startswith("browser:") and (label, source) == (5, "drawn")


@pytest.mark.parametrize("key", [12, -1, "7", True, None, [3], {"x": 1}, 3.5])
def test_a_digit_key_value_that_is_not_a_digit_is_ignored(sent, runs_file, key):
    at = _draw_page()
    sent["label"] = key
    at.run()
    assert not at.exception and not at.error, (at.exception, at.error)
    assert not at.success and (not runs_file.exists() or _saved(runs_file) == [])


def test_a_blank_pad_offers_no_buttons_and_saves_nothing(sent, runs_file):
    sent["drawing"] = None
    sent["label"] = 4
    at = _draw_page()
    assert not any(b.key == "draw_right" for b in at.button)
    assert not at.exception and (not runs_file.exists() or _saved(runs_file) == [])


def test_with_the_store_down_the_page_says_so_and_keeps_reading(sent, broken_store):
    at = _draw_page()
    predicted = _big_answer(at)
    _button(at, "draw_is_4").click().run()
    assert not at.exception, at.exception
    assert any("Digits are not being saved now" in w.value and "not an SQLite database" in w.value for w in at.warning)
    assert _big_answer(at) == predicted and any("confident" in h.proto.body for h in at.get("html"))
    assert broken_store.read_bytes() == BROKEN_STORE


def test_an_uploaded_digit_is_saved_as_uploaded(runs_file, mnist):
    at = _draw_page()
    at.segmented_control(key="draw_source").set_value("Upload an image").run()
    paper = 255 - np.asarray(Image.fromarray(mnist.test.x[1]).resize((200, 200)))
    buffer = io.BytesIO()
    Image.fromarray(paper).save(buffer, format="PNG")
    at.file_uploader[0].upload("two.png", buffer.getvalue(), "image/png").run()
    _button(at, "draw_is_2").click().run()
    assert not at.exception, at.exception
    assert [(label, source) for _, label, source in _saved(runs_file)] == [(2, "uploaded")]


def test_a_random_test_digit_is_not_offered_for_saving(runs_file):
    at = _draw_page()
    at.segmented_control(key="draw_source").set_value("Random test digit").run()
    assert any("confident" in h.proto.body for h in at.get("html"))
    assert not any(b.key == "draw_right" for b in at.button)


def _mine(at: AppTest, runs_file, n: int) -> None:
    """Save n digits for this session's browser, directly in its store."""
    from ui.browser_id import OWNER

    owner = at.session_state[OWNER]
    store = RunStore(sqlite_url(runs_file), retry_seconds=0)
    rng = np.random.default_rng(0)
    for i in range(n):
        image = np.zeros((28, 28), np.uint8)
        image[6:22, 12:16] = rng.integers(50, 256, (16, 4))
        store.digits.save(owner, image, i % 10)
    store.dispose()


def _gallery(at: AppTest) -> str:
    return next(h.proto.body for h in at.get("html") if "mnl-gallery" in h.proto.body)


def test_the_gallery_shows_filters_deletes_and_shares(runs_file):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/digits.py").run()
    assert not at.exception, at.exception
    assert any("No digits yet" in i.value for i in at.info)
    _mine(at, runs_file, 12)
    at.run()
    assert not at.exception, at.exception
    gallery = _gallery(at)
    assert gallery.count('class="mnl-digit') == 12
    assert any(m.label.startswith("The bundled pretrained network") for m in at.metric)
    at.segmented_control(key="my_digits_label").set_value(1).run()  # digits 1 and 11 of the 12
    gallery = _gallery(at)
    assert gallery.count('class="mnl-digit') == 2 and gallery.count('data-label="1') == 2
    assert any(b.label.startswith("Download them") for b in at.get("download_button"))

    picked = at.selectbox(key="my_digits_pick").value
    next(b for b in at.button if b.label == "Delete it").click().run()
    assert any(s.value == escape_markdown("Digit deleted.") for s in at.success)
    assert picked not in at.selectbox(key="my_digits_pick").options and len(_saved(runs_file)) == 11

    next(b for b in at.button if b.label == "Share all my digits").click().run()
    assert any("nickname is needed" in e.value for e in at.error)
    at.text_input(key="class_nickname").set_value("Ada").run()
    next(b for b in at.button if b.label == "Share all my digits").click().run()
    assert any(s.value == escape_markdown("11 more digits shared to the class set.") for s in at.success)

    assert next(b for b in at.button if b.label == "Delete all my digits").disabled
    at.checkbox(key="my_digits_confirm_delete").check().run()
    next(b for b in at.button if b.label == "Delete all my digits").click().run()
    assert any(s.value == escape_markdown("11 digits deleted.") for s in at.success) and _saved(runs_file) == []
    assert not at.exception, at.exception


def test_the_gallery_says_when_the_store_cannot_be_read(broken_store):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/digits.py").run()
    assert not at.exception, at.exception
    assert any("Your digits cannot be read now" in e.value for e in at.error)


def test_the_teachers_page_counts_the_class_set_and_reads_it(runs_file):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/teachers.py").run()
    assert not at.exception, at.exception
    assert any("No digits are shared yet" in i.value for i in at.info)
    store = RunStore(sqlite_url(runs_file), retry_seconds=0)
    rng = np.random.default_rng(1)
    for owner, nickname, n in (("browser:ada", "Ada", 3), ("browser:bo", "Bo", 2), ("browser:cy", None, 4)):
        for i in range(n):
            image = np.zeros((28, 28), np.uint8)
            image[6:22, 12:16] = rng.integers(50, 256, (16, 4))
            store.digits.save(owner, image, i)
        if nickname:
            store.digits.share_all(owner, nickname)
    store.dispose()
    at.run()
    assert not at.exception, at.exception
    frame = at.dataframe[0].value
    assert frame.to_dict("list") == {"nickname": ["Ada", "Bo"], "digits": [3, 2]}
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["The best shared run reads it"] == "–"
    assert metrics["The pretrained network reads it"].endswith("%")
    assert any("5 digits" in c.value for c in at.caption)


def test_a_big_collection_is_shown_a_thousand_at_a_time(runs_file):
    from ui.my_digits import PAGE, PAGE_SIZE

    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/digits.py").run()
    _mine(at, runs_file, PAGE_SIZE + 5)
    at.run()
    assert not at.exception, at.exception
    pages = at.selectbox(key=PAGE)
    assert pages.options == [f"1 to {PAGE_SIZE:,} of {PAGE_SIZE + 5:,}", f"{PAGE_SIZE + 1:,} to 1,005 of 1,005"]
    gallery = _gallery(at)
    assert gallery.count('class="mnl-digit') == PAGE_SIZE
    pages.set_value(PAGE_SIZE).run()
    gallery = _gallery(at)
    assert gallery.count('class="mnl-digit') == 5
    at.segmented_control(key="my_digits_label").set_value(3).run()  # 101 threes: one page, no choice of pages
    assert not at.exception, at.exception
    assert not [s for s in at.selectbox if s.key == PAGE]
    gallery = _gallery(at)
    assert gallery.count('class="mnl-digit') == 101
