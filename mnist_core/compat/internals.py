"""Which of a library's internals, named by module and attribute path, the installed version still has, and
whether the installed version is one the workarounds were verified on."""

from __future__ import annotations

import importlib
import platform
from typing import Any

from packaging.version import Version


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


def outside_verified(verified: dict[str, tuple[str, str]]) -> list[str]:
    """Each module of `verified` (name -> (first version verified, first version not verified)) whose installed
    version lies outside that range, as 'name X.Y (verified from A to below B)'; "python" is the interpreter."""
    outside = []
    for name, (low, high) in verified.items():
        if name == "python":
            installed = platform.python_version()
        else:
            try:
                installed = str(importlib.import_module(name).__version__)
            except ImportError:
                continue  # an optional library that is not installed has nothing to re-verify
        if not Version(low) <= Version(installed) < Version(high):
            outside.append(f"{name} {installed} (verified from {low} to below {high})")
    return outside


def failed_probes(probes: dict[str, Any]) -> list[str]:
    """Each probe of `probes` (workaround -> a check of behaviour) that fails or raises, as 'name: check'."""
    failed = []
    for name, probe in probes.items():
        try:
            passed = probe()
        except Exception:  # noqa: BLE001 - a probe that raises has found the behaviour changed
            passed = False
        if not passed:
            failed.append(f"{name}: {probe.__name__}")
    return failed
