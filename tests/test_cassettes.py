"""The whole pipeline against recorded answers of a real llama.cpp server (Qwen2.5-Coder-1.5B).

These check what factx does with real model output: grounding, normalisation, flags, the
cache, the CLI. Re-record with the command in conftest.py when prompts or schemas change.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from factx import ArticleFacts, Pipeline, Settings
from factx._batch import Item
from factx._cli import cli
from factx._store import Store

from .conftest import DATA, RECORD_MODEL, SECRET_HEADERS

ARTICLES = sorted(DATA.glob("*.txt"))


def _settings(base_url: str, tmp_path: Path) -> Settings:
    return Settings(model=RECORD_MODEL, base_url=base_url, cache_dir=tmp_path, timeout=600)


def _check_grounded(result: ArticleFacts) -> None:
    for fact in result.facts():
        if fact.alignment != "none":
            assert fact.char_start is not None and fact.char_end is not None
            assert result.text[fact.char_start : fact.char_end] == fact.evidence


@pytest.mark.vcr
def test_extract_articles(llm_base_url: str, tmp_path: Path) -> None:
    with Pipeline(_settings(llm_base_url, tmp_path)) as pipe:
        results = list(pipe.run([Item(path=p) for p in ARTICLES]))
    assert [r.article_id for r in results] == [p.stem for p in ARTICLES]
    by_id = {r.article_id: r for r in results}
    for r in results:
        assert r.status == "ok", r.errors
        assert r.usage.calls > 0 and r.usage.prompt_tokens > 0
        assert r.facts(), f"{r.article_id}: no facts"
        _check_grounded(r)

    call = by_id["telefonat_2024-02"]
    # "am Donnerstag" before publication on Friday 2024-02-09.
    phone = [m for m in call.meetings if m.kind == "phone"]
    assert phone and {"Xi Jinping", "Wladimir Putin"} <= set(phone[0].participants)
    assert any(m.date == "2024-02-08" for m in phone)
    assert [(f.value, f.currency, f.period) for f in call.trade_figures] == [
        (218_200_000_000, "USD", "2023-01..2023-11")
    ]
    assert any(s.speaker == "Juri Uschakow" for s in call.statements)

    wang = by_id["wang_moskau_2023-02"]
    assert any(s.speaker == "Wang Yi" for s in wang.statements)


@pytest.mark.vcr
def test_rerun_is_served_from_the_store(llm_base_url: str, tmp_path: Path) -> None:
    article = DATA / "telefonat_2024-02.txt"
    settings = _settings(llm_base_url, tmp_path)
    with Pipeline(settings) as pipe:
        first = list(pipe.run([Item(path=article)]))
        assert pipe.stats.extracted == 1
        pipe.stop()
        # stop() ends that run; the same pipeline runs again, from the cache.
        again = list(pipe.run([Item(path=article)]))
    assert [r.model_dump_json() for r in again] == [r.model_dump_json() for r in first]
    with Pipeline(settings) as pipe:
        second = list(pipe.run([Item(path=article)]))
        assert (pipe.stats.extracted, pipe.stats.cached, pipe.stats.calls) == (0, 1, 0)
        # The server is never started for a fully cached batch.
        assert pipe._extractor is None
    assert [r.model_dump_json() for r in first] == [r.model_dump_json() for r in second]
    with Store(settings.resolved_store_path) as store:
        assert store.count("articles") == 1
        assert store.count("calls") == first[0].usage.calls


@pytest.mark.vcr
def test_cli_extract_writes_one_line_per_article(llm_base_url: str, tmp_path: Path) -> None:
    out = tmp_path / "facts.jsonl"
    runner = CliRunner()
    args = [
        "extract", str(DATA / "wang_moskau_2023-02.txt"), "-o", str(out),
        "--base-url", llm_base_url, "-m", RECORD_MODEL,
        "--store", str(tmp_path / "s.sqlite3"), "--stats", "--timeout", "600",
    ]  # fmt: skip
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    result = ArticleFacts.model_validate_json(lines[0])
    _check_grounded(result)
    assert "1 extracted, 0 cached, 0 failed" in res.stderr
    # A rerun spends nothing and writes the same line.
    res2 = runner.invoke(cli, args)
    assert res2.exit_code == 0
    assert "stats: llm_calls=0 " in res2.stderr
    assert out.read_text(encoding="utf-8").splitlines() == lines
    assert json.loads(lines[0])["model"] == RECORD_MODEL


def test_no_committed_cassette_holds_a_key() -> None:
    """Every checked-in cassette: no secret header, no key-shaped string anywhere."""
    paths = sorted((Path(__file__).parent.parent / "cassettes").rglob("*.yaml"))
    assert paths
    key = re.compile(r"\bsk-[A-Za-z0-9_-]{8,}|Bearer\s+\S+", re.I)
    for path in paths:
        raw = path.read_text(encoding="utf-8")
        assert not key.search(raw), path
        for it in yaml.safe_load(raw)["interactions"]:
            for part in ("request", "response"):
                names = {h.lower() for h in it[part].get("headers", {})}
                assert not names & set(SECRET_HEADERS), (path, names & set(SECRET_HEADERS))
            # Recorded from a real server: its own response headers are there.
            assert "server" in {h.lower() for h in it["response"]["headers"]}, path
