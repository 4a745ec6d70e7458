"""What the cross-check's parts share: time windows, the items facts become, and the
collector of findings and consolidated facts. Pure."""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from operator import attrgetter

from ._entities import Resolved, more_specific
from ._schemas import (
    ArticleFacts,
    ConsolidatedFact,
    FactRef,
    FactType,
    Finding,
    FindingKind,
    Meeting,
    Severity,
    Statement,
    TradeFigure,
    Treaty,
)

AnyFact = Meeting | Statement | Treaty | TradeFigure
Window = tuple[date, date]


# Dates ------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def parse_window(text: str | None) -> Window | None:
    """ISO ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``, ``START..END`` or ``..END`` (a target's
    deadline: from ``date.min``) as first and last day."""
    if not text:
        return None
    if ".." in text:
        start, _, end = text.partition("..")
        b = parse_window(end.strip())
        if not start.strip():  # "..2024": a deadline, open towards the past
            return (date.min, b[1]) if b else None
        a = parse_window(start.strip())
        return (a[0], b[1]) if a and b and a[0] <= b[1] else None
    parts = text.strip().split("-")
    try:
        year = int(parts[0])
        if len(parts) == 1:
            return date(year, 1, 1), date(year, 12, 31)
        month = int(parts[1])
        if len(parts) == 2:
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        day = date(year, month, int(parts[2]))
        return day, day
    except (ValueError, IndexError):
        return None


def _overlap(a: Window | None, b: Window | None) -> bool:
    return a is None or b is None or (a[0] <= b[1] and b[0] <= a[1])


def _intersect(a: Window | None, b: Window | None) -> Window | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a[0], b[0]), min(a[1], b[1])


def _width(w: Window | None) -> int:
    return 1 << 30 if w is None else (w[1] - w[0]).days


def _fmt_window(w: Window | None) -> str:
    if w is None:
        return "undated"
    if w[0] == date.min:  # a deadline: "..2024", "..2024-06", "..2024-06-30"
        end = w[1]
        if (end.month, end.day) == (12, 31):
            return f"..{end.year}"
        return f"..{end.isoformat()[:7] if end == _month_end(end) else end.isoformat()}"
    if w[0] == w[1]:
        return w[0].isoformat()
    if w[0].day == 1 and w[1] == _month_end(w[0]):
        return w[0].isoformat()[:7]
    if (w[0].month, w[0].day, w[1].month, w[1].day) == (1, 1, 12, 31) and w[0].year == w[1].year:
        return str(w[0].year)
    if w[0].day == 1 and w[1] == _month_end(w[1]):
        return f"{w[0].isoformat()[:7]}..{w[1].isoformat()[:7]}"
    return f"{w[0].isoformat()}..{w[1].isoformat()}"


def _month_end(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def _is_month(w: Window) -> bool:
    return w[0].day == 1 and w[1] == _month_end(w[0])


# Items ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Item:
    ref: FactRef
    fact: AnyFact
    source: str  # independence key: identical texts under two ids count once
    published: date | None
    window: Window | None = None
    outlet: str | None = None
    # When the article came out: its publication day, or for an article without one a
    # window read from the dates of its own text (see _crosscheck.text_window).
    pubwin: Window | None = None
    names: list[str] = field(default_factory=list)  # how its names were merged, for the rule
    # Its place in a report (_ref_order), kept: a large finding sorts thousands of items.
    order: tuple[str, str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.order = _ref_order(self.ref)

    def resolved(self, raw: str, entity: Resolved) -> Resolved:
        if raw.strip() != entity.label:
            self.names.append(f"{raw.strip()} → {entity.label} ({entity.rule})")
        return entity


@dataclass(slots=True)
class _Cluster:
    items: list[_Item]
    window: Window | None
    place: Resolved | None = None
    kind: str | None = None
    articles: set[str] = field(default_factory=set)

    def add(self, item: _Item, place: Resolved | None, kind: str | None) -> None:
        self.items.append(item)
        self.window = _intersect(self.window, item.window)
        self.place = more_specific(self.place, place)
        self.kind = self.kind or kind
        self.articles.add(item.ref.article_id)


def _ref(article_id: str, ftype: FactType, index: int, fact: AnyFact) -> FactRef:
    return FactRef(
        article_id=article_id,
        type=ftype,
        index=index,
        evidence=fact.evidence,
        char_start=fact.char_start,
        char_end=fact.char_end,
    )


def _published(art: ArticleFacts) -> date | None:
    w = parse_window(art.source.published)
    return w[0] if w else None


_SPILL_AT = 20_000


class _Findings:
    """Collects findings and consolidated facts; the sources of every article."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.consolidated: list[ConsolidatedFact] = []
        # Set by a caller that writes the findings out as they come (the Parquet check):
        # called, to empty both lists, once they hold ``spill_at`` items.
        self.spill: Callable[[], None] | None = None
        self.spill_at = _SPILL_AT

    def _added(self) -> None:
        if self.spill is not None and len(self.findings) + len(self.consolidated) >= self.spill_at:
            self.spill()

    def add(
        self,
        kind: FindingKind,
        severity: Severity,
        items: Iterable[_Item],
        message: str,
        rule: str,
    ) -> None:
        items = list(items)
        # One ref per fact, in report order (keyed by order: cheaper than hashing refs).
        unique = {i.order: i.ref for i in items}
        refs = tuple(unique[k] for k in sorted(unique))
        # Every finding explains itself: the rule is in its message too.
        message = f"{message.rstrip('.')}. Rule: {rule}."
        notes = sorted({n for i in items for n in i.names})
        if notes:
            rule = f"{rule}; names: {'; '.join(notes)}"
        self.findings.append(
            Finding(kind=kind, severity=severity, facts=refs, message=message, rule=rule)
        )
        self._added()

    def consolidate(self, ftype: FactType, items: Sequence[_Item], summary: str) -> None:
        refs = tuple(i.ref for i in sorted(items, key=_ORDER))
        self.consolidated.append(
            ConsolidatedFact(
                type=ftype,
                summary=summary,
                facts=refs,
                articles=tuple(sorted({r.article_id for r in refs})),
                corroboration=len({i.source for i in items}),
            )
        )
        self._added()


_ORDER = attrgetter("order")


def _ref_order(r: FactRef) -> tuple[str, str, int]:
    return r.article_id, r.type, r.index


def _articles(items: Iterable[_Item]) -> str:
    """The sources of ``items``: article ids, each with its outlet where it is known."""
    outlets: dict[str, str | None] = {}
    for i in items:
        outlets[i.ref.article_id] = outlets.get(i.ref.article_id) or i.outlet
    return ", ".join(f"{a} ({o})" if o else a for a, o in sorted(outlets.items()))


def _independent(items: Iterable[_Item]) -> int:
    return len({i.source for i in items})


def _same_event(out: _Findings, ftype: FactType, ev: _Cluster, summary: str, rule: str) -> None:
    """One consolidated fact per event; an info finding when several articles report it."""
    out.consolidate(ftype, ev.items, summary)
    if len(ev.articles) > 1:
        out.add(
            "same_event",
            "info",
            ev.items,
            f"{summary}: reported by {_independent(ev.items)} independent articles "
            f"({_articles(ev.items)}).",
            rule,
        )


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)
