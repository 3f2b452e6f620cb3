"""Which of a library's internals, named by module and attribute path, the installed version still has."""

from __future__ import annotations

import importlib
from typing import Any


def missing_internals(internals: dict[str, tuple[str, str]]) -> list[str]:
    """Each entry of `internals` (workaround -> (module, attribute path)) that cannot be found, as 'name: path'."""
    missing = []
    for workaround, (module_name, path) in internals.items():
        try:
            found: Any = importlib.import_module(module_name)
            for part in path.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):
            missing.append(f"{workaround}: {module_name}.{path}")
    return missing
