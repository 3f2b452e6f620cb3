"""The first page a fresh server sends shows the Train button before TensorFlow is imported; the warm-up follows."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(300)

# Run in a fresh interpreter (nothing imported yet, no warm-up started): the app's first script run through
# AppTest, with the moment the Train button is created and the moment anything first imports TensorFlow or
# Keras recorded; then it waits until the background warm-up has started importing them.
_PROBE = r"""
import importlib.abc, json, os, sys, threading, time

marks = {}

class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in ("tensorflow", "keras") and "tensorflow" not in marks:
            marks["tensorflow"] = time.perf_counter()
            marks["tensorflow_thread"] = threading.current_thread().name
        return None

sys.meta_path.insert(0, Watch())

from streamlit.elements.widgets.button import ButtonMixin
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

original_button, original_pages = ButtonMixin.button, PagesManager.__init__

def button(self, label, *args, **kwargs):
    if label == "Train":
        marks.setdefault("train_button", time.perf_counter())
        marks.setdefault("modules_at_button", sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
    return original_button(self, label, *args, **kwargs)

def pages(self, *args, **kwargs):  # the navigation pages from the first run, as on a real server (tests/test_app.py)
    original_pages(self, *args, **kwargs)
    PagesManager.uses_pages_directory = False

ButtonMixin.button, PagesManager.__init__ = button, pages
at = AppTest.from_file(sys.argv[1], default_timeout=120)
at.run()
marks["title"] = [t.value for t in at.title]
marks["buttons"] = [b.label for b in at.button]
marks["promise"] = [i.value for i in at.info if "Press **Train**" in i.value]
marks["exception"] = [str(e.value) for e in at.exception]
deadline = time.monotonic() + 120
while "tensorflow" not in marks and time.monotonic() < deadline:
    time.sleep(0.05)
print(json.dumps(marks))
sys.stdout.flush()
os._exit(0)  # mid-import: TensorFlow's threads must not run interpreter shutdown
"""


def test_the_first_paint_shows_the_train_button_before_tensorflow_is_imported():
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(REPO / "streamlit_app.py")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        env=os.environ.copy(),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    marks = json.loads(out.stdout.strip().splitlines()[-1])
    assert marks["exception"] == []
    assert marks["title"][0] == "MNIST Live" and "Train" in marks["buttons"] and marks["promise"]
    assert "train_button" in marks, "the Train button was never created: the probe no longer sees it"
    assert marks["modules_at_button"] == []
    assert "tensorflow" in marks, "the background warm-up did not start importing TensorFlow"
    assert marks["tensorflow"] > marks["train_button"]
    assert marks["tensorflow_thread"] == "tensorflow-import"  # the warm-up's thread, not the page
