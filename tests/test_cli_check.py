"""`factx check`: output streams, exit codes, JSON and HTML output, usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from factx._cli import cli
from factx._schemas import ArticleFacts, CrossCheckReport, Source, TradeFigure


def _figure(value: float) -> TradeFigure:
    return TradeFigure(
        evidence="240 Milliarden US-Dollar",
        char_start=4,
        char_end=27,
        alignment="exact",
        value=value,
        value_text="240 Milliarden US-Dollar",
        currency="USD",
        period="2023",
        parties=("China", "Russland"),
    )


def _write(path: Path, *values: float) -> Path:
    lines = [
        ArticleFacts(
            article_id=f"art{i}",
            text_sha256=f"sha{i}",
            text="Mit 240 Milliarden US-Dollar lag der Handel auf Rekordniveau.",
            source=Source(published="2024-04-09"),
            trade_figures=(_figure(v),),
        ).model_dump_json()
        for i, v in enumerate(values)
    ]
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_table_to_stdout_progress_to_stderr(runner: CliRunner, tmp_path: Path) -> None:
    facts = _write(tmp_path / "facts.jsonl", 240e9, 240e9)
    result = runner.invoke(cli, ["check", str(facts)])
    assert result.exit_code == 0, result.output
    assert "number_agrees" in result.stdout and "checking 2 facts" not in result.stdout
    assert "checking 2 facts from 2 articles" in result.stderr


def test_json_output_is_a_report(runner: CliRunner, tmp_path: Path) -> None:
    facts = _write(tmp_path / "facts.jsonl", 240e9, 360e9)
    result = runner.invoke(cli, ["check", str(facts), "--json"])
    assert result.exit_code == 0
    report = CrossCheckReport.model_validate_json(result.stdout)
    (conflict,) = report.findings
    assert conflict.kind == "number_conflict" and conflict.severity == "error"
    assert {r.article_id for r in conflict.facts} == {"art0", "art1"}


@pytest.mark.parametrize(
    ("values", "fail_on", "code"),
    [
        ((240e9, 360e9), "error", 1),
        ((240e9, 360e9), "warning", 1),
        ((240e9, 240e9), "error", 0),  # only info findings
        ((240e9, 240e9), "warning", 0),
        ((240e9, 360e9), None, 0),  # without --fail-on findings never fail the run
    ],
)
def test_fail_on_exit_codes(
    runner: CliRunner, tmp_path: Path, values: tuple[float, ...], fail_on: str | None, code: int
) -> None:
    facts = _write(tmp_path / "facts.jsonl", *values)
    args = ["check", str(facts)] + (["--fail-on", fail_on] if fail_on else [])
    assert runner.invoke(cli, args).exit_code == code


def test_tolerance_option(runner: CliRunner, tmp_path: Path) -> None:
    facts = _write(tmp_path / "facts.jsonl", 240e9, 245e9)  # 2 % apart
    strict = runner.invoke(cli, ["check", str(facts), "--fail-on", "error"])
    loose = runner.invoke(cli, ["check", str(facts), "--fail-on", "error", "--tolerance", "0.05"])
    assert (strict.exit_code, loose.exit_code) == (1, 0)


def test_html_option_writes_the_page(runner: CliRunner, tmp_path: Path) -> None:
    facts = _write(tmp_path / "facts.jsonl", 240e9, 240e9)
    out = tmp_path / "review.html"
    result = runner.invoke(cli, ["check", str(facts), "--html", str(out)])
    assert result.exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert page.count('<mark class="ev t-trade_figure') == 2
    assert f"wrote {out}" in result.stderr


def test_reads_standard_input(runner: CliRunner, tmp_path: Path) -> None:
    facts = _write(tmp_path / "facts.jsonl", 240e9, 240e9)
    result = runner.invoke(cli, ["check", "-", "--json"], input=facts.read_text())
    assert result.exit_code == 0
    assert CrossCheckReport.model_validate_json(result.stdout).articles == ("art0", "art1")


@pytest.mark.parametrize(
    "args",
    [
        ["check", "missing.jsonl"],
        ["check", "FACTS", "--fail-on", "fatal"],
        ["check", "FACTS", "--tolerance", "-1"],
        ["check"],
    ],
)
def test_usage_errors_exit_2(runner: CliRunner, tmp_path: Path, args: list[str]) -> None:
    facts = _write(tmp_path / "facts.jsonl", 240e9)
    args = [str(facts) if a == "FACTS" else a for a in args]
    assert runner.invoke(cli, args).exit_code == 2


def test_invalid_record_names_the_line(runner: CliRunner, tmp_path: Path) -> None:
    facts = _write(tmp_path / "facts.jsonl", 240e9)
    facts.write_text(facts.read_text() + '{"article_id": 3}\n', encoding="utf-8")
    result = runner.invoke(cli, ["check", str(facts)])
    assert result.exit_code == 2
    assert "line 3" in result.stderr


def test_help_has_examples(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check", "-h"])
    assert result.exit_code == 0
    assert "Examples:" in result.stdout and "--fail-on" in result.stdout


def test_a_binary_file_is_a_usage_error_not_a_crash(runner: CliRunner, tmp_path: Path) -> None:
    facts = tmp_path / "bild.png"
    facts.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe" * 10)
    result = runner.invoke(cli, ["check", str(facts)])
    assert result.exit_code == 2, result.output
    assert "line 1: not UTF-8 text (a binary file?)" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(("start", "end"), [(40, 400), (30, 20)])  # negatives: the schema
def test_offsets_outside_the_text_are_refused(
    runner: CliRunner, tmp_path: Path, start: int, end: int
) -> None:
    facts = _write(tmp_path / "facts.jsonl", 240e9, 240e9)
    lines = facts.read_text(encoding="utf-8").splitlines()
    record = ArticleFacts.model_validate_json(lines[1])
    bad = record.trade_figures[0].model_copy(update={"char_start": start, "char_end": end})
    lines[1] = record.model_copy(update={"trade_figures": (bad,)}).model_dump_json()
    facts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(cli, ["check", str(facts)])
    assert result.exit_code == 2
    n = len(record.text)
    assert (
        f"line 2: article art1: a tradefigure's offsets {start}:{end} lie outside its text "
        f"({n} characters)"
    ) in result.stderr
