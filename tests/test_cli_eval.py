from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from factx._cli import cli
from factx._eval import EvalReport
from factx._gold import gold_to_results, load_gold
from factx._schemas import ArticleFacts, Statement

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

TEXT = "Lawrow sagte: „Wir wollen die Fährlinie über den Amur bis zum Herbst öffnen.“"
QUOTE = "Wir wollen die Fährlinie über den Amur bis zum Herbst öffnen."
GOLD = [
    {"article": "a1", "statements": [{"speaker": "Sergej Lawrow", "quote": QUOTE}]},
    {"article": "a2", "statements": [{"speaker": "Wang Yi", "quote": "vier Wörter sind genug"}]},
]


def _article(article_id: str, *statements: Statement) -> ArticleFacts:
    sha = hashlib.sha256(TEXT.encode()).hexdigest()
    return ArticleFacts(article_id=article_id, text_sha256=sha, text=TEXT, statements=statements)


def _write(tmp_path: Path, results: list[ArticleFacts]) -> tuple[Path, Path]:
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps(GOLD), encoding="utf-8")
    facts = tmp_path / "facts.jsonl"
    facts.write_text("".join(r.model_dump_json() + "\n" for r in results), encoding="utf-8")
    return gold, facts


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["eval", *map(str, args)])


def _statement() -> Statement:
    start = TEXT.index(QUOTE)
    return Statement(
        speaker="Lavrov",
        quote=QUOTE,
        evidence=QUOTE,
        char_start=start,
        char_end=start + len(QUOTE),
        alignment="exact",
    )


def test_json_report(tmp_path: Path) -> None:
    gold, facts = _write(tmp_path, [_article("a1", _statement()), _article("a2")])
    result = _run("--gold", gold, facts, "--json")
    assert result.exit_code == 0, result.output
    report = EvalReport.model_validate_json(result.stdout)
    s = report.types["statement"]
    assert (s.tp, s.fp, s.fn, s.recall) == (1, 0, 1, 0.5)
    assert result.stderr == ""


def test_table_and_verbose_breakdown(tmp_path: Path) -> None:
    gold, facts = _write(tmp_path, [_article("a1", _statement()), _article("a2")])
    plain = _run("--gold", gold, facts)
    assert plain.exit_code == 0, plain.output
    assert "micro" in plain.stdout and "0.667" in plain.stdout  # F1 of 1 hit, 1 miss
    assert "a2" not in plain.stdout

    verbose = _run("--gold", gold, facts, "--verbose")
    assert verbose.exit_code == 0, verbose.output
    assert "a2  miss  statement[0] Wang Yi" in verbose.stdout


def test_warnings_go_to_stderr(tmp_path: Path) -> None:
    gold, facts = _write(tmp_path, [_article("a1", _statement()), _article("zz")])
    result = _run("--gold", gold, facts, "--json")
    assert result.exit_code == 0
    assert "article zz: not in the gold set" in result.stderr
    assert "article a2: no result" in result.stderr
    assert len(EvalReport.model_validate_json(result.stdout).warnings) == 2


def test_bad_facts_line_is_a_usage_error(tmp_path: Path) -> None:
    gold, facts = _write(tmp_path, [_article("a1")])
    facts.write_text(facts.read_text(encoding="utf-8") + '{"article_id": "a2"}\n', encoding="utf-8")
    result = _run("--gold", gold, facts)
    assert result.exit_code == 2
    assert "line 2: not an ArticleFacts record" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("content", ["[{not json", '{"article": "a1"}', "[]\xff"])
def test_bad_gold_file_is_a_usage_error(tmp_path: Path, content: str) -> None:
    _, facts = _write(tmp_path, [])
    gold = tmp_path / "bad.json"
    gold.write_text(content, encoding="latin-1")
    result = _run("--gold", gold, facts)
    assert result.exit_code == 2
    assert "not a gold set" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_missing_files_and_options(tmp_path: Path) -> None:
    gold, facts = _write(tmp_path, [])
    assert _run("--gold", tmp_path / "nope.json", facts).exit_code == 2
    assert _run("--gold", gold, tmp_path / "nope.jsonl").exit_code == 2
    assert _run(facts).exit_code == 2  # --gold is required


def test_help_has_an_example() -> None:
    result = _run("-h")
    assert result.exit_code == 0
    assert "factx eval --gold" in result.stdout and "--verbose" in result.stdout


@pytest.mark.parametrize("include_optional", [False, True])
def test_seed_gold_against_itself(tmp_path: Path, include_optional: bool) -> None:
    gold = SHARED / "eval" / "seeds.gold.json"
    if not gold.exists():
        pytest.skip("../shared/eval is not checked out next to the repo")
    results = gold_to_results(load_gold(gold), SHARED / "seeds", include_optional=include_optional)
    facts = tmp_path / "facts.jsonl"
    facts.write_text("".join(r.model_dump_json() + "\n" for r in results), encoding="utf-8")
    result = _run("--gold", gold, facts, "--json")
    assert result.exit_code == 0, result.output
    assert EvalReport.model_validate_json(result.stdout).micro.f1 == 1.0

    facts.write_text("", encoding="utf-8")
    empty = EvalReport.model_validate_json(_run("--gold", gold, facts, "--json").stdout)
    assert empty.micro.recall == 0.0
