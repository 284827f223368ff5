"""The fenced code blocks of the user's documents (README.md, CHANGELOG.md,
CONTRIBUTING.md, docs/*.md), with the marker that says what becomes of each
shell block, and :func:`section`, the text under one heading of a document,
which the tests that check a document's tables and commands read.

A user pastes shell blocks, so each one either runs in a test or says that it
is not meant to run as written. The marker is an HTML comment on the line just
before the opening fence (invisible on GitHub, plain in the source):

- ``<!-- tested: test_name -->``: the test ``test_name`` takes this block with
  :func:`blocks_tested_by` and runs it (with, at most, free ports and a test
  database put in place of the documented ones).
- ``<!-- excerpt -->`` or ``<!-- excerpt: why -->``: not run as written (ids to
  fill in, a second terminal, another machine); say why when it is not plain.

``tests/unit/test_doc_blocks.py`` fails on a shell block with neither marker, on
a ``tested`` marker naming a test that does not exist, and on a block without a
language (a shell block could hide there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = (
    ROOT / "README.md",
    ROOT / "CHANGELOG.md",
    ROOT / "CONTRIBUTING.md",
    *sorted((ROOT / "docs").glob("*.md")),
)
SHELLS = frozenset({"sh", "bash", "shell", "console", "zsh"})

_FENCE = re.compile(r"^```(\S*)\s*$")
_MARKER = re.compile(r"^<!-- (tested: (?P<test>\w+)|excerpt(: .+)?) -->$")
_HEADING = re.compile(r"^(?P<level>#{1,6}) (?P<title>.+?)\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, counted from 1
    language: str
    marker: str | None  # the comment's text: "tested: test_x", "excerpt", "excerpt: why"
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def tested_by(self) -> str | None:
        match = _MARKER.match(f"<!-- {self.marker} -->") if self.marker else None
        return match.group("test") if match else None

    @property
    def is_shell(self) -> bool:
        return self.language in SHELLS


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``, in order."""
    lines = path.read_text().splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```"), len(lines))
        before = lines[i - 1] if i > 0 else ""
        marker = _MARKER.match(before)
        found.append(
            Block(
                path=path,
                line=i + 1,
                language=opening.group(1),
                marker=before[len("<!-- ") : -len(" -->")] if marker else None,
                text="".join(f"{line}\n" for line in lines[i + 1 : end]),
            )
        )
        i = end + 1
    return found


def all_blocks() -> list[Block]:
    return [block for path in DOCUMENTS for block in blocks(path)]


def blocks_tested_by(test_name: str) -> list[Block]:
    """The blocks marked ``<!-- tested: test_name -->``, in document order: at least one."""
    found = [block for block in all_blocks() if block.tested_by == test_name]
    assert found, f"no block of the documents is marked <!-- tested: {test_name} -->"
    return found


def headings(path: Path) -> list[tuple[int, int, str]]:
    """``(line index, level, title)`` of every heading of ``path``, outside code blocks."""
    found = []
    fenced = False
    for i, line in enumerate(path.read_text().splitlines()):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := _HEADING.match(line)):
            found.append((i, len(match.group("level")), match.group("title")))
    return found


def section(path: Path, title: str) -> str:
    """The text under the heading ``title`` of ``path`` (at any level), up to the
    next heading of its level or above: exactly one such heading must exist, so
    a test that reads a section fails when the section moves or is renamed."""
    lines = path.read_text().splitlines()
    found = headings(path)
    matching = [(i, level) for i, level, text in found if text == title]
    assert len(matching) == 1, f"{path.relative_to(ROOT)} has {len(matching)} headings {title!r}"
    ((start, level),) = matching
    end = next((i for i, lv, _ in found if i > start and lv <= level), len(lines))
    return "".join(f"{line}\n" for line in lines[start + 1 : end])
