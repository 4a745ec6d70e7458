"""Cross-document validation: which facts describe one event, and where articles disagree.

``cross_check`` resolves names to canonical entities, puts candidate facts into blocks
(participants, speaker vocabulary, metric + direction + parties, treaty name), clusters
within blocks only, and returns findings and consolidated facts as data. Work grows about
linearly with the number of facts: nothing is compared all-pairs. This module holds the entry
point, weekdays, meetings and treaties; statements are in ``_crossquotes``, trade figures in
``_crossfigures``, what they share in ``_crossitems``. Pure.
"""

from __future__ import annotations

import gc
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta

from rapidfuzz import fuzz, process

from ._crossfigures import _figures
from ._crossitems import (
    AnyFact,
    Window,
    _Cluster,
    _Findings,
    _fmt_window,
    _Item,
    _overlap,
    _published,
    _ref,
    _ref_order,
    _same_event,
    _UnionFind,
    _width,
    parse_window,
)
from ._crossquotes import QUOTE_MIN_SCORE, _statements, quote_similarity
from ._dates import find_dates
from ._entities import EntityResolver, Resolved, fold, more_specific, places_compatible
from ._lexicon import WEEKDAY_NAMES
from ._lexicon import WEEKDAYS as _WEEKDAYS
from ._schemas import (
    ArticleFacts,
    CrossCheckReport,
    EntityMerge,
    FactType,
    Meeting,
    TradeFigure,
    Treaty,
)

__all__ = [
    "cross_check", "parse_window", "quote_similarity", "DATE_SLACK_DAYS", "QUOTE_MIN_SCORE",
]  # fmt: skip

DATE_SLACK_DAYS = 7  # same participants and place this close: one event, dates in conflict
_FUZZY_NAMES_CAP = 2000  # distinct treaty names per parties block compared fuzzily

_WEEKDAY_RE = re.compile(r"\b(" + "|".join(_WEEKDAYS) + r")", re.IGNORECASE)
# The non-ASCII letters IGNORECASE also takes for i, s and k ("DİENSTAG" matches); casefold
# alone would not turn them into a weekday's spelling.
WEEKDAY_LETTERS = {"İ": "i", "ı": "i", "ſ": "s", "K": "k"}
_WEEKDAY_LETTERS = str.maketrans(WEEKDAY_LETTERS)
_WEEKDAY_NAMES = WEEKDAY_NAMES
# "Wang werde später am Tag Putin treffen": the event is on the publication day.
_SAME_DAY_RE = re.compile(
    r"später am (?:selben |gleichen )?tag|am selben tag|noch am (?:heutigen )?tag|\bheute\b",
    re.IGNORECASE,
)
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
        pubwin = (pub, pub) if pub else text_window(art.text) if art.meetings else None
        groups: tuple[tuple[FactType, Sequence[AnyFact], list[_Item]], ...] = (
            ("meeting", art.meetings, meetings),
            ("statement", art.statements, statements),
            ("treaty", art.treaties, treaties),
            ("trade_figure", art.trade_figures, figures),
        )
        for ftype, facts, bucket in groups:
            for index, fact in enumerate(facts):
                ref = _ref(art.article_id, ftype, index, fact)
                bucket.append(_Item(ref, fact, source, pub, None, art.source.outlet, pubwin))

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
    named = {
        _WEEKDAYS[m.translate(_WEEKDAY_LETTERS).casefold()] for m in _WEEKDAY_RE.findall(date_text)
    }
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
    *,
    undated_join: bool = True,
) -> tuple[list[_Cluster], list[tuple[_Cluster, _Cluster]]]:
    """Cluster one block's items into events; return events and date-conflict pairs.

    Day-precise items first: same day (and compatible place and kind) is one event. Two such
    events from disjoint articles up to ``DATE_SLACK_DAYS`` apart are one event reported
    with conflicting dates. Coarser or undated items then join the one event their window,
    place and kind fit; if several fit, the item is ambiguous and stays on its own. With
    ``undated_join`` false (meetings), an item with no window at all (no date, and no
    publication window) joins nothing: it could be any of the events.
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
        # Without a date or a publication window an item could be any of the events.
        unknown = item.window is None and not undated_join
        fitting = [] if unknown else [c for c in events if fits(c, item, place, kind)]
        if len(fitting) == 1:
            fitting[0].add(item, place, kind)
        else:
            c = _Cluster([], None)
            c.add(item, place, kind)
            c.window = item.window
            events.append(c)
    return events, conflicts


# Meetings ---------------------------------------------------------------------------


def text_window(text: str) -> Window | None:
    """When an article without a publication date came out, by the dates of its own text:
    on or after the latest date it names, within a year of it. ``None`` if it names none."""
    ends = [w for m in find_dates(text, None) if (w := parse_window(m.date.value)) is not None]
    if not ends:
        return None
    latest = max(ends, key=lambda w: w[1])
    return latest[0], latest[1] + _YEAR


_YEAR = timedelta(days=365)


def _meeting_window(item: _Item, fact: Meeting) -> Window | None:
    """A meeting's date, or for an undated one a window around its article's publication
    (a day, or the window its text's own dates give): a plan lies ahead of the article, a
    held meeting within the year before it; "später am Tag" is the publication day."""
    w = parse_window(fact.date)
    if w is not None or item.pubwin is None:
        return w
    lo, hi = item.pubwin
    if fact.date_text and _SAME_DAY_RE.search(fact.date_text) and lo == hi:
        return lo, lo
    return (lo, hi + _YEAR) if fact.status == "planned" else (lo - _YEAR, hi)


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
        events, conflicts = _group_events(block, attrs, undated_join=False)
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
