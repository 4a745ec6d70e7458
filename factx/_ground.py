"""Grounding: find each evidence span in the article text.

Three steps, cheapest first:

1. ``exact``: ``str.find``.
2. ``normalized``: both sides folded (quotation marks, dashes, whitespace runs, soft hyphens and
   zero-width characters, case); the hit is mapped back to offsets in the *original* text.
3. ``fuzzy``: word level. Candidate places come from where the evidence's words occur (seed and
   vote); each candidate window is scored over the word sequences with ``rapidfuzz`` Indel
   similarity (what ``fuzz.ratio`` computes) and accepted at :data:`FUZZY_THRESHOLD`; a
   Levenshtein alignment then trims words at the window's edges that the evidence lacks.
   Character-level ``partial_ratio_alignment`` was tried first: it cannot tell a short quote
   with one word changed (scores 62-77) from an invented short sentence (up to 83 on the
   seeds), and its windows cut words; counting words can.

Otherwise the status is ``none``. Offsets always satisfy ``text[start:end]`` == the found span.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from functools import lru_cache
from typing import NamedTuple

from rapidfuzz.distance import Indel, Levenshtein

from ._schemas import Alignment

FUZZY_THRESHOLD: float = 75.0
"""Minimum ``rapidfuzz.fuzz.ratio`` (0-100) between the evidence's words and a window of the
text's words. 75 lets one word in four differ (one substitution scores 75 in a 4-word quote,
80 in a 5-word one; two in ten score 80) and rejects invented sentences that share a few words
with the text (at most 67 on the seeds)."""

FUZZY_MIN_WORDS = 4
"""Shorter evidence is only grounded exactly or normalized: three words match almost anywhere."""

FUZZY_STEM = 6
"""Words are compared by their first six characters, so inflection ("Westen"/"Westens") does
not count as a changed word."""

_DOUBLE_QUOTES = '"„“”«»‟″〝〞＂'
_SINGLE_QUOTES = "'‚‘’‹›‛′＇`´"
_DASHES = "‐‑‒–—―−﹘﹣－"
_DROPPED = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_WHITESPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
_WHITESPACE += "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

# Length-preserving part of the folding, done by str.translate (fast, keeps offsets 1:1).
_TABLE = str.maketrans(
    {
        **dict.fromkeys(_DOUBLE_QUOTES, '"'),
        **dict.fromkeys(_SINGLE_QUOTES, "'"),
        **dict.fromkeys(_DASHES, "-"),
        **dict.fromkeys(_WHITESPACE, " "),
    }
)
# What changes the length: whitespace runs, dropped characters, the ellipsis.
_SPECIAL = re.compile(f" {{2,}}|[{_DROPPED}]+|…")
_WORD = re.compile(r"\w+")
_PUNCT = ".,;:!?\"'()-[] "


class Grounding(NamedTuple):
    char_start: int | None
    char_end: int | None
    status: Alignment


_NONE = Grounding(None, None, "none")


class _Folded(NamedTuple):
    text: str
    offsets: list[int]  # offsets[i]: where folded character i sits in the original text


def _fold_chars(text: str) -> _Folded:
    """Slow path for the rare characters whose lower case is longer (e.g. 'İ')."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch in _DROPPED:
            continue
        c = ch.translate(_TABLE)
        if c == " " and out and out[-1] == " ":
            continue
        c = "..." if c == "…" else c.lower()
        out.append(c)
        index.extend([i] * len(c))
    return _Folded("".join(out), index)


def _fold(text: str) -> _Folded:
    mapped = text.translate(_TABLE).lower()
    if len(mapped) != len(text):
        return _fold_chars(text)
    parts: list[str] = []
    index: list[int] = []
    pos = 0
    for m in _SPECIAL.finditer(mapped):
        parts.append(mapped[pos : m.start()])
        index.extend(range(pos, m.start()))
        token = m.group()
        if token[0] == " ":
            parts.append(" ")
            index.append(m.start())
        elif token == "…":
            parts.append("...")
            index.extend([m.start()] * 3)
        pos = m.end()
    parts.append(mapped[pos:])
    index.extend(range(pos, len(mapped)))
    return _Folded("".join(parts), index)


@lru_cache(maxsize=8)
def _fold_text(text: str) -> _Folded:
    return _fold(text)


def normalize_for_match(s: str) -> str:
    """The folded form the ``normalized`` step compares (for tests and debugging)."""
    return _fold(s).text.strip()


class _Words(NamedTuple):
    stems: list[str]
    starts: list[int]  # offsets into the folded text
    ends: list[int]
    where: dict[str, list[int]]  # stem -> word positions


def _words(folded: str) -> _Words:
    stems: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    where: dict[str, list[int]] = {}
    for i, m in enumerate(_WORD.finditer(folded)):
        stem = m.group()[:FUZZY_STEM]
        stems.append(stem)
        starts.append(m.start())
        ends.append(m.end())
        where.setdefault(stem, []).append(i)
    return _Words(stems, starts, ends, where)


class Grounder:
    """Grounds evidence in one text; repeated identical evidence gets successive occurrences.

    One seed repeats whole paragraphs: the first fact quoting a sentence gets its first
    occurrence, the next fact with the same evidence the second one, and so on (wrapping to the
    first occurrence when they run out). The folded text is computed once per article.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._folded: _Folded | None = None
        self._words: _Words | None = None
        self._next: dict[str, int] = {}

    @property
    def folded(self) -> _Folded:
        if self._folded is None:
            self._folded = _fold_text(self.text)
        return self._folded

    @property
    def words(self) -> _Words:
        if self._words is None:
            self._words = _words(self.folded.text)
        return self._words

    def ground(self, evidence: str) -> Grounding:
        g = self.locate(evidence, start=self._next.get(evidence, 0))
        if g.char_end is not None:
            self._next[evidence] = g.char_end
        return g

    def locate(self, evidence: str, *, start: int = 0) -> Grounding:
        """First match at or after ``start``, else the first match anywhere."""
        if not evidence.strip():
            return _NONE
        text = self.text
        ev = evidence.strip()
        i = text.find(ev, start)
        if i < 0 and start:
            i = text.find(ev)
        if i >= 0:
            return Grounding(i, i + len(ev), "exact")

        fe = _fold(evidence).text.strip()
        if not fe:
            return _NONE
        ft, offsets = self.folded
        fstart = bisect_left(offsets, start) if start else 0
        j = ft.find(fe, fstart)
        if j < 0 and fstart:
            j = ft.find(fe)
        if j >= 0:
            return Grounding(offsets[j], offsets[j + len(fe) - 1] + 1, "normalized")

        hit = self._fuzzy(fe, fstart)
        if hit is None and fstart:
            hit = self._fuzzy(fe, 0)
        return hit or _NONE

    def _fuzzy(self, fe: str, fstart: int) -> Grounding | None:
        ev = [w[:FUZZY_STEM] for w in _WORD.findall(fe)]
        n = len(ev)
        if n < FUZZY_MIN_WORDS:
            return None
        words = self.words
        first = bisect_left(words.starts, fstart)
        # Seed and vote: every shared word proposes where the evidence would start.
        votes: Counter[int] = Counter()
        for k, stem in enumerate(ev):
            for p in words.where.get(stem, ()):
                if p - k >= first - 1:
                    votes[p - k] += 1
        total = len(words.stems)
        # Most shared words first, then words in the same positions, then the window length
        # closest to the evidence's, then the earliest place (repeated paragraphs).
        best: tuple[int, int, int, int] | None = None
        span = (0, 0)
        for cand, v in votes.most_common(8):
            if v * 2 < n:
                break
            for a in (cand - 1, cand, cand + 1):
                if a < max(first, 0):
                    continue
                for b in range(a + n - 1, min(a + n + 2, total + 1)):
                    m = b - a
                    dist = Indel.distance(ev, words.stems[a:b])
                    if 100.0 * (1 - dist / (n + m)) < FUZZY_THRESHOLD:
                        continue
                    key = ((n + m - dist) // 2, votes[a], -abs(m - n), -a)
                    if best is None or key > best:
                        best, span = key, (a, b)
        if best is None:
            return None
        a, b = span
        # Drop window words at either edge that the alignment inserts (the evidence lacks
        # them); an edge word the evidence *replaces* stays.
        ops = [o for o in Levenshtein.opcodes(ev, words.stems[a:b]) if o.dest_end > o.dest_start]
        kept = [o for o in ops if o.tag != "insert"]
        if kept:
            a, b = a + kept[0].dest_start, a + kept[-1].dest_end
        s, e = words.starts[a], words.ends[b - 1]
        ft, offsets = self.folded
        # Keep punctuation the evidence itself starts or ends with ("…", closing quote).
        lead = fe[: len(fe) - len(fe.lstrip(_PUNCT))]
        while lead and s > 0 and ft[s - 1] == lead[-1]:
            s, lead = s - 1, lead[:-1]
        for ch in fe[len(fe.rstrip(_PUNCT)) :]:
            if e >= len(ft) or ft[e] != ch:
                break
            e += 1
        return Grounding(offsets[s], offsets[e - 1] + 1, "fuzzy")


def ground(evidence: str, text: str, *, start: int = 0) -> Grounding:
    """Locate ``evidence`` in ``text`` (first match at or after ``start``, else anywhere)."""
    return Grounder(text).locate(evidence, start=start)
