"""The cross-check on short articles written for factx that tell one story several ways.

Extraction is replayed from answers recorded from the real local model (Qwen2.5-Coder-1.5B,
see conftest.py to re-record), then checked. ``expected.cross_doc.json`` lists the relations
a careful reader finds, in the format of ``../shared/eval/seeds.cross_doc.json``: each must be
found, and no error-level finding may be raised that the file does not list.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from factx import ArticleFacts, Pipeline, Settings
from factx._batch import Item
from factx._crosscheck import cross_check
from factx._schemas import CrossCheckReport, Finding
from factx._transport import FORMATS

from .conftest import DATA, RECORD_MODEL

SET = DATA / "crosscheck"
ARTICLES = sorted(SET.glob("*.txt"))
EXPECTED = SET / "expected.cross_doc.json"


def score_findings(
    report: CrossCheckReport, expected: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[Finding]]:
    """(expectations not found, error findings not expected). One finding per expectation,
    matched by kind and the exact set of articles."""
    unused = list(report.findings)
    missing = []
    for exp in expected:
        match = next(
            (
                f
                for f in unused
                if f.kind == exp["kind"] and {r.article_id for r in f.facts} == set(exp["articles"])
            ),
            None,
        )
        if match is None:
            missing.append(exp)
        else:
            unused.remove(match)
    listed = {(e["kind"], frozenset(e["articles"])) for e in expected}
    stray = [
        f
        for f in report.by_severity("error")
        if (f.kind, frozenset(r.article_id for r in f.facts)) not in listed
    ]
    return missing, stray


@pytest.mark.vcr
def test_regression_set(llm_base_url: str, tmp_path: Path) -> None:
    settings = Settings(model=RECORD_MODEL, base_url=llm_base_url, cache_dir=tmp_path, timeout=600)
    if not os.environ.get("FACTX_RECORD"):
        # The cassette was recorded by a process that had already learnt that the server
        # refuses json_schema (test_cassettes' cassette holds that refusal): it holds only
        # the fallback's requests. Alone, this test starts from the same knowledge.
        FORMATS.settle(llm_base_url.rstrip("/"), legacy=True)
    with Pipeline(settings) as pipe:
        results: list[ArticleFacts] = list(pipe.run([Item(path=p) for p in ARTICLES]))
    assert [r.status for r in results] == ["ok"] * len(ARTICLES)
    report = cross_check(r.validated() for r in results)
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    missing, stray = score_findings(report, expected)
    found = "\n".join(f"{f.severity} {f.kind}: {f.message}" for f in report.findings)
    assert not missing, f"not found: {missing}\nfindings:\n{found}"
    assert not stray, f"unexpected errors: {[f.message for f in stray]}"
