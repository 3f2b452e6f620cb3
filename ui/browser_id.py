"""Whose runs a session sees: the signed-in user (when Streamlit's login is configured), else this browser's id.

The browser's id is a random token kept in a cookie for a year: set from the page the first time, read from
the request's cookies on later visits. A new session before the cookie is set, or with cookies blocked, gets
a fresh id, so its runs are its own but do not come back on the next visit.
"""

from __future__ import annotations

import hashlib
import re
import secrets

import streamlit as st

COOKIE = "mnist_live_browser"
OWNER = "runs_owner"  # session state: this session's owner string
_COOKIE_SET = "runs_owner_cookie_set"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
COOKIE_DAYS = 365


def run_owner() -> str:
    """The owner string this session's runs are saved under ("user:…" or "browser:…")."""
    user = _signed_in_user()
    if user:
        return "user:" + hashlib.sha256(user.encode()).hexdigest()[:40]
    owner = st.session_state.get(OWNER)
    if owner is None:
        cookie = st.context.cookies.get(COOKIE) if st.context.cookies is not None else None
        token = cookie if isinstance(cookie, str) and _TOKEN.fullmatch(cookie) else secrets.token_urlsafe(18)
        owner = st.session_state[OWNER] = "browser:" + token
    return owner


def keep_browser_id() -> None:
    """Once per session, store the browser's id in its cookie (call on every page, from the entrypoint)."""
    owner = run_owner()
    if not owner.startswith("browser:") or st.session_state.get(_COOKIE_SET):
        return
    st.session_state[_COOKIE_SET] = True
    token = owner.removeprefix("browser:")
    if st.context.cookies.get(COOKIE) == token:
        return
    max_age = COOKIE_DAYS * 24 * 3600
    st.html(
        f"<script>document.cookie = '{COOKIE}={token}; path=/; max-age={max_age}; SameSite=Lax';</script>",
        unsafe_allow_javascript=True,
        width="content",
    )


def _signed_in_user() -> str | None:
    try:
        if not st.user.is_logged_in:
            return None
    except (AttributeError, KeyError, RuntimeError):  # no login configured, or a Streamlit without st.user
        return None
    for key in ("sub", "email"):
        value = st.user.get(key)
        if isinstance(value, str) and value:
            return value
    return None
