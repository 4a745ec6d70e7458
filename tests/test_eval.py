from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from factx._errors import InputError
from factx._eval import EvalReport, load_gold_set, load_results, score
from factx._gold import (
    GoldArticle,
    GoldMeeting,
    GoldStatement,
    GoldTradeFigure,
    GoldTreaty,
    gold_to_results,
    load_gold,
)
from factx._schemas import ArticleFacts, Meeting, Statement, TradeFigure, Treaty

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

TEXT = (
    "Wladimir Putin traf am Dienstag in Moskau den chinesischen Außenminister Wang Yi. "
    "Lawrow sagte: „Unsere Beziehungen entwickeln sich trotz aller Turbulenzen dynamisch "
    "weiter.“ Beide Seiten unterzeichneten ein Abkommen über Energiezusammenarbeit. "
    "Putin und Xi treffen sich im Mai in China. Im Juni sehen sie sich in Kasachstan. "
    "Der Handel erreichte 240 Milliarden US-Dollar."
)
QUOTE = "Unsere Beziehungen entwickeln sich trotz aller Turbulenzen dynamisch weiter."
MEET = "Wladimir Putin traf am Dienstag in Moskau"
TREATY = "Beide Seiten unterzeichneten ein Abkommen über Energiezusammenarbeit."
TRADE = "240 Milliarden US-Dollar"


def span(evidence: str) -> dict[str, Any]:
    """Evidence with the offsets a grounded fact would carry (alignment none if absent)."""
    i = TEXT.find(evidence)
    if i < 0:
        return {"evidence": evidence}
    return {
        "evidence": evidence,
        "char_start": i,
        "char_end": i + len(evidence),
        "alignment": "exact",
    }


def article(article_id: str = "a1", **facts: Any) -> ArticleFacts:
    sha = hashlib.sha256(TEXT.encode()).hexdigest()
    return ArticleFacts(article_id=article_id, text_sha256=sha, text=TEXT, **facts)


def meeting(*people: str, evidence: str = MEET, **kw: Any) -> Meeting:
    return Meeting(participants=people, **span(evidence), **kw)


def statement(speaker: str, quote: str = QUOTE, **kw: Any) -> Statement:
    return Statement(speaker=speaker, quote=quote, **span(quote), **kw)


def treaty(name: str, parties: tuple[str, ...], evidence: str = TREATY, **kw: Any) -> Treaty:
    return Treaty(name=name, parties=parties, **span(evidence), **kw)


def figure(value: float, currency: str = "USD", **kw: Any) -> TradeFigure:
    return TradeFigure(value=value, value_text=TRADE, currency=currency, **span(TRADE), **kw)


def gold(article_id: str = "a1", **facts: Any) -> GoldArticle:
    return GoldArticle(article=article_id, **facts)


G_MEETING = GoldMeeting(
    participants=("Wladimir Putin", "Wang Yi"),
    location="Moskau",
    date="2023-02-21",
    kind="in_person",
    status="held",
    evidence=MEET,
)
G_STATEMENT = GoldStatement(speaker="Sergej Lawrow", quote=QUOTE, date="2023-02-21")
G_TREATY = GoldTreaty(
    name="Abkommen über Energiezusammenarbeit",
    parties=("Russland", "China"),
    status="signed",
    evidence=TREATY,
)
G_FIGURE = GoldTradeFigure(
    value=240e9, currency="USD", period="2023", metric="bilateral trade volume", evidence=TRADE
)


def test_exact_matches_score_one() -> None:
    result = article(
        meetings=(
            meeting(
                "Wladimir Putin",
                "Wang Yi",
                location="Moskau",
                date="2023-02-21",
                kind="in_person",
            ),
        ),
        statements=(statement("Sergej Lawrow", date="2023-02-21"),),
        treaties=(treaty("Abkommen über Energiezusammenarbeit", ("Russland", "China")),),
        trade_figures=(figure(240e9, period="2023"),),
    )
    g = gold(
        meetings=(G_MEETING,),
        statements=(G_STATEMENT,),
        treaties=(G_TREATY,),
        trade_figures=(G_FIGURE,),
    )
    report = score([result], [g])
    for kind, s in report.types.items():
        assert (s.tp, s.fp, s.fn, s.f1) == (1, 0, 0, 1.0), kind
    assert (report.micro.tp, report.micro.f1) == (4, 1.0)
    assert {k: f.accuracy for k, f in report.fields.items()} == dict.fromkeys(report.fields, 1.0)
    assert report.grounded.share == 1.0
    assert report.warnings == ()


@pytest.mark.parametrize(
    ("participants", "speaker"),
    [
        (("Putin", "Wang"), "Lawrow"),  # surnames alone; Wang Yi is family name first
        (("Vladimir Putin", "Wang Yi"), "Sergei Lavrov"),  # English transliteration
        (("Präsident Putin", "Außenminister Wang"), "S. Lawrow"),  # titles, initial
    ],
)
def test_surnames_and_transliterations_match(participants: tuple[str, ...], speaker: str) -> None:
    result = article(meetings=(meeting(*participants),), statements=(statement(speaker),))
    report = score([result], [gold(meetings=(G_MEETING,), statements=(G_STATEMENT,))])
    assert (report.types["meeting"].tp, report.types["statement"].tp) == (1, 1)
    assert report.micro.fp == report.micro.fn == 0
    assert report.fields["speaker"].accuracy == 1.0


def test_transliterated_gold_names() -> None:
    g = gold(
        meetings=(GoldMeeting(participants=("Wang Yi", "Nikolai Patruschew"), evidence=MEET),),
        statements=(GoldStatement(speaker="Juri Uschakow", quote=QUOTE),),
    )
    result = article(
        meetings=(meeting("Wang Yi", "Nikolai Patrushev"),),
        statements=(statement("Yuri Ushakov"),),
    )
    assert score([result], [g]).micro.tp == 2


def test_meeting_needs_two_shared_people_unless_gold_has_one() -> None:
    report = score([article(meetings=(meeting("Putin", "Lawrow"),))], [gold(meetings=(G_MEETING,))])
    assert (report.micro.tp, report.micro.fp, report.micro.fn) == (0, 1, 1)

    solo = GoldMeeting(participants=("Xi Jinping",), evidence="Putin und Xi treffen sich")
    report = score([article(meetings=(meeting("Xi", "Putin"),))], [gold(meetings=(solo,))])
    assert report.micro.tp == 1


@pytest.mark.parametrize(
    ("quote", "speaker", "matched"),
    [
        ("eins zwei drei vier fünf sechs sieben x y z", "Lawrow", True),  # 7 of 10 shared
        ("eins zwei drei vier fünf sechs x y z w", "Lawrow", False),  # 6 of 10
        ("„Eins, zwei, drei … vier“", "Lawrow", True),  # a fragment: share of the shorter
        ("eins zwei drei vier fünf sechs sieben acht neun zehn", "Wang Yi", False),
    ],
)
def test_statement_quote_overlap(quote: str, speaker: str, matched: bool) -> None:
    g = GoldStatement(
        speaker="Sergej Lawrow", quote="eins zwei drei vier fünf sechs sieben acht neun zehn"
    )
    report = score([article(statements=(statement(speaker, quote),))], [gold(statements=(g,))])
    assert report.micro.tp == int(matched)
    assert report.micro.fn == int(not matched)


def test_one_to_one_the_more_similar_extraction_wins() -> None:
    paraphrase = "Unsere Beziehungen entwickeln sich dynamisch weiter, sagte er heute."
    result = article(statements=(statement("Lawrow", paraphrase), statement("Lawrow")))
    report = score([result], [gold(statements=(G_STATEMENT,))])
    s = report.types["statement"]
    assert (s.tp, s.fp, s.fn) == (1, 1, 0)
    assert [m.extracted for m in report.articles[0].matches] == [1]
    assert report.articles[0].false_positives[0].startswith("statement[0] Lawrow")


def test_one_to_one_each_gold_fact_is_matched_once() -> None:
    result = article(meetings=(meeting("Putin", "Wang Yi"),))
    report = score([result], [gold(meetings=(G_MEETING, G_MEETING))])
    assert (report.micro.tp, report.micro.fp, report.micro.fn) == (1, 0, 1)


def test_evidence_decides_between_meetings_of_the_same_people() -> None:
    may = GoldMeeting(
        participants=("Wladimir Putin", "Xi Jinping"),
        date="2024-05",
        evidence="Putin und Xi treffen sich im Mai in China.",
    )
    june = may.model_copy(update={"date": "2024-06", "evidence": "Im Juni sehen sie sich"})
    result = article(
        meetings=(
            meeting(
                "Putin", "Xi", evidence="Im Juni sehen sie sich in Kasachstan.", date="2024-06"
            ),
            meeting("Putin", "Xi", evidence="Putin und Xi treffen sich im Mai", date="2024-05"),
        )
    )
    report = score([result], [gold(meetings=(may, june))])
    assert report.micro.tp == 2
    assert report.fields["date"].accuracy == 1.0


def test_optional_items_count_neither_way() -> None:
    optional = GoldStatement(
        speaker="Wang Yi", quote="zu verteidigen und zu vertiefen", optional=True
    )
    g = gold(statements=(G_STATEMENT, optional))
    extra = statement("Wang Yi", "zu verteidigen und zu vertiefen")

    both = score([article(statements=(statement("Lawrow"), extra))], [g]).types["statement"]
    assert (both.tp, both.fp, both.fn, both.optional, both.f1) == (1, 0, 0, 1, 1.0)

    required_only = score([article(statements=(statement("Lawrow"),))], [g]).types["statement"]
    assert (required_only.tp, required_only.fn, required_only.f1) == (1, 0, 1.0)

    optional_only = score([article(statements=(extra,))], [g]).types["statement"]
    assert (optional_only.tp, optional_only.fp, optional_only.fn) == (0, 0, 1)


def test_a_tie_goes_to_the_required_gold_item() -> None:
    g = gold(statements=(G_STATEMENT.model_copy(update={"optional": True}), G_STATEMENT))
    report = score([article(statements=(statement("Lawrow"),))], [g])
    assert report.articles[0].matches[0].gold == 1
    assert (report.micro.tp, report.micro.fn) == (1, 0)


def test_empty_inputs() -> None:
    nothing = score([], [])
    assert (nothing.micro.tp, nothing.micro.fp, nothing.micro.fn) == (0, 0, 0)
    assert nothing.micro.f1 == 1.0  # nothing to find, nothing found
    assert nothing.grounded.share is None
    assert nothing.fields["date"].accuracy is None

    g = gold(meetings=(G_MEETING,), statements=(G_STATEMENT,))
    missing = score([], [g])
    assert (missing.micro.recall, missing.micro.precision, missing.micro.fn) == (0.0, 0.0, 2)
    assert not missing.articles[0].in_results
    assert "no result" in missing.warnings[0]

    empty_article = score([article()], [g])
    assert (empty_article.micro.recall, empty_article.micro.fn) == (0.0, 2)
    assert empty_article.warnings == ()


def test_results_outside_the_gold_set_are_ignored_with_a_warning() -> None:
    results = [
        article("a1", statements=(statement("Lawrow"),)),
        article("zz", meetings=(meeting("Putin", "Wang"),)),
    ]
    report = score(results, [gold("a1", statements=(G_STATEMENT,))])
    assert (report.micro.tp, report.micro.fp) == (1, 0)
    assert report.warnings == ("article zz: not in the gold set; ignored",)
    assert report.grounded.total == 1
    assert [a.article_id for a in report.articles] == ["a1"]


def test_a_duplicate_result_is_scored_once() -> None:
    r = article(statements=(statement("Lawrow"),))
    report = score([r, r], [gold(statements=(G_STATEMENT,))])
    assert (report.micro.tp, report.micro.fp) == (1, 0)
    assert "more than one result" in report.warnings[0]


@pytest.mark.parametrize(
    ("extracted", "matched"),
    [
        # Overlapping evidence, whatever the name.
        (treaty("Energieabkommen", (), evidence="unterzeichneten ein Abkommen"), True),
        # No evidence in the text: a fuzzy name and the same parties under other names.
        (treaty("Abkommen zur Energiezusammenarbeit", ("Russia", "VR China"), evidence="x"), True),
        (treaty("Abkommen über Energiezusammenarbeit", ("Russland", "USA"), evidence="x"), False),
        (treaty("New START", ("Russland", "China"), evidence="x"), False),
    ],
)
def test_treaty_matching(extracted: Treaty, matched: bool) -> None:
    report = score([article(treaties=(extracted,))], [gold(treaties=(G_TREATY,))])
    assert report.micro.tp == int(matched)


@pytest.mark.parametrize(
    ("value", "currency", "matched"),
    [
        (240e9, "USD", True),
        (241.2e9, "USD", True),  # 0.5 % off
        (241.5e9, "USD", False),  # 0.625 % off
        (240e9, "EUR", False),
    ],
)
def test_trade_figure_matching(value: float, currency: str, matched: bool) -> None:
    report = score(
        [article(trade_figures=(figure(value, currency),))], [gold(trade_figures=(G_FIGURE,))]
    )
    assert report.micro.tp == int(matched)


def test_field_accuracy_over_matched_pairs() -> None:
    result = article(
        meetings=(meeting("Putin", "Wang", location="Beijing", date="2023-2-22", kind="phone"),),
        statements=(statement("Wang Wenbin", date="2023-2-21"),),  # same surname, wrong person
    )
    g = gold(
        meetings=(G_MEETING.model_copy(update={"location": "Peking", "kind": None}),),
        statements=(GoldStatement(speaker="Wang Yi", quote=QUOTE, date="2023-02-21"),),
    )
    report = score([result], [g])
    assert report.micro.tp == 2
    f = report.fields
    assert (f["date"].correct, f["date"].total) == (1, 2)  # meeting off by a day
    assert f["location"].accuracy == 1.0  # Beijing is Peking
    assert f["kind"].total == 0  # gold leaves it unannotated
    assert f["status"].accuracy == 1.0
    assert f["speaker"].accuracy == 0.0
    assert f["period"].accuracy is None


def test_grounded_share_counts_what_is_in_the_file() -> None:
    ungrounded = Statement(speaker="Lawrow", quote=QUOTE, evidence=QUOTE)  # no offsets
    flagged = statement("Lawrow").model_copy(update={"flags": ("speaker_not_in_text",)})
    report = score([article(statements=(ungrounded, flagged))], [gold(statements=(G_STATEMENT,))])
    assert (report.grounded.grounded, report.grounded.total, report.grounded.share) == (1, 2, 0.5)
    # Both are scored: the flagged one matches, the other one is a false positive.
    assert (report.micro.tp, report.micro.fp) == (1, 1)


def test_report_is_frozen_and_round_trips_through_json() -> None:
    report = score([article(statements=(statement("Lawrow"),))], [gold(statements=(G_STATEMENT,))])
    assert EvalReport.model_validate_json(report.model_dump_json()) == report
    with pytest.raises(ValueError, match="frozen"):
        report.warnings = ("x",)


def test_load_results_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "facts.jsonl"
    path.write_text(article().model_dump_json() + "\n\n{not json}\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 3"):
        load_results(path)
    path.write_text(article().model_dump_json() + "\n\n", encoding="utf-8")
    assert [r.article_id for r in load_results(path)] == ["a1"]


def test_load_gold_set_rejects_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "gold.json"
    path.write_text('[{"article": "a1", "meetings": [{"location": "Moskau"}]}]', encoding="utf-8")
    with pytest.raises(InputError, match="participants"):
        load_gold_set(path)


# The acceptance checks on the shared seeds ------------------------------------------


def _seeds() -> list[GoldArticle]:
    if not (SHARED / "eval" / "seeds.gold.json").exists():
        pytest.skip("../shared/eval is not checked out next to the repo")
    return load_gold(SHARED / "eval" / "seeds.gold.json")


@pytest.mark.parametrize("include_optional", [False, True])
def test_seed_gold_scored_against_itself_is_perfect(include_optional: bool) -> None:
    g = _seeds()
    results = gold_to_results(g, SHARED / "seeds", include_optional=include_optional)
    report = score(results, g)
    assert report.micro.f1 == 1.0
    assert all(s.f1 == 1.0 for s in report.types.values())
    assert all(f.accuracy == 1.0 for f in report.fields.values())
    assert report.grounded.share == 1.0
    assert (report.micro.optional > 0) == include_optional


def test_seed_gold_against_nothing_has_recall_zero() -> None:
    g = _seeds()
    report = score([], g)
    assert report.micro.recall == 0.0
    assert report.micro.fn == sum(
        not item.optional
        for a in g
        for item in (*a.meetings, *a.statements, *a.treaties, *a.trade_figures)
    )


def test_metric_accuracy_maps_the_gold_free_text_by_its_words() -> None:
    golds = (
        G_FIGURE.model_copy(update={"metric": "China exports to Russia"}),
        GoldTradeFigure(value=9e9, currency="USD", period="2023",
                        metric="grain supply contract value", evidence=TRADE),
        GoldTradeFigure(value=5e9, currency="USD", period="2023", evidence=TRADE),  # no metric
    )  # fmt: skip
    extracted = (
        figure(240e9, period="2023", metric="exports"),
        figure(9e9, period="2023", metric="trade_volume"),  # wrong: a contract's value
        figure(5e9, period="2023", metric="imports"),  # unannotated in gold: not scored
    )
    report = score([article(trade_figures=extracted)], [gold(trade_figures=golds)])
    assert report.types["trade_figure"].tp == 3
    metric = report.fields["metric"]
    assert (metric.correct, metric.total) == (1, 2)
