"""Names people type (nicknames, run names): plain, printable and bounded before they reach the database."""

from __future__ import annotations

import unicodedata
from typing import Any


def clean_text(raw: Any, limit: int) -> str:
    """`raw` as one line of at most `limit` characters: control characters become spaces, runs of space one.

    Nothing is interpreted: HTML, Markdown and SQL stay the characters they are (pages show them literally).
    """
    if not isinstance(raw, str):
        return ""
    text = unicodedata.normalize("NFC", raw[: limit * 4 + 16])  # enough to fill `limit` after squeezing spaces
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
