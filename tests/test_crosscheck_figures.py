"""The cross-check compares like with like: metric, direction, period; targets with targets;
and meetings by their time windows. Facts built by hand on sentences written for these tests."""

from __future__ import annotations

from typing import Any

from factx._crosscheck import cross_check, parse_window, text_window
from factx._schemas import ArticleFacts, Finding, Meeting, Source, TradeFigure


def _fig(value: float, period: str | None, metric: str = "trade_volume", **kw: Any) -> TradeFigure:
    return TradeFigure(
        value=value,
        value_text=f"{value / 1e9:g} Milliarden US-Dollar",
        currency="USD",
        period=period,
        metric=metric,  # type: ignore[arg-type]
        parties=kw.pop("parties", ("China", "Russland")),
        evidence=kw.pop("evidence", f"{value / 1e9:g} Milliarden US-Dollar"),
        **kw,
    )


def _art(
    aid: str, *, published: str | None = "2024-01-10", text: str = "", **facts: Any
) -> ArticleFacts:
    return ArticleFacts(
        article_id=aid,
        text_sha256=aid,
        text=text,
        source=Source(published=published, outlet=f"Outlet {aid}"),
        **facts,
    )


def _kinds(findings: tuple[Finding, ...]) -> list[tuple[str, str, tuple[str, ...]]]:
    return sorted(
        (f.kind, f.severity, tuple(sorted({r.article_id for r in f.facts}))) for f in findings
    )


def test_different_metrics_and_directions_are_not_compared() -> None:
    exports = ("China", "Russland")
    a = _art(
        "a",
        trade_figures=(
            _fig(21e9, "2023-12"),
            _fig(11.5e9, "2023-12", "exports", direction=exports),
        ),
    )
    b = _art(
        "b",
        trade_figures=(
            _fig(9e9, "2023-12", "imports", direction=("Russland", "China")),
            _fig(11.6e9, "2023-12", "exports", direction=("Russland", "China")),
        ),
    )
    report = cross_check([a, b])
    assert report.by_severity("error") == ()
    assert [f.kind for f in report.findings] == []


def test_the_same_metric_and_period_conflict_and_the_message_explains_itself() -> None:
    a = _art("a", trade_figures=(_fig(240e9, "2023"),))
    b = _art("b", trade_figures=(_fig(227e9, "2023"),))
    (conflict,) = cross_check([a, b]).findings
    assert (conflict.kind, conflict.severity) == ("number_conflict", "error")
    for part in (
        "240 bn USD",
        "227 bn USD",
        "trade_volume",
        "2023",
        "a (Outlet a)",
        "b (Outlet b)",
        "Rule: number: same metric, direction, parties and period",
    ):
        assert part in conflict.message, part


def test_a_partial_period_against_the_total_of_the_same_metric_only() -> None:
    a = _art("a", trade_figures=(_fig(176.5e9, "2023-01..2023-09"),))
    b = _art(
        "b",
        trade_figures=(
            _fig(150e9, "2023", "exports", direction=("China", "Russland")),
            _fig(200e9, "..2023", "target"),
        ),
    )
    report = cross_check([a, b])
    # Not against the exports of the year (another metric), nor against the target.
    assert _kinds(report.findings) == []
    c = _art("c", trade_figures=(_fig(170e9, "2023"),))
    assert _kinds(cross_check([a, c]).findings) == [("partial_period_exceeds", "error", ("a", "c"))]


def test_targets_with_targets_and_a_result_against_its_target() -> None:
    goal = _art("goal", published="2019-06-06", trade_figures=(_fig(200e9, "..2024", "target"),))
    same = _art("same", published="2021-03-01", trade_figures=(_fig(200e9, "..2024", "target"),))
    later = _art("later", published="2022-02-05", trade_figures=(_fig(200e9, "..2025", "target"),))
    missed = _art("missed", published="2025-01-14", trade_figures=(_fig(190e9, "2024"),))
    report = cross_check([goal, same, later, missed])
    assert _kinds(report.findings) == [
        ("deadline_conflict", "warning", ("goal", "later", "same")),
        ("number_agrees", "info", ("goal", "same")),
        ("target_missed", "info", ("goal", "missed", "same")),
    ]
    assert report.by_severity("error") == ()
    (miss,) = [f for f in report.findings if f.kind == "target_missed"]
    assert "190 bn USD" in miss.message and "200 bn USD by 2024" in miss.message
    # A partial period is not set against the year's target.
    part = _art("part", trade_figures=(_fig(176.5e9, "2024-01..2024-09"),))
    assert "target_missed" not in {f.kind for f in cross_check([goal, part]).findings}


def test_a_deadline_is_an_open_window() -> None:
    w = parse_window("..2024")
    assert w is not None and w[1].isoformat() == "2024-12-31" and w[0].year == 1
    assert parse_window("..2024-06") is not None


def _meeting(date: str | None, evidence: str = "Putin traf Xi in Moskau.") -> Meeting:
    return Meeting(
        participants=("Wladimir Putin", "Xi Jinping"), location="Moskau", date=date,
        evidence=evidence,
    )  # fmt: skip


def _events(report: Any) -> list[tuple[str, ...]]:
    return sorted(
        tuple(sorted({r.article_id for r in f.facts}))
        for f in report.findings
        if f.kind == "same_event"
    )


def test_two_visits_to_one_city_are_two_events() -> None:
    old = _art("v2017", published="2017-07-05", meetings=(_meeting("2017-07-04"),))
    new = _art("v2023", published="2023-03-22", meetings=(_meeting("2023-03-21"),))
    recap = _art("recap", published="2024-03-21", meetings=(_meeting("2023-03"), _meeting("2017")))
    assert _events(cross_check([old, new, recap])) == [("recap", "v2017"), ("recap", "v2023")]


def test_an_undated_article_is_placed_by_the_dates_of_its_own_text() -> None:
    text = "Am 20. März 2023 kam Xi nach Moskau. Putin traf Xi in Moskau."
    assert text_window(text) is not None
    undated = _art("undated", published=None, text=text, meetings=(_meeting(None),))
    old = _art("v2017", published="2017-07-05", meetings=(_meeting("2017-07-04"),))
    new = _art("v2023", published="2023-03-22", meetings=(_meeting("2023-03-21"),))
    # The undated meeting of an article from 2023 is the 2023 visit, not the 2017 one.
    assert _events(cross_check([old, new, undated])) == [("undated", "v2023")]
    # With no date anywhere, it could be either: it joins neither.
    blank = _art("blank", published=None, text="Putin traf Xi.", meetings=(_meeting(None),))
    assert text_window(blank.text) is None
    assert _events(cross_check([old, new, blank])) == []
    # Two undated meetings from one publication window are one event.
    twin = _art("twin", published=None, text=text, meetings=(_meeting(None),))
    assert _events(cross_check([undated, twin])) == [("twin", "undated")]


def test_a_target_shares_its_family_with_the_results_it_is_set_against() -> None:
    from factx._crossfigures import metric_family

    assert metric_family("target") == metric_family("trade_volume")
    assert len({metric_family(m) for m in ("trade_volume", "exports", "imports")}) == 3
