"""docs/design.md is the maintainers' design: the code cites it by section,
and every citation names a section that exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DESIGN = ROOT / "docs" / "design.md"
SOURCES = [
    ROOT / "server" / "src",
    ROOT / "client" / "src" / "statehouse" / "client",
    ROOT / "tests",
]
CITATION = re.compile(r'docs/design\.md[`,\s§]*"([^"]+)"')


def _headings() -> set[str]:
    return {m.group(1).strip() for m in re.finditer(r"^#+ (.+)$", DESIGN.read_text(), re.M)}


def _citations() -> list[tuple[Path, str]]:
    found = []
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            text = re.sub(r"\s*\n\s*(#\s*)?", " ", path.read_text())  # citations may wrap
            found += [(path, m.group(1)) for m in CITATION.finditer(text)]
    return found


def test_the_code_cites_the_design_by_its_sections() -> None:
    cited = {section for _, section in _citations()}
    # The main seams point at their sections.
    assert {"Storage", "The event stream", "Security", "Layers", "Orchestration"} <= cited, cited


def test_every_citation_names_a_section_that_exists() -> None:
    headings = _headings()
    dangling = [(str(p.relative_to(ROOT)), s) for p, s in _citations() if s not in headings]
    assert dangling == [], f"no such section in docs/design.md: {dangling}"


def test_no_comment_cites_a_document_the_repository_does_not_have() -> None:
    """DESIGN.md was the founders' spec, outside the repository: a reader
    cannot follow a reference to it."""
    stale = [
        str(path.relative_to(ROOT))
        for source in SOURCES
        for path in sorted(source.rglob("*.py"))
        if "DESIGN.md" in path.read_text() and path.name != "test_design_doc.py"
    ]
    assert stale == []
