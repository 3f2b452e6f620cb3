"""The Streamlit internals the app relies on are still there in the installed Streamlit (ui.streamlit_workarounds)."""

import importlib.metadata

from ui import streamlit_workarounds


def test_every_streamlit_internal_a_workaround_needs_is_still_there():
    missing = streamlit_workarounds.missing_internals()
    installed = importlib.metadata.version("streamlit")
    assert not missing, (
        f"Streamlit {installed} (the workarounds were written for {streamlit_workarounds.WRITTEN_FOR}) no longer has "
        f"what these workarounds in ui/streamlit_workarounds.py rely on: {', '.join(missing)}. Check each against "
        "the new version and adapt it, or remove it if the new Streamlit no longer needs it."
    )


def test_the_check_names_a_missing_internal(monkeypatch):
    monkeypatch.setitem(streamlit_workarounds.INTERNALS, "gone", ("streamlit.runtime", "NoSuchThing.at_all"))
    assert streamlit_workarounds.missing_internals() == ["gone: streamlit.runtime.NoSuchThing.at_all"]


def test_every_workaround_is_listed_with_its_internals():
    import inspect

    own = inspect.getmembers(streamlit_workarounds, inspect.isfunction)
    workarounds = {
        name
        for name, function in own
        if function.__module__ == streamlit_workarounds.__name__ and not name.startswith("_")
    }
    assert workarounds - {"missing_internals"} == set(streamlit_workarounds.INTERNALS)
