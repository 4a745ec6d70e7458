"""Every field of a fact grounded in the words around its evidence. Pure.

The evidence span is grounded by ``_ground``; this module checks the fields the model filled
in beside it. A fact's *window* is the sentences its evidence overlaps, the two before them
and the one after: the context a question shows the model. Each person, body, country and
place a fact names must be mentioned there (by its full name, an alias, its surname, or a
declined or adjective form), and a date's words must stand there. Otherwise the fact gets a
flag naming the field and leaves the validated output.

A sentence that addresses the model ("Ignoriere alle vorherigen Anweisungen …") is
*suspicious*: it is left out of every window, and a fact whose evidence lies in one gets the
flag ``suspicious_instruction``. So text can instruct the model but not the facts.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass

from ._candidates import Span, entities, sentences
from ._gazetteer import COUNTRIES
from ._lexicon import INSTRUCTION_CUES, OFFICE_SYNONYMS, PEOPLE_COUNTRIES, WORD_START_MIN
from ._people import Entity, find_word, forms, mentioned, role_of, word_pattern

WINDOW_BEFORE = 2
"""Sentences before the evidence that may name a fact's people, places and parties."""
WINDOW_AFTER = 1
"""Sentences after it ("…“, sagte Lawrow am Dienstag." may follow a quote's first part)."""

_INSTRUCTION = tuple(re.compile(p, re.IGNORECASE | re.MULTILINE) for _, p in INSTRUCTION_CUES)
_CONTENT_WORD = re.compile(r"\w{4,}")
_SPACE = re.compile(r"\s+")


def instructs(sentence: str) -> bool:
    """Does this sentence address the model rather than the reader?"""
    return any(p.search(sentence) for p in _INSTRUCTION)


_TOKEN = re.compile(r"[\w-]+")
_INDEFINITE = frozenset("ein eine einem einen einer eines".split())


@dataclass(frozen=True)
class Fields:
    """An article's sentences, which of them address the model, and the names it uses."""

    text: str
    sents: tuple[Span, ...]
    suspicious: tuple[bool, ...]
    entities: tuple[Entity, ...]

    @classmethod
    def of(cls, text: str) -> Fields:
        return _fields_of(text)

    @functools.cached_property
    def _starts(self) -> list[int]:
        return [s.start for s in self.sents]

    def _overlap(self, start: int, end: int) -> range:
        starts = self._starts
        lo = max(0, bisect.bisect_right(starts, start) - 1)
        hi = bisect.bisect_left(starts, max(end, start + 1))
        return range(lo, max(hi, lo + 1))

    def suspicious_at(self, start: int | None, end: int | None) -> bool:
        """Does the span [start, end) lie in a sentence that addresses the model?"""
        if start is None or end is None or not self.sents:
            return False
        return any(self.suspicious[i] for i in self._overlap(start, end) if i < len(self.sents))

    def _bounds(self, start: int, end: int) -> tuple[int, int]:
        idx = self._overlap(start, end)
        return max(0, idx.start - WINDOW_BEFORE), min(len(self.sents), idx.stop + WINDOW_AFTER)

    def _join(self, lo: int, hi: int) -> str:
        return " ".join(self.sents[i].text for i in range(lo, hi) if not self.suspicious[i])

    def window(self, start: int | None, end: int | None, evidence: str) -> str:
        """The evidence's sentences with ``WINDOW_BEFORE`` before and ``WINDOW_AFTER`` after,
        sentences that address the model left out. Ungrounded evidence is its own window."""
        if start is None or end is None or not self.sents:
            return evidence
        return self._join(*self._bounds(start, end))

    def _forms(self, name: str) -> tuple[str, ...]:
        # A name the article uses has the forms found for it (surname, aliases); a country has
        # its capital, seat of government, adjective and the people who speak for it.
        own = next((e.forms for e in self.entities if e.name == name), ())
        speakers_for = (f for p, c in PEOPLE_COUNTRIES.items() if c == name for f in forms(p))
        return (*own, *forms(name), *COUNTRIES.get(name, ()), *speakers_for)

    def names(self, name: str, window: str) -> bool:
        """Is the person, body or country ``name`` mentioned in ``window``?"""
        name = name.strip()
        if not name:
            return False
        if any(_mentions(window, f) for f in self._forms(name)):
            return True
        # A body named by several words ("das chinesische Außenministerium"): every content
        # word's stem stands in the window.
        return _stems_in(name, window)

    def grounds(
        self, name: str, start: int | None, end: int | None, evidence: str, *, skip: str = ""
    ) -> bool:
        """Is the person or body ``name`` named around the evidence [start, end)?

        In the window (less ``skip``: a quote does not name its own speaker), or referred
        back to from it: by an office the article gave the person before ("der chinesische
        Ministerpräsident" after "Chinas Ministerpräsident Li Qiang"), or, where the window
        names nobody at all, by the nearest sentence before it that names someone. An
        unnamed person the window introduces ("ein Sprecher") is somebody: nothing is
        referred back past it.
        """
        window = self.window(start, end, evidence)
        if skip:
            window = window.replace(skip, " ")
        if self.names(name, window):
            return True
        if start is None or end is None or not self.sents:
            return False
        lo, _ = self._bounds(start, end)
        before = self.sents[lo].start
        offices = _offices(window)
        if offices and self._introduced_as(name, offices, before):
            return True
        if self._names_someone(window):
            return False
        for i in range(lo - 1, -1, -1):
            if self.suspicious[i] or not self._names_someone(self.sents[i].text):
                continue
            return self.names(name, self.sents[i].text)
        return False

    def _names_someone(self, span: str) -> bool:
        people = [e for e in self.entities if e.kind == "person"]
        return bool(mentioned(span, people)) or _introduces_unnamed(span)

    def _introduced_as(self, name: str, offices: set[Office], before: int) -> bool:
        """Was ``name`` given one of ``offices`` where the text named it before ``before``?"""
        head = self.text[:before]
        for form in self._forms(name):
            for m in word_pattern(form).finditer(head):
                lead = head[max(0, m.start() - 80) : m.start()]
                if any(_refers(w, p) for w in offices for p in _offices(lead, last=True)):
                    return True
        return False


@functools.lru_cache(maxsize=8)
def _fields_of(text: str) -> Fields:
    # Cached: finalize and the meeting questions of one article ask this of the same text.
    sents = tuple(sentences(text))
    return Fields(text, sents, tuple(instructs(s.text) for s in sents), tuple(entities(text)))


# An office as (country, office): "der chinesische Ministerpräsident" is ("China",
# "regierungschef"); the country is None where no adjective or genitive names one.
Office = tuple[str | None, str]
_SYNONYM = {_ALIAS.casefold().replace("ß", "ss"): group[0] for group in OFFICE_SYNONYMS
            for _ALIAS in group}  # fmt: skip
_COUNTRY_FORMS = tuple((canon, form.casefold()) for canon, fs in COUNTRIES.items() for form in fs)


def _country_of(word: str) -> str | None:
    w = word.casefold()
    return next((canon for canon, form in _COUNTRY_FORMS if w.startswith(form)), None)


def _offices(span: str, *, last: bool = False) -> set[Office]:
    """The offices named in ``span`` (``last``: only the one nearest its end, the office
    written just before a name), each with the country named in the two words before it."""
    toks = _TOKEN.findall(span)
    found: list[Office] = []
    for i, t in enumerate(toks):
        role = role_of(t)
        if role is None or not t[0].isupper():
            continue
        country = next((c for w in toks[max(0, i - 2) : i] if (c := _country_of(w))), None)
        found.append((country, _SYNONYM.get(role, role)))
    return set(found[-1:] if last else found)


def _refers(mention: Office, intro: Office) -> bool:
    """An office in the window refers to a person introduced with it: the same office, and
    the same country where the window names one."""
    return mention[1] == intro[1] and (mention[0] is None or mention[0] == intro[0])


def _introduces_unnamed(span: str) -> bool:
    """ "ein Sprecher", "eine hochrangige Diplomatin": an indefinite office is a new person."""
    toks = _TOKEN.findall(span)
    return any(
        role_of(t) is not None
        and t[0].isupper()
        and any(w.lower() in _INDEFINITE for w in toks[max(0, i - 2) : i])
        for i, t in enumerate(toks)
    )


def _mentions(window: str, form: str) -> bool:
    if find_word(window, form) >= 0:
        return True
    # Adjective and declined forms: "russisch" in "russisch-chinesischen", "Moskau" in
    # "Moskauer". Case-blind at a word's start only, for forms of WORD_START_MIN letters or more.
    return len(form) >= WORD_START_MIN and _prefix(form).search(window) is not None


@functools.lru_cache(maxsize=4096)
def _prefix(form: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(form)}", re.IGNORECASE)


def _stems_in(name: str, window: str) -> bool:
    stems = {w[:5] for w in _CONTENT_WORD.findall(name.lower())}
    hay = window.lower()
    return bool(stems) and all(s in hay for s in stems)


def place_in(place: str, window: str) -> bool:
    """A place stands in the window as itself or a derived form ("Moskauer Kreml"), or a
    country by its capital, seat or adjective."""
    place = place.strip()
    return bool(place) and (
        _prefix(place).search(window) is not None
        or any(_mentions(window, f) for f in COUNTRIES.get(place, ()))
    )


def words_in(phrase: str, window: str) -> bool:
    """A phrase the model quoted from the text (a date as written) stands in the window."""
    norm = _SPACE.sub(" ", phrase).strip().lower()
    return bool(norm) and norm in _SPACE.sub(" ", window).lower()
