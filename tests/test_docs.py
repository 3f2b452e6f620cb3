"""The README stays short, its test command is the one CI runs, and every relative link in the docs resolves."""

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import REPO

README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
LINKED = [README, *DOCS, REPO / "tests" / "README.md", REPO / "tools" / "README.md"]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _without_code(text: str) -> str:
    """The Markdown outside fenced blocks and inline code, where a bracket is not a link."""
    return re.sub(r"`[^`\n]*`", "", _without_code_blocks(text))


def _anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file."""
    anchors, seen = set(), {}
    for heading in re.findall(r"^#+ (.+)$", _without_code_blocks(path.read_text()), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _without_code_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def test_the_readme_is_under_200_lines():
    assert len(README.read_text().splitlines()) < 200


@pytest.mark.parametrize("path", LINKED, ids=lambda path: str(path.relative_to(REPO)))
def test_every_relative_link_points_to_a_file_that_exists(path):
    broken = []
    for target in LINK.findall(_without_code(path.read_text())):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto: are not files of this repository
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
            broken.append(target)
    assert not broken, broken


@pytest.mark.parametrize("path", DOCS, ids=lambda path: path.name)
def test_each_doc_opens_with_what_it_is_for(path):
    first_paragraph = path.read_text().split("\n\n")[1]
    assert first_paragraph.startswith("What this page is for: ")


def test_the_readmes_test_command_is_the_one_ci_runs():
    blocks = re.findall(r"^```bash\n(.*?)^```", README.read_text(), flags=re.S | re.M)
    command = next(block.strip() for block in blocks if "pytest" in block)
    install, test = (part.strip() for part in command.split("&&"))
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert test in ci
    files = [word for word in shlex.split(install) if word.endswith(".txt")]
    ci_installs = [line for line in ci if line.startswith("python -m pip install")]
    assert any([word for word in shlex.split(line) if word.endswith(".txt")] == files for line in ci_installs)
