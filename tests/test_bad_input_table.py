"""docs/robustness.md's bad-input sections name real tests: each `tests/<file>.py::<test>` it cites is defined there."""

import ast
import re

from tests.conftest import REPO

ROBUSTNESS = REPO / "docs" / "robustness.md"


def _sections() -> dict[str, str]:
    """Each class of input (a `### ` heading) and its text, up to the table of measured costs."""
    text = ROBUSTNESS.read_text().split("\n## Measured costs", 1)[0]
    return dict(part.split("\n", 1) for part in text.split("\n### ")[1:])


def _cited() -> list[tuple[str, str]]:
    return re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", "\n".join(_sections().values()))


def test_every_class_of_input_says_what_happens_and_cites_tests():
    sections = _sections()
    assert len(sections) >= 40
    incomplete = [
        name
        for name, body in sections.items()
        if "- **Bad values:** " not in body
        or "- **What happens:** " not in body
        or not re.search(r"^- \*\*Tests:\*\*\n  - `tests/[\w/]+\.py::\w+`", body, flags=re.M)
    ]
    assert not incomplete, incomplete


def test_the_sections_are_in_readable_lines():
    lines = "\n".join(_sections().values()).splitlines()
    long = [line[:60] for line in lines if len(line) > 120 and not re.fullmatch(r"  - `tests/[\w/]+\.py::\w+`", line)]
    assert not long, long


def test_every_cited_test_exists():
    missing = []
    for path, name in _cited():
        tree = ast.parse((REPO / path).read_text())
        names = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        if name not in names:
            missing.append(f"{path}::{name}")
    assert _cited() and not missing, missing
