"""Text from outside (links, the run store, settings) shown in Streamlit's Markdown exactly as it is."""

from __future__ import annotations

import re


def escape_markdown(text: str) -> str:
    """Backslash-escape Markdown punctuation so a value shows literally (no links, colours or icons)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~:$=&'\"^%@,;/?])", r"\\\1", text)
