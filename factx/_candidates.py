"""Deterministic finders: sentences, quotes, people, countries, amounts, meeting and treaty cues.

Small models answer narrow questions well and open ones badly, so everything a regular
expression can find is found here, and the LLM is only asked what it cannot.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from . import _people
from ._amounts import AmountMatch, find_amounts
from ._gazetteer import COUNTRIES, PLACES, country_words
from ._lexicon import (
    ABBREVIATIONS,
    CREDIT_LEADS,
    MEETING_NOUNS,
    MEETING_VERBS,
    PEOPLE_COUNTRIES,
    TITLE_CONNECTORS,
    TREATY_NOUN_SUFFIXES,
    TREATY_NOUNS,
    WITH_COUNTERPART,
    phrase_alternation,
    words,
)
from ._people import Entity
from ._speakers import QuoteFrame, in_sight, pronoun_speaker, settled_speaker

# ---------------------------------------------------------------------------- sentences

_ABBREV = "|".join(re.escape(a) for a in ABBREVIATIONS)
# A sentence ends at . ! ? (optionally followed by a closing quote) before whitespace and an
# upper-case letter or opening quote, except after an ordinal ("21. Februar") or abbreviation.
_SENT_END = re.compile(r"(?<=[.!?])[“\"»']?\s+(?=[A-ZÄÖÜ„\"»«(\[])")
_NO_SPLIT_BEFORE = re.compile(rf"(?:\b\d{{1,4}}|\b(?:{_ABBREV})|\b[A-ZÄÖÜ])\.$")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str


def sentences(text: str) -> list[Span]:
    """Split into sentences and paragraph lines, keeping offsets into ``text``."""
    out: list[Span] = []
    for para in re.finditer(r"[^\n]+", text):
        base = para.start()
        chunk = para.group()
        start = 0
        for m in _SENT_END.finditer(chunk):
            # Only the last word matters; slicing keeps this linear on long paragraphs.
            head = chunk[max(start, m.start() - 16) : m.start()].rstrip("“\"»'")
            if _NO_SPLIT_BEFORE.search(head):
                continue
            piece = chunk[start : m.start() + len(m.group()) - len(m.group().lstrip("“\"»'"))]
            end = start + len(piece.rstrip())
            if chunk[start:end].strip():
                out.append(Span(base + start, base + end, chunk[start:end]))
            start = m.end()
        tail = chunk[start:].rstrip()
        if tail.strip():
            out.append(Span(base + start, base + start + len(tail), tail))
    return out


def paragraphs(text: str) -> list[Span]:
    return [Span(m.start(), m.end(), m.group()) for m in re.finditer(r"[^\n]+", text)]


# ------------------------------------------------------------------------------ quotes

# Tried in order at each position; „…’ is a typo seen in real articles, so it comes last.
# Web text mixes its marks: "„…"" (German opening, typewriter closing) is one quote too.
_QUOTE_PAIRS = [("„", "“"), ("„", '"'), ("“", "”"), ("»", "«"), ("«", "»"), ('"', '"'), ("‚", "‘"),
                ("„", "’")]  # fmt: skip
_QUOTE_RE = re.compile(
    "|".join(
        rf"{re.escape(o)}(?P<q{i}>[^{re.escape(o + c)}\n]{{3,}}?){re.escape(c)}"
        for i, (o, c) in enumerate(_QUOTE_PAIRS)
    )
)
MIN_QUOTE_WORDS = 4


def _title_case(inner: str) -> bool:
    # "New Overland Grain Corridor", "Fédération Internationale de Football Association":
    # every word of four letters or more capitalised is a name or a title, not speech. But
    # German capitalises its nouns: "Vielfalt ist Programm in Rumänien" is speech. Words
    # in lower case between German common nouns make a German phrase, not a title; the
    # connectors of names ("Tag der Deutschen Einheit") do not.
    words = re.findall(r"[^\W\d_][\w'’-]*", inner)
    ws = [w for w in words if len(w) >= 4]
    if len(ws) < 2 or not all(w[0].isupper() for w in ws):
        return False
    if any(w[0].islower() and w not in TITLE_CONNECTORS for w in words):
        common = sum(_people.is_common_word(w) for w in ws)
        return 2 * common < len(ws)
    return True


def quotes(text: str) -> list[Span]:
    """Quoted passages of at least four words that are not a title (shorter ones are scare
    quotes, title-case ones are names of things)."""
    out: list[Span] = []
    for m in _QUOTE_RE.finditer(text):
        name = m.lastgroup
        assert name is not None
        s, e = m.span(name)
        inner = text[s:e].strip()
        if len(re.findall(r"\w+", inner)) < MIN_QUOTE_WORDS or _title_case(inner):
            continue
        lead = len(text[s:e]) - len(text[s:e].lstrip())
        out.append(Span(s + lead, s + lead + len(inner), inner))
    return out


# ------------------------------------------------------------------------------ people


def people(text: str) -> list[str]:
    """Names of people in the article, longest form first, in order of first mention."""
    return [e.name for e in entities(text) if e.kind == "person"]


@functools.lru_cache(maxsize=64)
def _entities(text: str) -> tuple[Entity, ...]:
    # A name only in a heading or a photo credit is nobody the article tells about.
    # Names inside a quotation are mostly titles of things, not people of the story.
    masked = list(text)
    for k in [*non_fact_lines(text), *(Span(*m.span(), "") for m in _QUOTE_RE.finditer(text))]:
        masked[k.start : k.end] = " " * (k.end - k.start)
    return tuple(_people.find_entities("".join(masked)))


def entities(text: str) -> list[Entity]:
    """People and bodies the article tells about (cached: the candidate stage and finalize
    ask it of the same text)."""
    return list(_entities(text))


def norm_key(s: str) -> str:
    """Text compared without case and punctuation: one question, one fact per telling."""
    return re.sub(r"\W+", " ", s.lower()).strip()


def expand_name(name: str, known: Iterable[str]) -> str:
    """'Lawrow' -> 'Sergej Lawrow' when the article names him in full somewhere."""
    name = name.strip()
    if not name:
        return name
    last = name.split()[-1].lower()
    for k in known:
        parts = k.lower().split()
        if name.lower() == k.lower():
            return k
        if last in parts and (len(name.split()) == 1 or name.lower() in k.lower()):
            return k
    return name


# --------------------------------------------------------------------------- countries


# One scan of a text finds every state and every place: a pattern per state or place was
# a scan each, 300 per article.
_STATE_OF_FORM = {form: state for state, forms in COUNTRIES.items() for form in forms}
_ANY_STATE = re.compile(country_words(_STATE_OF_FORM))
_ANY_PLACE = re.compile(r"\b(?:" + phrase_alternation(PLACES) + r")(?!\w)")
_PLACE_ORDER = {p: i for i, p in enumerate(PLACES)}


def _written(match: str) -> str:
    return " ".join(match.split())


def _state_of(match: str) -> str:
    form = _written(match)
    return _STATE_OF_FORM.get(form) or _STATE_OF_FORM[form[:-1]]  # "Irans": the genitive


@functools.lru_cache(maxsize=64)
def _countries_in(text: str) -> tuple[str, ...]:
    found = {_state_of(m[0]) for m in _ANY_STATE.finditer(text)}
    return tuple(c for c in COUNTRIES if c in found)


def countries_in(text: str) -> list[str]:
    # Cached: the treaty and trade questions of one article ask this of the same text.
    return list(_countries_in(text))


def sides_in(text: str) -> list[str]:
    """The countries ``text`` names, by their own words or by the people who speak for
    them ("Putin und Xi trafen sich": Russland, China), in ``COUNTRIES`` order."""
    by_people = {
        country
        for person, country in PEOPLE_COUNTRIES.items()
        if any(_people.find_word(text, f) >= 0 for f in _people.forms(person))
    }
    return [c for c in COUNTRIES if c in by_people or c in _countries_in(text)]


@functools.lru_cache(maxsize=64)
def _places_in(text: str) -> tuple[str, ...]:
    found = {_written(m[0]) for m in _ANY_PLACE.finditer(text)}
    return tuple(sorted(found, key=_PLACE_ORDER.__getitem__))


def places_in(text: str) -> list[str]:
    return list(_places_in(text))


# -------------------------------------------------------------------------------- cues

_MEETING_TAILS = r"|".join(("gipfel", "treffen", "gespräch", "gespräche", "besuch", "telefonat"))
MEETING_CUE = re.compile(
    words([*MEETING_VERBS, *MEETING_NOUNS], prefix=True)
    + rf"|\b\w+(?:{_MEETING_TAILS})\w*\b|{WITH_COUNTERPART}"
)
_TREATY_TAILS = r"|".join(TREATY_NOUN_SUFFIXES)
TREATY_CUE = re.compile(
    words(TREATY_NOUNS) + rf"|\b\w+(?:{_TREATY_TAILS})\b|\b(?:unterzeichne|unterschrieb)\w*"
)

# ------------------------------------------------------------------------ not-fact lines

# A sentence ends in . ! ? … : ; and maybe closing quotes or brackets after it.
_SENTENCE_END = re.compile(r"[.!?…:;][\"“”»«’')\]]*$")
_CREDIT = re.compile(
    r"^\s*(?:" + "|".join(re.escape(c) for c in CREDIT_LEADS) + r")\b\s*[:/|©]|©|\(c\)\s|/\s*dpa\b"
)


def non_fact_lines(text: str) -> list[Span]:
    """Lines that state no fact, by their shape: a heading (a short line without closing
    punctuation, like a title or a kicker) and a credit line ("Foto: …", "© …")."""
    out = []
    for m in re.finditer(r"[^\n]+", text):
        line = m.group().strip()
        if not line:
            continue
        heading = not _SENTENCE_END.search(line) and len(line.split()) <= 25
        if heading or _CREDIT.search(line):
            out.append(Span(m.start(), m.end(), m.group()))
    return out


def mentions(text: str, people: list[str]) -> list[str]:
    """Which of ``people`` are named in ``text``, by full name, alias or surname alone (a
    Chinese family name first: "Xi"). Never by a given name, and never in the genitive: in
    "Putins Sprecher traf Xi" Putin did not meet Xi."""
    out = []
    for p in people:
        if any(_people.find_word(text, f, genitive=False) >= 0 for f in _people.forms(p)):
            out.append(p)
    return out


@dataclass(frozen=True)
class Candidates:
    """What the deterministic pass found in one article."""

    sentences: list[Span]
    quotes: list[Span]
    amounts: list[AmountMatch]
    meeting_sentences: list[Span]
    treaty_sentences: list[Span]
    people: list[str]
    published: date | None = None
    notes: list[str] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    quote_frames: list[QuoteFrame] = field(default_factory=list)


def _outside(spans: list[Span], skip: list[Span]) -> list[Span]:
    return [s for s in spans if not any(k.start <= s.start < k.end for k in skip)]


_OPENING = ' \n„“"»«‚'


def quote_frames(
    text: str, sents: list[Span], found: list[Span], entities: list[Entity], facts: list[Span]
) -> list[QuoteFrame]:
    """Each quote with its sentence, the context shown to the model, the names in sight,
    and the speaker where the sentence's words settle it. ``facts``: the sentences outside
    headings and credit lines (``find_candidates`` has them)."""
    texts = [s.text for s in sents]
    starts = [s.start for s in sents]
    ends = [s.end for s in sents]
    # Where each entity is first named, by any form: "named before sentence i" in O(1).
    first = {id(e): min((p for f in e.forms if (p := _people.find_word(text, f)) >= 0),
                        default=len(text)) for e in entities}  # fmt: skip
    # Whom "sagte er" stands for is named in a sentence of the text: not in a heading or a
    # caption, nor in any line that does not end like a sentence.
    in_text = {s.start for s in facts}
    said = [s.start in in_text and bool(_SENTENCE_END.search(s.text.strip())) for s in sents]
    out = []
    for q in found:
        idx = bisect.bisect_right(starts, q.start) - 1
        if idx < 0 or not sents[idx].start <= q.start < sents[idx].end:
            continue
        # A quote may run over several sentences: the attribution is in the first or last.
        last = bisect.bisect_left(ends, q.end, lo=idx)
        last = last if last < len(sents) else idx
        first_s, last_s = sents[idx], sents[last]
        whole = text[first_s.start : last_s.end]
        # "Zypries sieht darin eine Bestätigung:" on its own line, the quote on the next.
        if (
            idx > 0
            and not text[first_s.start : q.start].strip(_OPENING)
            and texts[idx - 1].rstrip().endswith(":")
        ):
            whole = text[sents[idx - 1].start : last_s.end]
        speaker = settled_speaker(whole, q.text, entities)
        if speaker is None:
            before = [texts[i] for i in range(max(0, idx - 6), idx) if said[i]]
            speaker = pronoun_speaker(whole, q.text, before, entities)
        named_before = [e for e in entities if first[id(e)] < first_s.start]
        context, names = in_sight(texts, idx, entities, named_before=named_before)
        if last > idx:
            context = " ".join(texts[max(0, idx - 2) : min(len(texts), last + 2)])
        out.append(QuoteFrame(q.start, q.end, q.text, whole, context, names, speaker))
    return out


def find_candidates(text: str, published: date | None = None) -> Candidates:
    skip = non_fact_lines(text)
    sents = sentences(text)
    facts = _outside(sents, skip)
    found_entities = entities(text)
    found = _outside(quotes(text), skip)
    return Candidates(
        sentences=sents,
        quotes=found,
        amounts=[
            a
            for a in find_amounts(text)
            if not a.amount.is_percent
            and a.amount.currency
            and not any(k.start <= a.start < k.end for k in skip)
        ],
        meeting_sentences=[s for s in facts if MEETING_CUE.search(s.text)],
        treaty_sentences=[s for s in facts if TREATY_CUE.search(s.text)],
        people=[e.name for e in found_entities if e.kind == "person"],
        published=published,
        entities=found_entities,
        quote_frames=quote_frames(text, sents, found, found_entities, facts),
    )


def sentence_at(sents: list[Span], pos: int) -> Span | None:
    for s in sents:
        if s.start <= pos < s.end:
            return s
    return None


def context_around(text: str, sents: list[Span], start: int, end: int, before: int = 1) -> Span:
    """The sentences covering [start, end) plus ``before`` sentences in front of them."""
    idx = [i for i, s in enumerate(sents) if s.end > start and s.start < end]
    if not idx:
        return Span(start, end, text[start:end])
    lo = max(0, idx[0] - before)
    s, e = sents[lo].start, sents[idx[-1]].end
    return Span(s, e, text[s:e])
