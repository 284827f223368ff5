"""docs/performance.md shows the committed bench run's own report (tools/gen_performance.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.tools import load_tool


def test_the_performance_doc_holds_the_report_of_the_committed_run() -> None:
    tool = load_tool("gen_performance")
    doc = tool.DOC.read_text()
    assert tool.rendered(doc) == doc, "docs/performance.md is stale: run tools/gen_performance.py"


def test_a_changed_figure_in_the_run_changes_the_report(tmp_path: Path) -> None:
    tool = load_tool("gen_performance")
    results = json.loads(tool.RESULTS.read_text())
    results["idle"]["write_p99_ratio"] = 9.99
    changed = tmp_path / "performance.json"
    changed.write_text(json.dumps(results))
    doc = tool.DOC.read_text()
    assert "= 9.99 x" in tool.rendered(doc, changed)
    assert "= 9.99 x" not in doc


def test_the_committed_run_names_no_machine_path() -> None:
    tool = load_tool("gen_performance")
    text = tool.RESULTS.read_text() + tool.DOC.read_text()
    assert "/tmp/" not in text and "/work/" not in text and "/home/" not in text
