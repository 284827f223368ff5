"""Every relative link of the user's documents (README.md, CHANGELOG.md,
CONTRIBUTING.md, docs/*.md) leads somewhere: to a file of the repository and,
when it names one, to a heading of that file (GitHub's anchors: the heading's
text in lower case, punctuation dropped, spaces as hyphens, ``-1``, ``-2``...
for repeats) or to an ``<a id="...">`` of it (docs/api.md's). And the README
is a front door: short, with a link to every document of docs/.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.doc_blocks import DOCUMENTS, ROOT, headings

_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\((?P<target><[^>]+>|[^)\s]+)(?:\s+\"[^\"]*\")?\)"
)
_CODE_SPAN = re.compile(r"(`+).*?\1")
_HTML_ANCHOR = re.compile(r'<a (?:id|name)="([^"]+)"')
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)

#: The README's length beyond which it is a manual again, not a front door.
README_LINES = 220


def slug(title: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"<[^>]+>", "", title)  # inline HTML
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link: its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for _, _, title in headings(path):
        base = slug(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found | set(_HTML_ANCHOR.findall(path.read_text()))


def links(path: Path) -> list[tuple[int, str]]:
    """``(line number, target)`` of every link of ``path``, outside code."""
    found = []
    fenced = False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        for match in _LINK.finditer(_CODE_SPAN.sub("", line)):
            found.append((number, match.group("target").strip("<>")))
    return found


def broken(path: Path) -> list[str]:
    problems = []
    for number, target in links(path):
        if _EXTERNAL.match(target):
            continue
        where = f"{path.relative_to(ROOT)}:{number}: {target}"
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / unquote(file_part)).resolve() if file_part else path
        if not linked.exists():
            problems.append(f"{where}: no such file")
        elif anchor and linked.suffix == ".md" and unquote(anchor) not in anchors(linked):
            problems.append(f"{where}: no such heading in {linked.relative_to(ROOT)}")
    return problems


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    assert broken(path) == []


@pytest.mark.parametrize(
    ("title", "anchor"),
    [
        ("Workers: claims, leases, heartbeats", "workers-claims-leases-heartbeats"),
        (
            "Deployment on PostgreSQL (several replicas)",
            "deployment-on-postgresql-several-replicas",
        ),
        ("Traces (OpenTelemetry)", "traces-opentelemetry"),
        ("`make run`, the first step", "make-run-the-first-step"),
        ("Every client, the same scenarios", "every-client-the-same-scenarios"),
    ],
)
def test_anchors_are_githubs(title: str, anchor: str) -> None:
    assert slug(title) == anchor


def test_a_broken_link_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.unit.test_doc_links.ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## Here it is\n")
    doc = tmp_path / "README.md"
    doc.write_text(
        '# R\n\n[ok](docs/a.md) [ok](docs/a.md#here-it-is) [ok](#r) [ok](#s) <a id="s"></a>\n'
        "[web](https://x.org/y) "
        "[gone](docs/b.md) [nowhere](docs/a.md#there) `[code](docs/c.md)`\n"
        "```sh\n[block](docs/d.md)\n```\n"
    )
    assert broken(doc) == [
        "README.md:4: docs/b.md: no such file",
        "README.md:4: docs/a.md#there: no such heading in docs/a.md",
    ]


def test_the_readme_is_a_front_door() -> None:
    """Short, and every document of docs/ one click away (two from any concern)."""
    readme = ROOT / "README.md"
    assert len(readme.read_text().splitlines()) <= README_LINES
    linked = {
        (readme.parent / target.partition("#")[0]).resolve()
        for _, target in links(readme)
        if not _EXTERNAL.match(target)
    }
    docs = {path.resolve() for path in (ROOT / "docs").glob("*.md")}
    assert sorted(str(p.relative_to(ROOT)) for p in docs - linked) == []
    for name in ("CHANGELOG.md", "CONTRIBUTING.md", "LICENSE"):
        assert (ROOT / name).resolve() in linked, name
