"""Who said a quote: what the sentence's words settle, and whom to ask about otherwise.

Most quotes are attributed in their own sentence: a verb of speech (or a colon before the
quote, or "laut …", "… zufolge") and exactly one person or body named outside the quote.
Then the words settle the speaker and the model is not asked. Otherwise the question goes to
the model with the names in sight: those of the sentence, the two before it and the one
after. A quote in a headline, a caption or a credit line is never a statement. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ._lexicon import (
    FIRST_PERSON_SINGULAR,
    OUTLET_VERBS,
    SPEECH_PREPOSITIONS,
    SPEECH_VERBS,
    compile_words,
)
from ._people import Entity, find_word, gender, mentioned

_SPEECH = compile_words(SPEECH_VERBS)
_SPEECH_PREP = compile_words(SPEECH_PREPOSITIONS)
# A quote introduced by a colon: "Lawrow sagte: „…“", "Der Kreml teilte mit: „…“".
_COLON_BEFORE = re.compile(r":\s*[„“\"»«‚]?\s*$")
# "sagte er", "so sie", "er betonte": a pronoun is the speaker, and the names in the same
# sentence are others ("sagte er der Agentur Tass zufolge").
_PRONOUN = r"(?:er|sie|Er|Sie)"
_PRONOUN_SPEAKER = re.compile(
    rf"{_SPEECH.pattern}\s+{_PRONOUN}\b|\b{_PRONOUN}\s+(?:\w+\s+)?{_SPEECH.pattern}"
)
_QUOTE_MARKS = '„“”"»«‚‘’'
# "schreibt die „Computerwoche“": an outlet's title in quotation marks right after the verb.
_OUTLET = re.compile(
    rf"{compile_words(OUTLET_VERBS).pattern}\s+(?:die|der|das|den|dem)\s+[„“\"»«]"
    r"(?P<title>[^„“”\"»«]{2,40})[“”\"«»]"
)
# The same frames, with the pronoun and the verb named: "sagte er", "Sie warnte".
_PRONOUN_FRAME = re.compile(
    rf"(?P<v1>{_SPEECH.pattern})\s+(?P<p1>er|sie)\b|\b(?P<p2>er|sie|Er|Sie)\s+(?:\w+\s+)?"
    rf"(?P<v2>{_SPEECH.pattern})"
)
ANTECEDENT_REACH = 3
"""Sentences before a quote in which "sagte er" looks for whom "er" is."""


@dataclass(frozen=True)
class QuoteFrame:
    """One quote with what its context says about its speaker."""

    start: int
    end: int
    quote: str
    sentence: str  # the sentence holding the quote
    context: str  # the sentences shown to the model
    in_sight: tuple[Entity, ...]  # whom the model may choose
    speaker: Entity | None  # settled by the words; None: ask


def _without_quote(sentence: str, quote: str) -> str:
    rest = sentence.replace(quote, " ")
    # Other quotations in the sentence do not attribute this one.
    return re.sub(r"[„“\"»«][^„“\"»«]*[“”\"«»]", " ", rest)


_FIRST_PERSON = compile_words(FIRST_PERSON_SINGULAR)


def can_say(entity: Entity, quote: str) -> bool:
    """A body does not speak in the first person singular ("Ich bin überzeugt …")."""
    return entity.kind == "person" or not _FIRST_PERSON.search(quote)


def settled_speaker(sentence: str, quote: str, entities: Sequence[Entity]) -> Entity | None:
    """The speaker when the sentence leaves no choice: a cue of speech outside the quote and
    exactly one person named there (or, naming no person, exactly one body)."""
    rest = _without_quote(sentence, quote)
    head = sentence.split(quote, 1)[0]
    cue = _SPEECH.search(rest) or _SPEECH_PREP.search(rest) or _COLON_BEFORE.search(head)
    if not cue or _PRONOUN_SPEAKER.search(rest):
        return None
    # A genitive is an owner, not a speaker: "nannte die Zeitung Lawrows Reise".
    named = mentioned(rest, entities, genitive=False)
    people = [e for e in named if e.kind == "person"]
    if len(people) == 1:
        return people[0]
    outlet = _OUTLET.search(sentence.replace(quote, " "))
    if not people and outlet is not None:
        title = outlet.group("title").strip()
        # Not one of the article's entities: "first" is its place in the sentence.
        return Entity(title, "org", sentence.find(title), (title,))
    if not people and len(named) == 1:
        return named[0]
    return None


def pronoun_speaker(
    sentence: str, quote: str, before: Sequence[str], entities: Sequence[Entity]
) -> Entity | None:
    """ "„…“, sagte er." / "Sie warnte: „…“": the person the pronoun stands for.

    That is the person named first (the subject, as a rule) in the nearest sentence that
    names one, among those the given name does not give the other gender: the quote's own
    sentence before the pronoun, then up to ``ANTECEDENT_REACH`` sentences before it
    (``before``, nearest last, headings and captions left out). "sagten sie" is several
    people: None.
    """
    rest = _without_quote(sentence, quote)
    m = _PRONOUN_FRAME.search(rest)
    if m is None:
        return None
    verb, pronoun = m.group("v1") or m.group("v2"), (m.group("p1") or m.group("p2")).lower()
    if verb.endswith("en"):
        return None
    other = "f" if pronoun == "er" else "m"
    people = [e for e in entities if e.kind == "person"]
    for span in [rest[: m.start()], *reversed(before[-ANTECEDENT_REACH:])]:
        named = sorted(
            ((min(p for f in e.forms if (p := find_word(span, f)) >= 0), e)
             for e in mentioned(span, people)),
            key=lambda pe: pe[0],
        )  # fmt: skip
        fitting = [e for _, e in named if gender(e.name) != other]
        if fitting:
            return fitting[0]
    return None


def in_sight(
    sentences: Sequence[str],
    index: int,
    entities: Sequence[Entity],
    before: int = 2,
    *,
    named_before: Sequence[Entity] = (),
) -> tuple[str, tuple[Entity, ...]]:
    """The context shown for the quote in sentence ``index`` and the names in it: the
    sentence, up to ``before`` sentences in front and one after. With nobody named there,
    the people named anywhere before the quote (``named_before``, in entity order)."""
    lo, hi = max(0, index - before), min(len(sentences), index + 2)
    context = " ".join(sentences[lo:hi])
    names = mentioned(context, entities)
    if not names:
        names = [e for e in named_before if e.kind == "person"][-4:]
    return context, tuple(names)
