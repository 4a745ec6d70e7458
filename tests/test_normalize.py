"""German amounts, currencies and dates: table-driven (tests/data/normalize_cases.py)."""

from __future__ import annotations

import importlib.util
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from factx._amounts import Amount, amount_in_evidence, find_amounts, normalize_amount
from factx._dates import (
    check_weekday,
    date_in_evidence,
    find_dates,
    infer_year,
    resolve_date,
    span_date,
)
from factx._lexicon import RELATIVE_DAYS


def _load_cases() -> ModuleType:
    path = Path(__file__).parent / "data" / "normalize_cases.py"
    spec = importlib.util.spec_from_file_location("normalize_cases", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CASES = _load_cases()
SEEDS = Path(__file__).parents[1].parent / "shared" / "seeds"


# Amounts ---------------------------------------------------------------------------


@pytest.mark.parametrize(("phrase", "value", "currency", "qualifier", "is_percent"), CASES.AMOUNTS)
def test_normalize_amount(
    phrase: str, value: float, currency: str | None, qualifier: str | None, is_percent: bool
) -> None:
    a = normalize_amount(phrase)
    assert a is not None
    assert a == (value, currency)
    assert isinstance(a.value, int) == isinstance(value, int)
    assert a.qualifier == qualifier
    assert a.is_percent is is_percent


def test_amount_is_a_plain_pair_with_details() -> None:
    a = normalize_amount("rund 218,2 Milliarden US-Dollar")
    assert a == (218_200_000_000, "USD")
    assert (a.value, a.currency, a.qualifier) == (218_200_000_000, "USD", "rund")
    assert a.text == "rund 218,2 Milliarden US-Dollar"
    assert a != (218_200_000_000, "EUR")
    assert hash(a) == hash((218_200_000_000, "USD"))
    with pytest.raises(AttributeError):
        a.qualifier = "fast"  # type: ignore[misc]
    assert Amount(5, None, is_percent=True).is_percent


@pytest.mark.parametrize("phrase", ["ein Treffen", "im Kreml", "", "zwei Finger"])
def test_no_amount(phrase: str) -> None:
    assert normalize_amount(phrase) is None


@pytest.mark.parametrize(("text", "expected"), CASES.FIND_AMOUNTS)
def test_find_amounts(text: str, expected: list[tuple[str, float, str | None]]) -> None:
    got = [(m.text, m.amount.value, m.amount.currency) for m in find_amounts(text)]
    assert got == expected
    for m in find_amounts(text):
        assert text[m.start : m.end] == m.text


@pytest.mark.parametrize(
    ("evidence", "value", "currency", "ok"),
    [
        ("einen neuen Höchststand von 218,2 Milliarden US-Dollar", 218_200_000_000, "USD", True),
        ("einen neuen Höchststand von 218,2 Milliarden US-Dollar", 218_200_000, "USD", False),
        ("einen neuen Höchststand von 218,2 Milliarden US-Dollar", 218_200_000_000, "EUR", False),
        ("218,2 Milliarden US-Dollar (173,12 Milliarden Pfund)", 173_120_000_000, "GBP", True),
        ("der Handel wuchs um 26,3 Prozent", 26.3, None, True),
        ("der Handel wuchs kräftig", 26.3, None, False),
        ("einen Rekordwert von 240 Milliarden US-Dollar", 240_000_000_000.0, "USD", True),
    ],
)
def test_amount_in_evidence(evidence: str, value: float, currency: str | None, ok: bool) -> None:
    assert amount_in_evidence(evidence, value, currency) is ok


def test_seed_amounts_are_all_found() -> None:
    if not SEEDS.is_dir():
        pytest.skip("../shared/seeds not present")
    found = {
        (m.text, m.amount.value, m.amount.currency)
        for p in sorted(SEEDS.glob("*.txt"))
        for m in find_amounts(p.read_text(encoding="utf-8"))
    }
    assert found == {
        ("218,2 Milliarden US-Dollar", 218_200_000_000, "USD"),
        ("173,12 Milliarden Pfund", 173_120_000_000, "GBP"),
        ("240 Milliarden US-Dollar", 240_000_000_000, "USD"),
    }


# Dates -----------------------------------------------------------------------------


@pytest.mark.parametrize(("phrase", "published", "context", "value", "kind"), CASES.DATES)
def test_resolve_date(
    phrase: str, published: date | None, context: str, value: str | None, kind: str
) -> None:
    d = resolve_date(phrase, published, context=context)
    if kind == "none":
        assert d is None
        return
    assert d is not None
    assert (d.value, d.kind) == (value, kind)
    assert d.raw and d.raw in phrase


def test_vague_keeps_raw_and_a_hint_but_no_value() -> None:
    d = resolve_date("Der Minister könne sie im April oder Anfang Mai empfangen", date(2023, 2, 22))
    assert d is not None
    assert d.value is None and d.kind == "vague"
    assert d.raw == "April oder Anfang Mai"
    assert d.hint == "2023-04..2023-05"  # "könne": the coming spring


def test_qualifier_is_kept() -> None:
    d = resolve_date("vor fast einem Jahr", date(2023, 2, 22))
    assert d is not None and d.qualifier == "fast"
    d2 = resolve_date("Ende letzten Jahres", date(2023, 2, 22))
    assert d2 is not None and d2.qualifier == "Ende"


def test_year_from_context() -> None:
    ctx = "Im Jahr 2022 erreichte der Handel im Zeitraum Januar bis November einen Rekord"
    d = resolve_date("im Zeitraum Januar bis November", date(2024, 2, 8), context=ctx)
    assert d is not None and d.value == "2022-01..2022-11"


def test_find_dates_spans_and_order() -> None:
    text = "Am Dienstag sagte Wang, im vergangenen Jahr habe der Handel 240 Milliarden erreicht."
    got = [(m.text, m.date.value) for m in find_dates(text, date(2024, 4, 9))]
    assert got == [("Am Dienstag", "2024-04-09"), ("im vergangenen Jahr", "2023")]
    for m in find_dates(text, date(2024, 4, 9)):
        assert text[m.start : m.end] == m.text


def test_find_dates_prefers_the_longest_expression() -> None:
    got = find_dates("Im Dezember 2022 hielten Putin und Xi ein Treffen ab", None)
    assert [(m.text, m.date.value) for m in got] == [("Im Dezember 2022", "2022-12")]


@pytest.mark.parametrize(
    ("evidence", "iso", "published", "context", "ok"),
    [
        ("sagte Lawrow am Dienstag", "2024-04-09", date(2024, 4, 9), "", True),
        ("sagte Lawrow am Dienstag", "2024-04-02", date(2024, 4, 9), "", False),
        ("sagte Lawrow am Dienstag", "2024-04", date(2024, 4, 9), "", True),  # coarser
        ("im Zeitraum Januar bis November", "2023-01..2023-11", date(2024, 2, 8), "", True),
        ("im vergangenen Jahr auf 240 Milliarden", "2023", date(2024, 4, 9), "", True),
        ("im vergangenen Jahr auf 240 Milliarden", "2024", date(2024, 4, 9), "", False),
        ("Bei einem Treffen in Moskau sagte Wang", "2023-02-21", date(2023, 2, 21), "", False),
        ("im Juni", "2024-06", date(2024, 4, 9), "Putin und Xi würden sich im Juni treffen", True),
        ("im Juni", "2024-06", date(2024, 4, 9), "", False),
        (
            "Der Minister könne sie im April oder Anfang Mai empfangen",
            "2023-04",
            date(2023, 2, 22),
            "",
            False,
        ),
    ],
)
def test_date_in_evidence(evidence: str, iso: str, published: date, context: str, ok: bool) -> None:
    assert date_in_evidence(evidence, iso, published, context=context) is ok


# Weekday / date consistency ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "published", "issue"),
    [
        ("Dienstag, 21. Februar 2023", None, None),
        ("am Dienstag, den 21.02.2023", None, None),
        ("Dienstag, 22. Februar 2023", None, ("2023-02-22", "Mittwoch", 2022)),
        ("Donnerstag, 16. Mai 2024", None, None),
        ("Freitag, 16. Mai 2024", None, ("2024-05-16", "Donnerstag", 2025)),
        ("Dienstag, 21. Februar", date(2023, 2, 22), None),
        ("Mittwoch, 21. Februar", date(2023, 2, 22), ("2023-02-21", "Dienstag", 2024)),
        ("Dienstag, 21. Februar", None, None),  # no year, no publication date: nothing to check
    ],
)
def test_check_weekday(
    text: str, published: date | None, issue: tuple[str, str, int] | None
) -> None:
    issues = check_weekday(text, published)
    if issue is None:
        assert issues == []
        return
    assert len(issues) == 1
    i = issues[0]
    assert (i.date, i.actual_weekday, i.inferred_year) == issue
    assert text[i.start : i.end] == i.text


@pytest.mark.parametrize(
    ("weekday", "day", "month", "near", "year"),
    [
        ("Dienstag", 21, 2, 2024, 2023),
        ("Donnerstag", 16, 5, 2024, 2024),
        ("Montag", 29, 2, 2024, 2016),
    ],
)
def test_infer_year(weekday: str, day: int, month: int, near: int, year: int) -> None:
    assert infer_year(weekday, day, month, near) == year


# The date a span refers to ------------------------------------------------------------


def test_span_date_uses_the_sentence_then_earlier_days() -> None:
    text = (
        "Am Dienstag sagte Wang Nikolai Patruschew, die Beziehungen seien gut.\n"
        "„Wir sind bereit, zusammenzuarbeiten“, sagte Wang.\n"
        "„Heute möchte ich fortsetzen“, sagte Wang am Mittwoch."
    )
    pub = date(2023, 2, 22)
    q1 = text.index("Wir sind bereit")
    d1 = span_date(text, q1, q1 + 35, pub, inside=False)
    assert d1 is not None and d1.value == "2023-02-21"  # nearest earlier day
    q2 = text.index("Heute möchte")
    d2 = span_date(text, q2, q2 + 26, pub, inside=False)
    assert d2 is not None and d2.value == "2023-02-22"  # "am Mittwoch" outside the quote
    d3 = span_date(text, 0, 11, None)  # no publication date: found, but unresolved
    assert d3 is not None and (d3.value, d3.kind) == (None, "unresolved")
    assert span_date("Ohne jedes Datum.", 0, 5, pub) is None


@pytest.mark.parametrize("phrase", sorted(RELATIVE_DAYS))
def test_every_relative_day_of_the_lexicon_is_found_and_resolved(phrase: str) -> None:
    # The pattern is built from the table: each entry is found and moves the date by its days.
    published = date(2024, 3, 14)
    text = f"Die Delegation aus Tallinn reiste {phrase} nach Riga weiter."
    (m,) = find_dates(text, published)
    assert m.text.lower() == phrase
    assert m.date.value == (published + timedelta(days=RELATIVE_DAYS[phrase])).isoformat()


def test_morning_is_not_tomorrow() -> None:
    assert find_dates("Am Morgen tagte der Rat in Riga.", date(2024, 3, 14)) == []


@pytest.mark.parametrize(
    ("season", "expected"),
    [("Frühjahr", "2022-03..2022-05"), ("Herbst", "2022-09..2022-11"), ("Winter", None)],
)
def test_seasons_of_the_lexicon_become_month_ranges(season: str, expected: str | None) -> None:
    (m,) = find_dates(f"Die Gespräche sollen im {season} 2022 stattfinden.", date(2021, 5, 2))
    assert m.date.value == expected
    assert m.date.kind == ("range" if expected else "vague")
