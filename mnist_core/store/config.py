"""Where the run store lives and how much it keeps: environment variables, with Streamlit's secrets as a fallback.

`store_config` reads every setting and never raises: a setting that names no store this app can use becomes the
store's `problem` (naming the variable or the secrets table), and a limit that is not usable falls back to its
default with a note saying so.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from mnist_core.runtime.threads import shown_env, whole_number

ENV_VAR = "MNIST_LIVE_RUNS"  # an SQLAlchemy URL, or a path to an SQLite file
PER_BROWSER_VAR = "MNIST_LIVE_RUNS_PER_BROWSER"
TOTAL_VAR = "MNIST_LIVE_RUNS_TOTAL"
WEIGHTS_MB_VAR = "MNIST_LIVE_RUN_WEIGHTS_MB"
DIGITS_PER_BROWSER_VAR = "MNIST_LIVE_DIGITS_PER_BROWSER"
DIGITS_TOTAL_VAR = "MNIST_LIVE_DIGITS_TOTAL"
SECRETS_TABLE = "[connections.runs]"
SECRETS_SOURCE = f"{SECRETS_TABLE} in Streamlit's secrets"
FILE_NAME = "runs.sqlite"
# Keys of `[connections.runs]` that st.connection's SQL connection takes besides `url`.
URL_PARTS = ("drivername", "username", "password", "host", "port", "database", "query")
TEXT_PARTS = ("drivername", "dialect", "driver", "username", "password", "host", "database")
PORTS = (1, 65_535)
MAX_REASON_CHARS = 200
MAX_SHOWN_CHARS = 200  # a location in a message: the start and the end of a longer one
RESTART = "Fix the setting and restart the app."


class StoreSettingError(ValueError):
    """A store setting names no store this app can use; the message names the setting, for the page."""


@dataclass(frozen=True)
class LimitSpec:
    """One limit's variable, its default and the whole numbers it may take (both ends allowed)."""

    var: str
    default: int
    low: int
    high: int
    unit: str

    def read(self, env: Mapping[str, str]) -> tuple[int, str]:
        """The value set by `env[var]`, else the default; and a note when a set value was not usable."""
        raw = env.get(self.var)
        if raw is None or not raw.strip():
            return self.default, ""
        value = whole_number(raw)
        if value is not None and self.low <= value <= self.high:
            return value, ""
        allowed = f"a whole number of {self.unit} from {self.low:,} to {self.high:,}"
        return self.default, f"{shown_env(self.var, raw)} is not {allowed}; using the default, {self.default:,}."


# Each range is wide enough for any classroom and small enough that the store's counts and sizes stay ordinary.
PER_BROWSER = LimitSpec(PER_BROWSER_VAR, 200, 1, 100_000, "runs")
TOTAL = LimitSpec(TOTAL_VAR, 5_000, 1, 10_000_000, "runs")
WEIGHTS_MB = LimitSpec(WEIGHTS_MB_VAR, 8, 1, 1_024, "MB")
# A saved digit is 784 bytes of pixels: the default total is under 100 MB of them.
DIGITS_PER_BROWSER = LimitSpec(DIGITS_PER_BROWSER_VAR, 2_000, 1, 100_000, "digits")
DIGITS_TOTAL = LimitSpec(DIGITS_TOTAL_VAR, 100_000, 1, 10_000_000, "digits")
LIMIT_SPECS = (PER_BROWSER, TOTAL, WEIGHTS_MB, DIGITS_PER_BROWSER, DIGITS_TOTAL)


@dataclass(frozen=True)
class Limits:
    """Runs kept per browser and in all; weights above `weights_bytes` are not kept (the run is, without them);
    saved digits kept per browser and in all.

    From the environment: MNIST_LIVE_RUNS_PER_BROWSER 1 to 100,000 runs (default 200), MNIST_LIVE_RUNS_TOTAL 1 to
    10,000,000 runs (default 5,000), MNIST_LIVE_RUN_WEIGHTS_MB 1 to 1,024 MB (default 8),
    MNIST_LIVE_DIGITS_PER_BROWSER 1 to 100,000 digits (default 2,000), MNIST_LIVE_DIGITS_TOTAL 1 to 10,000,000
    digits (default 100,000), each a whole number.
    """

    per_browser: int = PER_BROWSER.default
    total: int = TOTAL.default
    weights_bytes: int = WEIGHTS_MB.default * 2**20
    digits_per_browser: int = DIGITS_PER_BROWSER.default
    digits_total: int = DIGITS_TOTAL.default

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Limits:
        return read_limits(env)[0]


def read_limits(env: Mapping[str, str] | None = None) -> tuple[Limits, tuple[str, ...]]:
    """The limits set in the environment; an unusable value falls back to its default, with a note naming it."""
    env = os.environ if env is None else env
    read = [spec.read(env) for spec in LIMIT_SPECS]
    (per_browser, total, weights_mb, digits_per_browser, digits_total) = (value for value, _ in read)
    limits = Limits(per_browser, total, weights_mb * 2**20, digits_per_browser, digits_total)
    return limits, tuple(note for _, note in read if note)


@dataclass(frozen=True)
class StoreConfig:
    """The store's URL (None when the settings name no usable store, and `problem` says why) and its limits."""

    url: URL | None
    limits: Limits = field(default_factory=Limits)
    problem: str | None = None
    notes: tuple[str, ...] = ()  # limits that were set to values not usable, and the defaults used instead

    @property
    def key(self) -> str:
        """Everything that tells one configuration from another, as text (a cache key)."""
        url = self.url.render_as_string(hide_password=False) if self.url is not None else None
        return repr((url, self.limits, self.problem, self.notes))


def default_path(env: Mapping[str, str] | None = None) -> Path:
    """The SQLite file used when nothing is configured: in the user's data directory, outside the repository."""
    env = os.environ if env is None else env
    base = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else Path.home() / ".local" / "share"
    return base / "mnist-live" / FILE_NAME


def store_config(env: Mapping[str, str] | None = None, secrets: Any = None) -> StoreConfig:
    """The store's settings; an unusable URL, secrets table or driver is the config's `problem`, never an exception.

    The driver is imported and the engine made (no connection is opened), so a missing driver is named here.
    """
    env = os.environ if env is None else env
    limits, notes = read_limits(env)
    try:
        url, source = _url_and_source(env, secrets)
        _check_engine(url, source)
    except StoreSettingError as exc:
        return StoreConfig(None, limits, str(exc), notes)
    return StoreConfig(url, limits, None, notes)


def store_url(env: Mapping[str, str] | None = None, secrets: Any = None) -> URL:
    """The store's URL: the environment variable (a URL or a file path), else `[connections.runs]`, else the default.

    `secrets` is the `[connections.runs]` table of Streamlit's secrets as st.connection reads it: a `url`, or
    its parts (`dialect` and `driver`, or `drivername`, with `username`, `password`, `host`, `port`, `database`).
    StoreSettingError when the setting is not a URL or a path (the driver is not checked: see store_config).
    """
    env = os.environ if env is None else env
    return _url_and_source(env, secrets)[0]


def _url_and_source(env: Mapping[str, str], secrets: Any) -> tuple[URL, str]:
    raw = env.get(ENV_VAR, "")
    if raw.strip():
        return _from_text(raw.strip(), ENV_VAR, paths=True), ENV_VAR
    if secrets is not None and not isinstance(secrets, Mapping):
        raise StoreSettingError(f"{SECRETS_SOURCE} is not a table (it is {_kind(secrets)}). {RESTART}")
    if secrets:
        return _secrets_url(secrets), SECRETS_SOURCE
    return sqlite_url(default_path(env)), "the default"


def _from_text(raw: str, source: str, paths: bool) -> URL:
    """A URL, or (when `paths`) an SQLite file path, from a setting's text."""
    _check_characters(raw, source, "it")
    if "://" not in raw:
        if not paths:
            _refuse(source, "it is not of the form dialect+driver://user:password@host:port/database")
        try:
            return sqlite_url(Path(raw).expanduser())
        except RuntimeError:  # "~someone" for a user this system does not know
            _refuse(source, "it starts with a home directory (~) this system does not know")
    try:
        url = make_url(raw)
    except ArgumentError:  # its message repeats the URL, password included: not shown
        _refuse(source, "it is not of the form dialect+driver://user:password@host:port/database")
    except ValueError:
        _refuse(source, "its port is not a number")
    _check_port(url.port, source)
    for name in ("username", "password", "host", "database"):  # %00 and the like, decoded
        _check_characters(getattr(url, name) or "", source, f"its {name}")
    return url


def _check_characters(text: str, source: str, what: str) -> None:
    """Control characters and lone surrogates: no database name or file name holds them, and no page shows them."""
    bad = next((c for c in text if unicodedata.category(c) in ("Cc", "Cs")), None)
    if bad is not None:
        _refuse(source, f"{what} contains the character {bad!r}")


def _refuse(source: str, reason: str) -> None:
    raise StoreSettingError(f"{source} is not a database URL this app can use: {reason}. {RESTART}")


def _check_port(port: Any, source: str) -> None:
    if port is not None and not PORTS[0] <= port <= PORTS[1]:
        _refuse(source, f"its port, {port}, is not from {PORTS[0]} to {PORTS[1]:,}")


def _secrets_url(secrets: Mapping[str, Any]) -> URL:
    source = SECRETS_SOURCE
    if "url" in secrets and secrets["url"] not in (None, ""):
        if not isinstance(secrets["url"], str):
            _refuse(source, f"its url is not text (it is {_kind(secrets['url'])})")
        return _from_text(secrets["url"].strip(), source, paths=False)
    for key in TEXT_PARTS:
        value = secrets.get(key)
        if value is not None and not isinstance(value, str):
            _refuse(source, f"its {key} is not text (it is {_kind(value)})")
        _check_characters(value or "", source, f"its {key}")
    parts = {key: secrets[key] for key in URL_PARTS if secrets.get(key) is not None}
    if "drivername" not in parts:
        dialect, driver = secrets.get("dialect") or "sqlite", secrets.get("driver")
        parts["drivername"] = f"{dialect}+{driver}" if driver else dialect
    if "port" in parts:
        parts["port"] = _secrets_port(parts["port"])
    if "query" in parts:
        parts["query"] = _secrets_query(parts["query"])
    try:
        return URL.create(**parts)
    except (ArgumentError, TypeError, ValueError) as exc:
        _refuse(source, _first_line(exc))


def _secrets_port(port: Any) -> int:
    number = port if isinstance(port, int) and not isinstance(port, bool) else None
    if isinstance(port, str):
        number = whole_number(port)
    if number is None:
        _refuse(SECRETS_SOURCE, f"its port is not a whole number (it is {_kind(port)})")
    _check_port(number, SECRETS_SOURCE)
    return number


def _secrets_query(query: Any) -> dict[str, str | tuple[str, ...]]:
    def text(value: Any) -> bool:
        return isinstance(value, str) and not any(unicodedata.category(c) in ("Cc", "Cs") for c in value)

    if not isinstance(query, Mapping):
        _refuse(SECRETS_SOURCE, f"its query is not a table (it is {_kind(query)})")
    cleaned: dict[str, str | tuple[str, ...]] = {}
    for key, value in query.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        if not text(key) or not all(text(v) for v in values):
            _refuse(SECRETS_SOURCE, "its query is not a table of text (or of lists of text)")
        cleaned[key] = tuple(values) if isinstance(value, (list, tuple)) else value
    return cleaned


def _check_engine(url: URL, source: str) -> None:
    """Import the URL's driver and make an engine for it, opening no connection; StoreSettingError if that fails."""
    try:
        create_engine(url).dispose()
    except (ImportError, NoSuchModuleError) as exc:
        name = _short(url.drivername)
        raise StoreSettingError(
            f"{source} names the driver {name}, which is not installed here ({_first_line(exc)}). Install it or "
            f"name a driver that is installed, and restart the app."
        ) from None
    except Exception as exc:  # noqa: BLE001 - a dialect may refuse its URL's options with any exception
        _refuse(source, _first_line(exc))


def _first_line(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    first = first if len(first) <= MAX_REASON_CHARS else first[:MAX_REASON_CHARS] + "…"
    return first.encode("utf-8", "backslashreplace").decode("utf-8")


def _short(text: str) -> str:
    """`text` quoted for a message, cut short and with anything unprintable escaped."""
    return repr(text if len(text) <= 40 else text[:20] + "…")


def _kind(value: Any) -> str:
    name = type(value).__name__
    return f"an {name}" if name[:1] in "aeiou" else f"a {name}"


def sqlite_url(path: Path) -> URL:
    return URL.create("sqlite", database=str(path))


def shown_url(url: URL) -> str:
    """The store's location for messages: the file of an SQLite store, else the URL without its password; cut short."""
    if url.get_backend_name() == "sqlite":
        shown = str(url.database or "an in-memory database")
    else:
        shown = url.render_as_string(hide_password=True)
    return shown if len(shown) <= MAX_SHOWN_CHARS else shown[: MAX_SHOWN_CHARS - 41] + "…" + shown[-40:]
