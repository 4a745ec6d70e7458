"""German date expressions resolved against a publication date. Pure.

Date values are ISO strings: ``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY`` or ``START..END``.
``dateparser`` is slow (~1 ms per phrase, 200 ms on first use), drops granularity for
ranges, has no notion of tense ("wird am Dienstag") and resolves vague phrases to invented
days, so the common German forms are regexes here and dateparser only sees what is left.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ._lexicon import (
    DATE_FUTURE_CUES,
    MONTHS,
    NUMBER_WORDS,
    QUALIFIERS,
    RELATIVE_DAYS,
    SEASONS,
    WEEKDAY_NAMES,
    WEEKDAYS,
    phrase_alternation,
)

# ---------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DateValue:
    """A resolved date expression.

    ``kind`` is one of ``day``, ``month``, ``year``, ``range`` (``value`` is ``START..END``),
    ``vague`` (``value`` is ``None``; ``hint`` may hold a range the phrase suggests, e.g.
    "im April oder Anfang Mai" -> ``2023-04..2023-05``) or ``unresolved`` (relative or partial
    and no publication date to resolve it against). ``qualifier`` keeps "Anfang", "fast", …
    """

    value: str | None
    raw: str
    kind: str
    qualifier: str | None = None
    hint: str | None = None


@dataclass(frozen=True)
class DateMatch:
    start: int
    end: int
    text: str
    date: DateValue


@dataclass(frozen=True)
class WeekdayIssue:
    """A weekday written next to a date it does not fit ("Dienstag, 22. Februar 2023")."""

    start: int
    end: int
    text: str
    weekday: str  # as written
    date: str  # ISO date the text gives (year from publication when the text has none)
    actual_weekday: str  # the weekday that date really is
    inferred_year: int | None  # nearest year in which weekday and day/month fit


_MON = rf"\b(?:{phrase_alternation(MONTHS)})(?![a-zäöüß])"
_WD = rf"\b(?:{phrase_alternation(WEEKDAYS)})"
_WD_SUFFIX = r"(?:vormittag|nachmittag|mittag|morgen|abend|nacht)?(?![a-zäöüß])"
_YEAR = r"(?:19|20)\d{2}(?![\d])"
_PART = r"Anfang|Mitte|Ende"
_APPROX = phrase_alternation(QUALIFIERS)
_NUMW = phrase_alternation(NUMBER_WORDS) + r"|wenigen|einigen|mehreren|\d+"
_FUTURE = re.compile(r"\b(?:" + "|".join(DATE_FUTURE_CUES) + r")\b", re.I)
_WERDEN = re.compile(r"\b(?:wird|werden)\b", re.I)
_WORDS = re.compile(r"[A-Za-zÄÖÜäöüß]+")


def _is_future(clause: str) -> bool:
    """Does the clause speak of the future ("wird … treffen", "voraussichtlich")?

    "wird"/"werden" is future only with an infinitive; with a participle it is the passive
    ("während der Angriff am Dienstag fortgesetzt wird"). The clause's last other verb-like
    word decides: "-en" (not "ge…en") is taken as an infinitive.
    """
    if _FUTURE.search(clause):
        return True
    if not _WERDEN.search(clause):
        return False
    words = [w for w in _WORDS.findall(clause) if w.lower() not in ("wird", "werden")]
    if not words:
        return False
    last = words[-1].lower()
    return last.endswith(("en", "ern", "eln")) and not last.startswith("ge")


_CLAUSE_END = re.compile(r"[,;:!?\n]|(?<!\d)\.(?=\s|$)")
_STANDALONE_YEAR = re.compile(rf"(?<![\d.,])({_YEAR})(?![a-zäöüß]|[.,]\d)", re.I)


@dataclass(frozen=True)
class _Ctx:
    published: date | None
    future: bool
    year_hint: int | None


def _iso(d: date) -> str:
    return d.strftime("%Y-%m-%d")


def _ym(y: int, m: int) -> str:
    return f"{y:04d}-{m:02d}"


def _valid(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _month_year(month: int, day: int | None, ctx: _Ctx) -> int | None:
    """The year of a day/month the text leaves open: the most recent on or before the
    publication date ("preferring the past"), the next one when the clause speaks of the
    future; a year written in the same clause wins."""
    if ctx.year_hint is not None:
        return ctx.year_hint
    pub = ctx.published
    if pub is None:
        return None
    here = (month, day or (1 if ctx.future else 31))
    now = (pub.month, pub.day)
    if ctx.future:
        return pub.year if here >= (now if day else (pub.month, 1)) else pub.year + 1
    return pub.year if here <= (now if day else (pub.month, 31)) else pub.year - 1


def _weekday_date(wd: int, ctx: _Ctx, direction: str | None) -> date | None:
    pub = ctx.published
    if pub is None:
        return None
    if direction == "past":  # "letzten Dienstag": strictly before
        delta = (pub.weekday() - wd) % 7 or 7
        return pub - timedelta(days=delta)
    if direction == "future":  # "kommenden Dienstag": strictly after
        delta = (wd - pub.weekday()) % 7 or 7
        return pub + timedelta(days=delta)
    if ctx.future:
        return pub + timedelta(days=(wd - pub.weekday()) % 7)
    return pub - timedelta(days=(pub.weekday() - wd) % 7)


def _direction(word: str | None) -> str | None:
    if not word:
        return None
    w = word.lower()
    if w.startswith(("letzt", "vergangen", "vorig")):
        return "past"
    if w.startswith(("kommend", "nächst")):
        return "future"
    if w.startswith("dies"):
        return "this"
    return None


def _add_months(y: int, m: int, n: int) -> tuple[int, int]:
    k = y * 12 + (m - 1) + n
    return k // 12, k % 12 + 1


def _infer_year(wd: int, month: int, day: int, near: int) -> int | None:
    """Nearest year to ``near`` in which day/month falls on weekday ``wd`` (past first)."""
    for delta in range(12):
        for y in (near - delta, near + delta) if delta else (near,):
            d = _valid(y, month, day)
            if d is not None and d.weekday() == wd:
                return y
    return None


def _year2(s: str) -> int:
    y = int(s)
    return y if len(s) == 4 else (2000 + y if y < 50 else 1900 + y)


def _unresolved(raw: str, q: str | None = None) -> DateValue:
    return DateValue(None, raw, "unresolved", q)


# Each handler gets the match and the context and returns a DateValue or None (no date).
_Handler = Callable[[re.Match[str], _Ctx], DateValue | None]


def _h_weekday_date(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    raw = m.group()
    day = int(m.group("d"))
    month = MONTHS[m.group("mn").lower()] if m.group("mn") else int(m.group("mm"))
    wd = WEEKDAYS[m.group("wd").lower()]
    if m.group("y"):
        y: int | None = _year2(m.group("y"))
    elif ctx.year_hint is not None:
        y = ctx.year_hint
    else:
        # The weekday pins the year down: take the nearest fitting one around publication.
        pub = ctx.published
        y = _infer_year(wd, month, day, pub.year) if pub else None
        if y is not None and pub is not None and abs(y - pub.year) > 6:
            y = _month_year(month, day, ctx)
    if y is None:
        return _unresolved(raw)
    d = _valid(y, month, day)
    return DateValue(_iso(d), raw, "day") if d else None


def _h_numeric(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    day, month = int(m.group("d")), int(m.group("m"))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    y = _year2(m.group("y")) if m.group("y") else _month_year(month, day, ctx)  # also ISO
    if y is None:
        return _unresolved(m.group())
    d = _valid(y, month, day)
    return DateValue(_iso(d), m.group(), "day") if d else None


def _h_day_month(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    day, month = int(m.group("d")), MONTHS[m.group("mn").lower()]
    y = int(m.group("y")) if m.group("y") else _month_year(month, day, ctx)
    if y is None:
        return _unresolved(m.group()) if 1 <= day <= 31 else None
    d = _valid(y, month, day)
    # An impossible day ("29. Februar 2023") is reported, not coarsened to its month.
    return DateValue(_iso(d), m.group(), "day") if d else _unresolved(m.group())


def _h_day_range(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    m2 = MONTHS[m.group("mn2").lower()]
    m1 = MONTHS[m.group("mn1").lower()] if m.group("mn1") else m2
    d1, d2 = int(m.group("d1")), int(m.group("d2"))
    y2 = int(m.group("y")) if m.group("y") else _month_year(m2, d2, ctx)
    if y2 is None:
        return _unresolved(m.group())
    y1 = y2 if (m1, d1) <= (m2, d2) else y2 - 1
    a, b = _valid(y1, m1, d1), _valid(y2, m2, d2)
    if a is None or b is None:
        return None
    return DateValue(f"{_iso(a)}..{_iso(b)}", m.group(), "range")


def _h_month_range(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    if m.group("sep").lower() == "und" and not m.group("zw"):
        return None  # "Juni und Oktober" are two months, not a period
    m1, m2 = MONTHS[m.group("m1").lower()], MONTHS[m.group("m2").lower()]
    y2 = int(m.group("y2")) if m.group("y2") else None
    y1 = int(m.group("y1")) if m.group("y1") else None
    if y2 is None and y1 is not None:
        y2 = y1 if m2 >= m1 else y1 + 1
    if y2 is None:
        y2 = _month_year(m2, None, ctx)
    if y2 is None:
        return _unresolved(m.group())
    if y1 is None:
        y1 = y2 if m1 <= m2 else y2 - 1
    return DateValue(f"{_ym(y1, m1)}..{_ym(y2, m2)}", m.group(), "range")


def _h_month_or(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    # "im April oder Anfang Mai": the text does not commit; keep the span only as a hint.
    m1, m2 = MONTHS[m.group("m1").lower()], MONTHS[m.group("m2").lower()]
    y2 = int(m.group("y2")) if m.group("y2") else _month_year(m2, None, ctx)
    hint = None
    if y2 is not None:
        y1 = int(m.group("y1")) if m.group("y1") else (y2 if m1 <= m2 else y2 - 1)
        hint = f"{_ym(y1, m1)}..{_ym(y2, m2)}"
    return DateValue(None, m.group(), "vague", hint=hint)


def _h_month_year(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    q = m.group("q")
    return DateValue(_ym(int(m.group("y")), MONTHS[m.group("mn").lower()]), m.group(), "month", q)


def _h_season(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    y = int(m.group("y"))
    span = SEASONS[m.group("s").lower()]
    if span is None:  # winter straddles two years
        return DateValue(None, m.group(), "vague", m.group("s"))
    return DateValue(f"{_ym(y, span[0])}..{_ym(y, span[1])}", m.group(), "range", m.group("s"))


def _h_rel_day(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    if ctx.published is None:
        return _unresolved(m.group())
    key = re.sub(r"\s+", " ", m.group("rd").lower())
    return DateValue(_iso(ctx.published + timedelta(days=RELATIVE_DAYS[key])), m.group(), "day")


def _week_range(monday: date) -> str:
    return f"{_iso(monday)}..{_iso(monday + timedelta(days=6))}"


def _h_week(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    pub = ctx.published
    if pub is None:
        return _unresolved(m.group())
    shift = {"past": -1, "future": 1}.get(_direction(m.group("w")) or "", 0)
    monday = pub - timedelta(days=pub.weekday()) + timedelta(weeks=shift)
    return DateValue(_week_range(monday), m.group(), "range")


def _h_weekend(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    pub = ctx.published
    if pub is None:
        return _unresolved(m.group())
    direction = _direction(m.group("w"))
    if direction == "future" or (direction is None and ctx.future):
        sat = pub + timedelta(days=(5 - pub.weekday()) % 7)  # next one, or this one
    else:
        sat = pub - timedelta(days=(pub.weekday() - 5) % 7)  # the last one that has begun
        if direction == "past" and pub.weekday() >= 5:
            sat -= timedelta(days=7)  # "vergangenes Wochenende" said on a weekend
    return DateValue(f"{_iso(sat)}..{_iso(sat + timedelta(days=1))}", m.group(), "range")


def _h_month_rel(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    pub = ctx.published
    if pub is None:
        return _unresolved(m.group())
    w = m.group("w") or "vorig"  # "im Vormonat"
    shift = {"past": -1, "future": 1}.get(_direction(w) or "", 0)
    y, mo = _add_months(pub.year, pub.month, shift)
    return DateValue(_ym(y, mo), m.group(), "month")


def _h_year_rel(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    pub = ctx.published
    q = m.group("q")
    if pub is None:
        return _unresolved(m.group(), q)
    w = m.group("w") or "vorig"  # "im Vorjahr"
    shift = {"past": -1, "future": 1}.get(_direction(w) or "", 0)
    return DateValue(f"{pub.year + shift:04d}", m.group(), "year", q)


def _h_ago(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    raw, q = m.group(), m.group("q")
    q = re.sub(r"\s+", " ", q.lower()) if q else None
    n_raw = m.group("n").lower()
    if n_raw in ("wenigen", "einigen", "mehreren") or q in ("mehr als", "über", "weniger als"):
        return DateValue(None, raw, "vague", q)  # no number of units to count back
    pub = ctx.published
    if pub is None:
        return _unresolved(raw, q)
    n = int(n_raw) if n_raw.isdigit() else NUMBER_WORDS[n_raw]
    sign = -1 if m.group("dir").lower() == "vor" else 1
    unit = m.group("u").lower()
    if unit.startswith("tag"):
        return DateValue(_iso(pub + timedelta(days=sign * n)), raw, "day", q)
    if unit.startswith("woche"):
        d = pub + timedelta(weeks=sign * n)
        return DateValue(_week_range(d - timedelta(days=d.weekday())), raw, "range", q)
    if unit.startswith("monat"):
        return DateValue(_ym(*_add_months(pub.year, pub.month, sign * n)), raw, "month", q)
    return DateValue(f"{pub.year + sign * n:04d}", raw, "year", q)


def _h_vague(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    return DateValue(None, m.group(), "vague")


def _h_weekday(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    d = _weekday_date(WEEKDAYS[m.group("wd").lower()], ctx, _direction(m.group("w")))
    return DateValue(_iso(d), m.group(), "day") if d else _unresolved(m.group())


def _h_month(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    month = MONTHS[m.group("mn").lower()]
    q = m.group("q")
    y = _month_year(month, None, ctx)
    if y is None:
        return _unresolved(m.group(), q)
    return DateValue(_ym(y, month), m.group(), "month", q)


def _h_year(m: re.Match[str], ctx: _Ctx) -> DateValue | None:
    return DateValue(m.group("y"), m.group(), "year", m.group("q"))


def _rx(p: str, flags: int = re.I) -> re.Pattern[str]:
    return re.compile(p, flags)


# "morgen" alone has a pattern of its own below: "am Morgen" is the morning, not tomorrow.
_REL_DAY_WORDS = phrase_alternation(k for k in RELATIVE_DAYS if k != "morgen")

# (pattern, handler, only when the whole input is a date phrase: resolve_date's lenient mode)
_PATTERNS: list[tuple[re.Pattern[str], _Handler, bool]] = [
    (
        _rx(
            rf"\b(?P<wd>{_WD}){_WD_SUFFIX}(?:,\s*|\s+)(?:(?:den|dem)\s+)?(?P<d>\d{{1,2}})\.\s*"
            rf"(?:(?P<mn>{_MON})|(?P<mm>\d{{1,2}})\.)(?:\s*(?P<y>{_YEAR}))?"
        ),
        _h_weekday_date,
        False,
    ),
    (
        _rx(r"(?<![\d.])(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4}|\d{2}(?!\d))?"),
        _h_numeric,
        False,
    ),
    (
        _rx(
            rf"(?<![\d.])(?P<d1>\d{{1,2}})\.(?:\s*(?P<mn1>{_MON}))?\s*(?:bis|-|–)\s*"
            rf"(?P<d2>\d{{1,2}})\.\s*(?P<mn2>{_MON})(?:\s+(?P<y>{_YEAR}))?"
        ),
        _h_day_range,
        False,
    ),
    (
        # the dot is sometimes lost in machine translation: "5 April 2024"
        _rx(rf"(?<![\d.,])(?P<d>\d{{1,2}})(?:\.\s*|\s+)(?P<mn>{_MON})(?:\s+(?P<y>{_YEAR}))?"),
        _h_day_month,
        False,
    ),
    (
        _rx(r"(?<![\d.-])(?P<y>(?:19|20)\d{2})-(?P<m>\d{2})-(?P<d>\d{2})(?![\d-])"),
        _h_numeric,
        False,
    ),
    (
        _rx(
            rf"(?:(?P<zw>zwischen)\s+|von\s+)?(?P<m1>{_MON})(?:\s+(?P<y1>{_YEAR}))?\s*"
            rf"(?P<sep>bis(?:\s+(?:{_PART}))?|[-–]|und)\s*(?P<m2>{_MON})(?:\s+(?P<y2>{_YEAR}))?"
        ),
        _h_month_range,
        False,
    ),
    (
        _rx(
            rf"(?:(?:{_PART})\s+)?(?P<m1>{_MON})(?:\s+(?P<y1>{_YEAR}))?\s+oder\s+"
            rf"(?:(?:{_PART})\s+)?(?P<m2>{_MON})(?:\s+(?P<y2>{_YEAR}))?"
        ),
        _h_month_or,
        False,
    ),
    (
        _rx(
            rf"(?:(?:im|seit|ab|bis|vom|zum)\s+)?(?:(?P<q>{_PART})\s+)?(?P<mn>{_MON})\s+"
            rf"(?P<y>{_YEAR})"
        ),
        _h_month_year,
        False,
    ),
    (
        _rx(rf"(?:im\s+)?(?P<s>{phrase_alternation(SEASONS)})\s+(?P<y>{_YEAR})"),
        _h_season,
        False,
    ),
    (
        _rx(
            rf"(?P<rd>{_REL_DAY_WORDS})"
            r"(?:\s+(?:früh|morgen|vormittag|mittag|nachmittag|abend|nacht)(?![a-zäöüß]))?"
            r"(?![a-zäöüß])"
        ),
        _h_rel_day,
        False,
    ),
    (
        # lower-case only: "am Morgen" / "Morgen" is the morning, not tomorrow
        re.compile(r"(?<![A-Za-zÄÖÜäöüß])(?<!am )(?<!heute )(?<!gestern )(?P<rd>morgen)\b"),
        _h_rel_day,
        False,
    ),
    (
        _rx(
            r"(?:(?:in\s+der|im\s+Laufe\s+der)\s+)?(?P<w>diese[rn]?|vergangene[rn]?|letzte[rn]?"
            r"|vorige[rn]?|kommende[rn]?|nächste[rn]?)\s+Woche(?![a-zäöüß])"
        ),
        _h_week,
        False,
    ),
    (
        _rx(r"am\s+(?:(?P<w>vergangenen|letzten|vorigen|kommenden|nächsten)\s+)?Wochenende"),
        _h_weekend,
        False,
    ),
    (
        _rx(
            r"(?:(?:im|in\s+diesem|des)\s+)?(?:(?P<w>diese[mn]?|vergangene[nm]?|letzte[nm]?"
            r"|vorige[nm]?|kommende[nm]?|nächste[nm]?)\s+Monat(?:s|es)?|Vormonat(?:s|es)?)"
            r"(?![a-zäöüß])"
        ),
        _h_month_rel,
        False,
    ),
    (
        _rx(
            rf"(?:(?P<q>{_PART})\s+)?(?:(?:im|in\s+diesem|des)\s+)?(?:(?P<w>diese[sm]?"
            r"|vergangene[nms]?|letzte[nms]?|vorige[nms]?|kommende[nms]?|nächste[nms]?"
            r"|laufende[nms]?)\s+Jahr(?:es|s)?|Vorjahr(?:es|s)?)(?![a-zäöüß])"
        ),
        _h_year_rel,
        False,
    ),
    (
        _rx(
            rf"(?P<dir>vor|in)\s+(?:(?P<q>{_APPROX})\s+)?(?P<n>{_NUMW})\s+"
            r"(?P<u>Tagen|Tag|Wochen|Woche|Monaten|Monat|Jahren|Jahr)(?![a-zäöüß])"
        ),
        _h_ago,
        False,
    ),
    (
        _rx(
            r"in\s+den\s+(?:kommenden|nächsten|letzten|vergangenen|folgenden|ersten)\s+"
            r"(?:Tagen|Wochen|Monaten|Jahren)|in\s+letzter\s+Zeit|in\s+absehbarer\s+Zeit"
            r"|in\s+Kürze|demnächst"
        ),
        _h_vague,
        False,
    ),
    (
        _rx(
            r"(?:(?:am|seit|ab|bis)\s+)?(?:(?P<w>vergangenen|letzten|vorigen|kommenden|nächsten"
            rf"|diesen)\s+)?(?P<wd>{_WD}){_WD_SUFFIX}"
        ),
        _h_weekday,
        False,
    ),
    (
        _rx(
            rf"(?:im|seit|ab|bis|vom|zum|des|nach|vor|Anfang|Mitte|Ende)\s+(?:(?P<q>{_PART})\s+)?"
            rf"(?P<mn>{_MON})"
        ),
        _h_month,
        False,
    ),
    (_rx(rf"(?:(?P<q>{_PART})\s+)?(?P<mn>{_MON})"), _h_month, True),
    (
        _rx(
            rf"(?:(?:im\s+Jahre?|(?P<q>{_PART}))\s+)?(?<![\d.,])(?P<y>{_YEAR})"
            r"(?![a-zäöüß]|[.,]\d|\s*(?:%|Prozent|Mio|Mrd|Milliard|Million|Tausend|Euro|Dollar"
            r"|US-Dollar|Rubel|Yuan|Pfund|Mal\b))"
        ),
        _h_year,
        False,
    ),
]


def _clause(text: str, start: int, end: int) -> str:
    """The clause around text[start:end]: up to the nearest comma, colon or sentence end."""
    left = 0
    for m in _CLAUSE_END.finditer(text, 0, start):
        left = m.end()
    m2 = _CLAUSE_END.search(text, end)
    return text[left : m2.start() if m2 else len(text)]


def _year_in(clause: str, exclude: str) -> int | None:
    """A year written alone in the clause (not the expression's own): "Im Jahr 2023 …"."""
    years = {int(y) for y in _STANDALONE_YEAR.findall(clause.replace(exclude, " "))}
    return years.pop() if len(years) == 1 else None


def _scan(
    text: str,
    published: date | None,
    *,
    lenient: bool = False,
    context: str | None = None,
) -> list[DateMatch]:
    """All date expressions in ``text``, non-overlapping, longest first.

    Tense and a year hint come from the clause around each match, in ``context`` when given
    (then ``text`` is a phrase taken from it), else in ``text`` itself.
    """
    found: list[tuple[int, int, int, DateValue]] = []
    for prio, (rx, handler, lenient_only) in enumerate(_PATTERNS):
        if lenient_only and not lenient:
            continue
        for m in rx.finditer(text):
            if context is not None:
                at = context.find(text)
                clause = (
                    _clause(context, at + m.start(), at + m.end()) if at >= 0 else context + text
                )
            else:
                clause = _clause(text, m.start(), m.end())
            ctx = _Ctx(published, _is_future(clause), _year_in(clause, m.group()))
            try:
                dv = handler(m, ctx)
            except (KeyError, ValueError, OverflowError):
                dv = None
            if dv is not None:
                found.append((m.start(), m.end(), prio, dv))
    found.sort(key=lambda f: (f[0] - f[1], f[2], f[0]))
    taken: list[tuple[int, int, int, DateValue]] = []
    for f in found:
        if all(f[1] <= t[0] or f[0] >= t[1] for t in taken):
            taken.append(f)
    taken.sort(key=lambda f: f[0])
    return [DateMatch(s, e, text[s:e], dv) for s, e, _, dv in taken]


def find_dates(text: str, published: date | None) -> list[DateMatch]:
    """Date expressions in ``text`` with their spans, resolved against ``published``."""
    return _scan(text, published)


_DATEPARSER_PERIODS = {"day": "day", "month": "month", "year": "year"}


def _dateparser_fallback(expr: str, published: date) -> DateValue | None:
    from dateparser.date import DateDataParser  # slow import; only here

    base = datetime(published.year, published.month, published.day)
    parser = DateDataParser(
        languages=["de"],
        settings={"RELATIVE_BASE": base, "PREFER_DATES_FROM": "past", "STRICT_PARSING": False},
    )
    with warnings.catch_warnings():
        # dateparser/tzlocal/regex emit deprecation warnings on some versions
        warnings.simplefilter("ignore")
        data: Any = parser.get_date_data(expr)
    if data is None or data.date_obj is None:
        return None
    d = data.date_obj.date()
    period = _DATEPARSER_PERIODS.get(str(data.period))
    if period == "day":
        return DateValue(_iso(d), expr, "day")
    if period == "month":
        return DateValue(_ym(d.year, d.month), expr, "month")
    if period == "year":
        return DateValue(f"{d.year:04d}", expr, "year")
    return None  # "week" and times: no safe granularity


_DATEISH = re.compile(r"\d|tag|woche|monat|jahr", re.I)  # not "Morgen": the morning


def resolve_date(expr: str, published: date | None, *, context: str = "") -> DateValue | None:
    """Resolve one date phrase ("am Dienstag", "21. Februar 2023", "im vergangenen Jahr").

    ``context`` is the sentence the phrase stands in: it decides tense ("wird … am Dienstag"
    is the coming Tuesday) and can supply a year ("Im Jahr 2023 … Januar bis November").
    ``None`` when the phrase holds no date.
    """
    matches = _scan(expr, published, lenient=True, context=context or None)
    if matches:
        return max(matches, key=lambda m: m.end - m.start).date
    phrase = expr.strip()
    if published is not None and len(phrase.split()) <= 5 and _DATEISH.search(phrase):
        return _dateparser_fallback(phrase, published)
    return None


def _covers(value: str | None, iso: str) -> bool:
    """``iso`` equals ``value`` or is a coarser form of it ("2024-04" of "2024-04-09")."""
    if value is None:
        return False
    return value == iso or (".." not in value and ".." not in iso and value.startswith(iso))


def date_in_evidence(evidence: str, iso: str, published: date | None, *, context: str = "") -> bool:
    """Does a date expression in ``evidence`` resolve to ``iso`` (or a finer date within it)?

    ``context`` (the surrounding sentence) sets tense and year. The publication date alone
    does not count: a fact dated without any date words in its evidence is flagged.
    """
    matches = _scan(evidence, published, context=context or None)
    return any(_covers(m.date.value, iso) for m in matches)


def check_weekday(text: str, published: date | None = None) -> list[WeekdayIssue]:
    """Weekday/date pairs that do not fit ("Dienstag, 22. Februar 2023" was a Wednesday).

    Without a year in the text the year comes from ``published``; with neither no check is
    possible. Each issue names the nearest year in which the pair would fit.
    """
    rx = _PATTERNS[0][0]
    issues: list[WeekdayIssue] = []
    for m in rx.finditer(text):
        day = int(m.group("d"))
        month = MONTHS[m.group("mn").lower()] if m.group("mn") else int(m.group("mm"))
        wd = WEEKDAYS[m.group("wd").lower()]
        if m.group("y"):
            y: int | None = _year2(m.group("y"))
        elif published is not None:
            y = _month_year(month, day, _Ctx(published, False, None))
        else:
            y = None
        d = _valid(y, month, day) if y is not None and 1 <= month <= 12 else None
        if d is None or d.weekday() == wd:
            continue
        issues.append(
            WeekdayIssue(
                m.start(),
                m.end(),
                m.group(),
                m.group("wd"),
                _iso(d),
                WEEKDAY_NAMES[d.weekday()],
                _infer_year(wd, month, day, d.year),
            )
        )
    return issues


def infer_year(weekday: str, day: int, month: int, near: int) -> int | None:
    """The year nearest ``near`` in which ``day``.``month``. is a ``weekday`` (German name)."""
    return _infer_year(WEEKDAYS[weekday.lower()], month, day, near)


# ---------------------------------------------------------------------------------------
# The date a span refers to
# ---------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<!\d)[.!?]+[“”\"»’']?(?=\s)|\n")


def sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Start and end of the sentence(s) containing text[start:end]."""
    left = 0
    for m in _SENTENCE_END.finditer(text, 0, start):
        left = m.end()
    m2 = _SENTENCE_END.search(text, max(end - 1, start))
    right = m2.end() if m2 else len(text)
    while left < start and text[left].isspace():
        left += 1
    return left, right


def span_date(
    text: str, start: int, end: int, published: date | None, *, inside: bool = True
) -> DateValue | None:
    """The date the span text[start:end] most likely refers to, from the text alone.

    1. with ``inside``: a date expression in the span itself (an evidence span);
    2. in the span's sentence outside the span: a day ("…“, sagte Lawrow am Dienstag"), else
       a month or year written before the span ("Im Dezember 2022 … „die besten …“");
    3. the nearest day written before the sentence (news narrates one day at a time).

    ``None`` when nothing fits; callers may then fall back to the publication date. Vague
    expressions stop the search at step 1: the evidence itself says the date is vague.
    """
    s0, s1 = sentence_bounds(text, start, end)
    sentence = text[s0:s1]
    in_sentence = [
        DateMatch(m.start + s0, m.end + s0, m.text, m.date) for m in find_dates(sentence, published)
    ]
    if inside:
        own = [m for m in in_sentence if m.start >= start and m.end <= end]
        if own:
            resolved = [m for m in own if m.date.value is not None]
            return (resolved or own)[0].date
    outside = [
        m for m in in_sentence if (m.end <= start or m.start >= end) and m.date.value is not None
    ]
    days = [m for m in outside if m.date.kind == "day"]
    if days:
        return min(days, key=lambda m: min(abs(m.start - end), abs(m.end - start))).date
    before = [m for m in outside if m.end <= start and m.date.kind in ("month", "year", "range")]
    if before:
        return before[-1].date
    for m in reversed(find_dates(text[:s0], published)):
        if m.date.kind == "day" and m.date.value is not None:
            return m.date
    return None
