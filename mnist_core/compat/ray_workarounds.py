"""Every place the app relies on Ray's internal settings, checked against the installed Ray (an optional extra).

`VERIFIED` is the range of Ray versions these were verified on; `PROBES` checks that the installed Ray still reads
each setting by its name; tests/test_library_workarounds.py fails naming what an upgrade changed. Importing this
module does not import Ray: the settings must be in the environment before Ray loads.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

VERIFIED = {"ray": ("2.60", "2.61")}
INTERNALS: dict[str, tuple[str, str]] = {}
# Ray's internal setting -> (the value this app needs, where the installed Ray reads the name: a file in its package)
SETTINGS = {
    # Never start a Ray instance of its own in the web process: a call after the cluster has gone raises instead.
    "RAY_ENABLE_AUTO_CONNECT": ("0", "_private/auto_init_hook.py"),
    # The driver exits its process when the cluster's control service has been gone this long (Ray's default:
    # 60 s); the web process must outlive its cluster, so it waits (and reports its runs lost) instead.
    "RAY_gcs_rpc_server_reconnect_timeout_s": (str(10 * 365 * 24 * 3600), "_raylet.so"),
}


def set_ray_environment() -> None:
    """Ray's settings this app needs, before Ray is imported (the user's own values win)."""
    for name, (value, _) in SETTINGS.items():
        os.environ.setdefault(name, value)


def _settings_read_by_name() -> bool:
    spec = importlib.util.find_spec("ray")
    if spec is None or spec.origin is None:
        return True  # Ray is not installed: nothing relies on it
    package = Path(spec.origin).parent
    # The C++ settings are read by the name without its RAY_ prefix.
    return all(
        name.removeprefix("RAY_").encode() in (package / where).read_bytes() for name, (_, where) in SETTINGS.items()
    )


PROBES = {"set_ray_environment": _settings_read_by_name}
