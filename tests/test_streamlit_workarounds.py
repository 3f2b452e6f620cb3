"""The Streamlit internals the app relies on are still there in the installed Streamlit (ui.streamlit_workarounds)."""

from ui import streamlit_workarounds


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
