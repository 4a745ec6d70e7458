"""Cross-document validator: the seed expectations, planted faults, entities, scale limits."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from factx._crosscheck import cross_check, parse_window, quote_similarity, weekday_conflict
from factx._entities import EntityResolver
from factx._schemas import ArticleFacts, CrossCheckReport, Finding, Source, TradeFigure

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GOLD = SHARED / "eval" / "seeds.gold.json"
CROSS_DOC = SHARED / "eval" / "seeds.cross_doc.json"
SEEDS = SHARED / "seeds"


@pytest.fixture(scope="module")
def gold() -> list[ArticleFacts]:
    if not GOLD.exists() or not SEEDS.is_dir():
        pytest.skip("../shared/eval gold set not present")
    from factx._gold import gold_to_results, load_gold

    # Optional items included: the 173.12 GBP figure is optional and the currency check needs it.
    return gold_to_results(load_gold(GOLD), SEEDS, include_optional=True)


def _article(results: list[ArticleFacts], prefix: str) -> ArticleFacts:
    return next(a for a in results if a.article_id.startswith(prefix))


def _edit(
    results: list[ArticleFacts], prefix: str, field: str, index: int, **update: Any
) -> list[ArticleFacts]:
    """A copy of ``results`` with one fact of one article changed (model_copy)."""
    out = []
    for art in results:
        if art.article_id.startswith(prefix):
            facts = list(getattr(art, field))
            facts[index] = facts[index].model_copy(update=update)
            art = art.model_copy(update={field: tuple(facts)})
        out.append(art)
    return out


def _articles(f: Finding) -> set[str]:
    return {r.article_id[:3] for r in f.facts}


def _find(
    report: CrossCheckReport, kind: str, pred: Callable[[Finding], bool] = lambda f: True
) -> list[Finding]:
    return [f for f in report.findings if f.kind == kind and pred(f)]


def _refs(f: Finding) -> set[tuple[str, str, int]]:
    return {(r.article_id[:3], r.type, r.index) for r in f.facts}


# Seeds: every expectation of seeds.cross_doc.json --------------------------------------


def test_every_cross_doc_expectation_is_found(gold: list[ArticleFacts]) -> None:
    expectations = json.loads(CROSS_DOC.read_text(encoding="utf-8"))
    report = cross_check(gold)
    unused = list(report.findings)
    # One finding per expectation: four same_event expectations need four distinct findings.
    for exp in expectations:
        match = next(
            (
                f
                for f in unused
                if f.kind == exp["kind"] and {r.article_id for r in f.facts} == set(exp["articles"])
            ),
            None,
        )
        assert match is not None, f"not found: {exp['kind']} {exp['articles']}: {exp['detail']}"
        unused.remove(match)


def _meeting_event(report: CrossCheckReport, results: list[ArticleFacts], who: set[str]) -> bool:
    for f in _find(report, "same_event"):
        if {r.type for r in f.facts} != {"meeting"}:
            continue
        surnames = set()
        for r in f.facts:
            art = next(a for a in results if a.article_id == r.article_id)
            surnames |= {p.split()[-1] for p in art.meetings[r.index].participants}
        if surnames == who and _articles(f) == {"000", "001"}:
            return True
    return False


def test_seed_events_are_the_right_facts(gold: list[ArticleFacts]) -> None:
    report = cross_check(gold)
    assert _meeting_event(report, gold, {"Yi", "Lawrow"})
    assert _meeting_event(report, gold, {"Yi", "Patruschew"})
    # Held in 000, "später am Tag" (planned) in 001.
    assert _meeting_event(report, gold, {"Yi", "Putin"})
    (new_start,) = _find(report, "same_event", lambda f: {r.type for r in f.facts} == {"treaty"})
    assert _refs(new_start) == {("000", "treaty", 0), ("001", "treaty", 0)}
    (agrees,) = _find(report, "number_agrees")
    assert _refs(agrees) == {("003", "trade_figure", 0), ("004", "trade_figure", 0)}
    (currency,) = _find(report, "currency_consistent")
    assert "0.793" in currency.message  # 173.12 / 218.2 GBP per USD


def test_clean_gold_has_no_errors_or_warnings(gold: list[ArticleFacts]) -> None:
    report = cross_check(gold)
    assert report.by_severity("error") == ()
    assert report.by_severity("warning") == ()
    assert report.articles == tuple(a.article_id for a in gold)


def test_findings_carry_spans_message_and_rule(gold: list[ArticleFacts]) -> None:
    report = cross_check(gold)
    texts = {a.article_id: a.text for a in gold}
    for f in report.findings:
        assert f.message and "\n" not in f.message and f.rule
        for r in f.facts:
            assert r.char_start is not None and r.char_end is not None
            assert texts[r.article_id][r.char_start : r.char_end] == r.evidence
    with pytest.raises(ValidationError):  # findings are frozen records
        report.findings[0].severity = "error"  # type: ignore[misc]


def test_corroboration_counts_independent_articles(gold: list[ArticleFacts]) -> None:
    report = cross_check(gold)
    lawrow = next(
        c
        for c in report.consolidated
        if c.type == "meeting" and "Lawrow" in c.summary and "Moskau" in c.summary
    )
    assert lawrow.corroboration == 2 and len(lawrow.articles) == 2
    # The same text under a second id is a republication, not a second source.
    copy = _article(gold, "000").model_copy(update={"article_id": "000_copy"})
    report2 = cross_check([*gold, copy])
    lawrow2 = next(c for c in report2.consolidated if c.summary == lawrow.summary)
    assert len(lawrow2.articles) == 3 and lawrow2.corroboration == 2


# Planted faults ------------------------------------------------------------------------


def test_changed_meeting_date_is_a_date_conflict(gold: list[ArticleFacts]) -> None:
    assert _article(gold, "001").meetings[0].participants == ("Wang Yi", "Sergej Lawrow")
    planted = _edit(gold, "001", "meetings", 0, date="2023-02-24")
    report = cross_check(planted)
    (conflict,) = _find(report, "date_conflict")
    assert conflict.severity == "error"
    assert ("001", "meeting", 0) in _refs(conflict) and ("000", "meeting", 1) in _refs(conflict)
    assert "2023-02-22" in conflict.message and "2023-02-24" in conflict.message


def test_far_apart_dates_are_different_meetings(gold: list[ArticleFacts]) -> None:
    report = cross_check(_edit(gold, "001", "meetings", 0, date="2023-06-20"))
    assert _find(report, "date_conflict") == []
    assert not _meeting_event(report, gold, {"Yi", "Lawrow"})


def test_trade_value_times_1_5_is_a_number_conflict(gold: list[ArticleFacts]) -> None:
    fig = _article(gold, "004").trade_figures[0]
    report = cross_check(_edit(gold, "004", "trade_figures", 0, value=fig.value * 1.5))
    (conflict,) = _find(report, "number_conflict")
    assert conflict.severity == "error"
    assert _refs(conflict) == {("003", "trade_figure", 0), ("004", "trade_figure", 0)}
    assert _find(report, "number_agrees") == []


def test_tolerance_decides_agreement(gold: list[ArticleFacts]) -> None:
    fig = _article(gold, "004").trade_figures[0]
    nudged = _edit(gold, "004", "trade_figures", 0, value=fig.value * 1.006)
    assert _find(cross_check(nudged), "number_agrees")
    assert _find(cross_check(nudged, tolerance=0.001), "number_conflict")
    with pytest.raises(ValueError):
        cross_check(gold, tolerance=-1)


def test_partial_period_above_annual_value(gold: list[ArticleFacts]) -> None:
    report = cross_check(_edit(gold, "002", "trade_figures", 0, value=250e9))
    (exceeds,) = _find(report, "partial_period_exceeds")
    assert exceeds.severity == "error"
    assert _articles(exceeds) == {"002", "003", "004"}
    assert _find(report, "partial_period_consistent") == []


def test_monthly_values_summing_beyond_the_year(gold: list[ArticleFacts]) -> None:
    base = _article(gold, "003").trade_figures[0]  # 240 bn USD for 2023
    months = tuple(
        base.model_copy(update={"period": f"2023-{m:02d}", "value": 30e9}) for m in range(1, 10)
    )
    extra = ArticleFacts(article_id="monthly", text_sha256="m", text="", trade_figures=months)

    def exceeded(n_months: int) -> set[str]:
        art = extra.model_copy(update={"trade_figures": months[:n_months]})
        found = _find(cross_check([*gold, art]), "partial_period_exceeds")
        assert all("monthly" in f.rule for f in found)
        return {f.message.rsplit(" for ", 1)[1].split(" ")[0] for f in found}

    # Gold: 218.2 bn for Jan-Nov 2023, 240 bn for 2023.
    assert exceeded(7) == set()  # 210 bn
    assert exceeded(8) == {"2023-01..2023-11"}  # 240 bn
    assert exceeded(9) == {"2023-01..2023-11", "2023"}  # 270 bn


def test_implausible_exchange_rate(gold: list[ArticleFacts]) -> None:
    report = cross_check(_edit(gold, "002", "trade_figures", 1, value=250e9))
    (bad,) = _find(report, "currency_implausible")
    assert bad.severity == "error" and _articles(bad) == {"002"}
    assert _find(report, "currency_consistent") == []


def test_swapped_speaker_on_translated_quote(gold: list[ArticleFacts]) -> None:
    felsenfest = _article(gold, "001").statements[2]
    assert "felsenfest" in felsenfest.quote and felsenfest.speaker == "Wang Yi"
    report = cross_check(_edit(gold, "001", "statements", 2, speaker="Sergej Lawrow"))
    (conflict,) = _find(report, "speaker_conflict")
    assert _refs(conflict) == {("000", "statement", 3), ("001", "statement", 2)}
    assert "Wang Yi" in conflict.message and "Sergej Lawrow" in conflict.message


def test_verbatim_quote_with_two_speakers_is_an_error(gold: list[ArticleFacts]) -> None:
    quote = _article(gold, "003").statements[1]
    # Mao Ning (004) "says" Xi's words (003); undated, so the dates cannot tell them apart.
    report = cross_check(_edit(gold, "004", "statements", 3, quote=quote.quote, date=None))
    (conflict,) = _find(report, "speaker_conflict")
    assert conflict.severity == "error"
    assert _refs(conflict) == {("003", "statement", 1), ("004", "statement", 3)}


@pytest.mark.parametrize(
    ("date_text", "mismatch"),
    [("am Dienstag", True), ("am Mittwoch", False), ("Mittwochabend", False), ("heute", False)],
)
def test_weekday_that_does_not_fit_the_date(
    gold: list[ArticleFacts], date_text: str, mismatch: bool
) -> None:
    # 2023-02-22 was a Wednesday.
    report = cross_check(_edit(gold, "001", "meetings", 0, date_text=date_text))
    found = _find(report, "weekday_mismatch")
    assert bool(found) is mismatch
    if mismatch:
        assert _refs(found[0]) == {("001", "meeting", 0)} and "Wednesday" not in found[0].message


def test_weekday_flag_from_extraction_is_reported(gold: list[ArticleFacts]) -> None:
    report = cross_check(_edit(gold, "003", "meetings", 0, flags=("weekday_mismatch",)))
    (found,) = _find(report, "weekday_mismatch")
    assert found.rule == "weekday: fact flag"


def test_treaty_contradictory_status_same_day(gold: list[ArticleFacts]) -> None:
    report = cross_check(_edit(gold, "001", "treaties", 0, status="signed"))
    (conflict,) = _find(report, "treaty_status_conflict")
    assert conflict.severity == "error" and _articles(conflict) == {"000", "001"}


def test_treaty_suspended_before_signed(gold: list[ArticleFacts]) -> None:
    report = cross_check(_edit(gold, "001", "treaties", 0, status="signed", date="2023-03-01"))
    (conflict,) = _find(report, "treaty_status_conflict")
    assert "before signed" in conflict.message


def test_event_announced_for_later_that_day(gold: list[ArticleFacts]) -> None:
    planned = _article(gold, "001").meetings[1]
    assert planned.status == "planned"
    undated = _edit(gold, "001", "meetings", 1, date=None, date_text="später am Tag")
    assert _meeting_event(cross_check(undated), gold, {"Yi", "Putin"})


# Canonical entities --------------------------------------------------------------------


def test_spelling_variants_still_make_one_event(gold: list[ArticleFacts]) -> None:
    variants = _edit(gold, "000", "meetings", 1, participants=("Wang", "Lavrov"))
    variants = _edit(variants, "000", "meetings", 2, participants=("Wang Yi", "N. Patrushev"))
    variants = _edit(variants, "001", "meetings", 2, location="Moscow")
    report = cross_check(variants)
    events = [_refs(f) for f in _find(report, "same_event")]
    assert {("000", "meeting", 1), ("001", "meeting", 0)} in events  # Wang + Lavrov
    assert {("000", "meeting", 2), ("001", "meeting", 2)} in events  # Patrushev, Moscow
    merges = {(e.text, e.canonical) for e in report.entities}
    assert {("Lavrov", "Sergej Lawrow"), ("Moscow", "Moskau")} <= merges
    lawrow = _find(report, "same_event", lambda f: "Lawrow" in f.message and "Moskau" in f.message)
    assert any("Lavrov → Sergej Lawrow" in f.rule for f in lawrow)


@pytest.mark.parametrize(
    ("kind", "a", "b"),
    [
        ("person", "Sergej Lawrow", "Lavrov"),
        ("person", "Nikolai Patruschew", "Patrushev"),
        ("person", "Xi Jinping", "Xi Jiinping"),
        ("person", "Wladimir Putin", "Präsident Putin"),
        ("person", "Juri Uschakow", "Yuri Ushakov"),
        ("place", "Peking", "Beijing"),
        ("place", "Moskau", "Moscow"),
        ("party", "USA", "Vereinigte Staaten"),
        ("party", "USA", "Washington"),
        ("party", "Russland", "Moskau"),
    ],
)
def test_aliases_merge(kind: str, a: str, b: str) -> None:
    names = EntityResolver()
    resolve = getattr(names, kind)
    ra, rb = resolve(a), resolve(b)
    assert ra.key == rb.key
    assert rb.rule != "exact"  # every merge says which rule matched


@pytest.mark.parametrize(
    ("a", "b"),
    [("Wang Yi", "Wang Wenbin"), ("Joe Biden", "Hunter Biden"), ("Xi Jinping", "Li Qiang")],
)
def test_different_people_stay_apart(a: str, b: str) -> None:
    names = EntityResolver()
    assert names.person(a).key != names.person(b).key


def test_unknown_names_fuzzy_surname_and_surname_alone() -> None:
    names = EntityResolver()
    first = names.person("Jens Stoltenberg")
    typo = names.person("Jens Stoltenbergh")
    alone = names.person("Stoltenberg")
    assert first.key == typo.key == alone.key
    assert "rapidfuzz" in typo.rule
    assert names.person("Olaf Scholz").key != first.key


# Helpers -------------------------------------------------------------------------------


def test_parse_window() -> None:
    assert parse_window("2023-02-22") == (parse_window("2023-02-22") or (None,))[:2]
    w = parse_window("2023-01..2023-11")
    assert w is not None and w[0].isoformat() == "2023-01-01" and w[1].isoformat() == "2023-11-30"
    year = parse_window("2024")
    assert year is not None and year[1].isoformat() == "2024-12-31"
    assert parse_window("2023-13") is None and parse_window("gestern") is None


def test_weekday_conflict_helper() -> None:
    assert weekday_conflict("2023-02-21", "Dienstag, 21. Februar") is None
    assert weekday_conflict("2023-02-21", "Donnerstag") == "Donnerstag"
    assert weekday_conflict("2023-02", "Donnerstag") is None  # no day to check


@pytest.mark.parametrize(("text", "named"), [
    ("DİENSTAG", None), ("am dıenstag", None), ("ſonntag", "Sonntag"), ("FREİTAG", "Freitag"),
])  # fmt: skip
def test_weekday_names_with_letters_ignorecase_also_matches(text: str, named: str | None) -> None:
    # re.IGNORECASE takes İ and ı for i and ſ for s; casefold alone left "di̇enstag", which
    # is no weekday's spelling (the check raised KeyError).
    assert weekday_conflict("2023-02-21", text) == named


def test_quote_similarity_separates_translations_from_other_quotes() -> None:
    a = "Unsere Bande sind stabil und werden jeder Prüfung in einer unruhigen Zeit standhalten"
    b = "Unsere Bande sind gereift, stabil und werden die Prüfung der unruhigen Zeit bestehen"
    c = "Wir wollen gemeinsam die Versorgung mit Energie in der Region sichern"
    assert quote_similarity(a, b) >= 0.6 > quote_similarity(a, c)


# Scale ---------------------------------------------------------------------------------


def _synthetic(n_articles: int) -> list[ArticleFacts]:
    """Articles that each report the same trade figure: one huge block, one agreeing value."""
    fig = TradeFigure(
        evidence="x",
        value=1e9,
        value_text="1 Mrd.",
        currency="USD",
        period="2023",
        parties=("China", "Russland"),
    )
    return [
        ArticleFacts(
            article_id=f"a{i}",
            text_sha256=str(i),
            text="x",
            source=Source(published="2024-01-10"),
            trade_figures=(fig,),
        )
        for i in range(n_articles)
    ]


def test_one_large_block_stays_one_finding() -> None:
    report = cross_check(_synthetic(3000))
    (agrees,) = report.findings
    assert agrees.kind == "number_agrees" and len(agrees.facts) == 3000
    (consolidated,) = report.consolidated
    assert consolidated.corroboration == 3000


def test_a_pair_below_the_overlap_floor_can_never_match() -> None:
    # The Parquet check drops such pairs in SQL before scoring them; that is only exact
    # while their score (overlap / 2) stays below the match threshold.
    from factx._crossquotes import _OVERLAP_FLOOR, QUOTE_MIN_SCORE

    assert _OVERLAP_FLOOR / 2 < QUOTE_MIN_SCORE
    a = "Die Zusammenarbeit beider Staaten wird weiter vertieft und ausgebaut"
    b = "Zusammenarbeit heißt für uns Handel, Energie, Forschung, Raumfahrt, Landwirtschaft"
    assert quote_similarity(a, b) < _OVERLAP_FLOOR / 2 + 1e-9


def test_findings_spill_to_their_writer_once_enough_are_held() -> None:
    from factx._crossitems import _Findings

    out = _Findings()
    out.spill_at = 3
    written: list[int] = []

    def spill() -> None:
        written.append(len(out.findings) + len(out.consolidated))
        out.findings.clear()
        out.consolidated.clear()

    out.spill = spill
    for k in range(7):
        out.consolidate("statement", [], f"summary {k}")
    assert written == [3, 3] and len(out.consolidated) == 1
    out.spill = None
    for k in range(5):
        out.consolidate("statement", [], f"more {k}")
    assert written == [3, 3] and len(out.consolidated) == 6
