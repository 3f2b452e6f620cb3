"""Where the run store lives and how much it keeps: environment variables, with Streamlit's secrets as a fallback."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

ENV_VAR = "MNIST_LIVE_RUNS"  # an SQLAlchemy URL, or a path to an SQLite file
PER_BROWSER_VAR = "MNIST_LIVE_RUNS_PER_BROWSER"
TOTAL_VAR = "MNIST_LIVE_RUNS_TOTAL"
WEIGHTS_MB_VAR = "MNIST_LIVE_RUN_WEIGHTS_MB"
FILE_NAME = "runs.sqlite"
# Keys of `[connections.runs]` that st.connection's SQL connection takes besides `url`.
URL_PARTS = ("drivername", "username", "password", "host", "port", "database", "query")


@dataclass(frozen=True)
class Limits:
    """Runs kept per browser and in all; weights above `weights_bytes` are not kept (the run is, without them)."""

    per_browser: int = 200
    total: int = 5_000
    weights_bytes: int = 8 * 2**20

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Limits:
        env = os.environ if env is None else env
        default = cls()
        return cls(
            per_browser=_positive(env, PER_BROWSER_VAR, default.per_browser),
            total=_positive(env, TOTAL_VAR, default.total),
            weights_bytes=int(_positive(env, WEIGHTS_MB_VAR, default.weights_bytes / 2**20) * 2**20),
        )


def _positive(env: Mapping[str, str], name: str, default: float) -> Any:
    """A positive number from `env[name]`, else `default` (a bad value falls back: the store is not worth a crash)."""
    raw = env.get(name, "").strip()
    try:
        value = type(default)(float(raw)) if raw else default
    except ValueError:
        return default
    return value if value > 0 else default


def default_path(env: Mapping[str, str] | None = None) -> Path:
    """The SQLite file used when nothing is configured: in the user's data directory, outside the repository."""
    env = os.environ if env is None else env
    base = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else Path.home() / ".local" / "share"
    return base / "mnist-live" / FILE_NAME


def store_url(env: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None) -> URL:
    """The store's URL: the environment variable (a URL or a file path), else `[connections.runs]`, else the default.

    `secrets` is the `[connections.runs]` table of Streamlit's secrets as st.connection reads it: a `url`, or
    its parts (`dialect` and `driver`, or `drivername`, with `username`, `password`, `host`, `port`, `database`).
    """
    env = os.environ if env is None else env
    raw = env.get(ENV_VAR, "").strip()
    if raw:
        return make_url(raw) if "://" in raw else sqlite_url(Path(raw).expanduser())
    if secrets:
        return _secrets_url(secrets)
    return sqlite_url(default_path(env))


def sqlite_url(path: Path) -> URL:
    return URL.create("sqlite", database=str(path))


def _secrets_url(secrets: Mapping[str, Any]) -> URL:
    if secrets.get("url"):
        return make_url(str(secrets["url"]))
    parts = {key: secrets[key] for key in URL_PARTS if key in secrets}
    if "drivername" not in parts:
        dialect, driver = secrets.get("dialect", "sqlite"), secrets.get("driver")
        parts["drivername"] = f"{dialect}+{driver}" if driver else str(dialect)
    if "port" in parts:
        parts["port"] = int(parts["port"])
    return URL.create(**parts)


def shown_url(url: URL) -> str:
    """The store's location for messages: the file of an SQLite store, else the URL without its password."""
    if url.get_backend_name() == "sqlite":
        return str(url.database or "an in-memory database")
    return url.render_as_string(hide_password=True)
