"""The README's bad-input table names real tests: each `tests/<file>.py::<test>` it cites is defined there."""

import ast
import re

from tests.conftest import REPO


def _cited() -> list[tuple[str, str]]:
    readme = (REPO / "README.md").read_text()
    table = readme.split("## Bad input", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", table)


def test_the_table_cites_tests_for_every_row():
    readme = (REPO / "README.md").read_text()
    table = readme.split("## Bad input", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith(("| input", "| ---"))]
    assert len(rows) >= 10
    assert all("tests/" in row for row in rows), [row[:60] for row in rows if "tests/" not in row]


def test_every_cited_test_exists():
    missing = []
    for path, name in _cited():
        tree = ast.parse((REPO / path).read_text())
        names = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        if name not in names:
            missing.append(f"{path}::{name}")
    assert _cited() and not missing, missing
