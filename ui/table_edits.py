"""Fold an st.data_editor's pending edits into the rows it was given, so edits outlive the editor widget."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def with_edits(rows: list[dict[str, Any]], edits: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The rows after the editor's state (edited, added, then deleted rows, as Streamlit applies them)."""
    if not edits:
        return [dict(r) for r in rows]
    result = [dict(r) for r in rows]
    for index, changes in (edits.get("edited_rows") or {}).items():
        if 0 <= int(index) < len(result):
            result[int(index)].update(changes)
    columns = list(rows[0]) if rows else []
    for added in edits.get("added_rows") or []:
        result.append({**dict.fromkeys(columns), **{k: v for k, v in added.items() if not k.startswith("_")}})
    deleted = {int(i) for i in edits.get("deleted_rows") or []}
    return [r for i, r in enumerate(result) if i not in deleted]
