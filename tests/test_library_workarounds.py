"""Every library internal the app relies on is registered in that library's workarounds module, with the versions
it was verified on: these tests fail, naming what to re-verify, when an installed version leaves that range, loses
an internal or changes a behaviour a probe checks."""

from __future__ import annotations

import importlib

import pytest

from mnist_core.compat.internals import failed_probes, missing_internals, outside_verified

MODULES = [
    "mnist_core.compat.keras_workarounds",
    "mnist_core.compat.pillow_workarounds",
    "mnist_core.compat.zipfile_workarounds",
    "mnist_core.compat.ray_workarounds",
    "ui.streamlit_workarounds",
]


@pytest.mark.parametrize("name", MODULES)
def test_the_installed_versions_are_the_verified_ones_and_still_behave_so(name):
    module = importlib.import_module(name)
    outside = outside_verified(module.VERIFIED)
    assert not outside, (
        f"{', '.join(outside)}: the workarounds in {name} were not verified on this version. Check each of its "
        "INTERNALS and PROBES against it, then widen VERIFIED (or adapt or remove the workaround)."
    )
    gone = missing_internals(module.INTERNALS) + failed_probes(getattr(module, "PROBES", {}))
    assert not gone, f"The installed version no longer has or does what {name} relies on: {', '.join(gone)}."


def test_a_version_outside_the_range_and_a_failing_probe_are_named():
    assert outside_verified({"pytest": ("0.1", "0.2")}) == [
        f"pytest {pytest.__version__} (verified from 0.1 to below 0.2)"
    ]
    assert outside_verified({"no_such_module_here": ("1", "2")}) == []  # an optional library not installed

    def raises() -> bool:
        raise AttributeError("renamed")

    assert failed_probes({"ok": lambda: True, "gone": raises}) == ["gone: raises"]


def test_every_private_name_of_a_library_is_used_in_its_workarounds_module_only():
    """A private attribute of Pillow, zipfile or Keras used elsewhere would escape the version checks above."""
    import ast

    from tests.conftest import REPO

    owners = {"zipfile": "zipfile_workarounds.py", "Image": "pillow_workarounds.py"}
    found = []
    for path in [*REPO.glob("mnist_core/**/*.py"), *REPO.glob("ui/*.py"), *REPO.glob("pages/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in owners
                and (node.attr.startswith("_") or node.attr in ("OPEN", "ID"))
                and path.name != owners[node.value.id]
            ):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert found == []
