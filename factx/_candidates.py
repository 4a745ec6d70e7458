"""Deterministic finders: sentences, quotes, people, countries, amounts, meeting and treaty cues.

Small models answer narrow questions well and open ones badly, so everything a regular
expression can find is found here, and the LLM is only asked what it cannot.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from ._normalize import AmountMatch, find_amounts

# ---------------------------------------------------------------------------- sentences

_ABBREV = "z.B|u.a|bzw|ca|Dr|Prof|Mio|Mrd|Nr|St|vgl|etc|usw|inkl|Jh|Abs|Art|Bd|Hrsg|evtl|ggf|sog"
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
            head = chunk[: m.start()].rstrip("“\"»'")
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
_QUOTE_PAIRS = [("„", "“"), ("“", "”"), ("»", "«"), ("«", "»"), ('"', '"'), ("‚", "‘"), ("„", "’")]
_QUOTE_RE = re.compile(
    "|".join(
        rf"{re.escape(o)}(?P<q{i}>[^{re.escape(o + c)}\n]{{3,}}?){re.escape(c)}"
        for i, (o, c) in enumerate(_QUOTE_PAIRS)
    )
)
MIN_QUOTE_WORDS = 4


def quotes(text: str) -> list[Span]:
    """Quoted passages of at least four words (shorter ones are scare quotes, not speech)."""
    out: list[Span] = []
    for m in _QUOTE_RE.finditer(text):
        name = m.lastgroup
        assert name is not None
        s, e = m.span(name)
        inner = text[s:e].strip()
        if len(re.findall(r"\w+", inner)) < MIN_QUOTE_WORDS:
            continue
        lead = len(text[s:e]) - len(text[s:e].lstrip())
        out.append(Span(s + lead, s + lead + len(inner), inner))
    return out


# ------------------------------------------------------------------------------ people

# Well-known people in this beat, in German spelling; anyone else is found by pattern.
KNOWN_PEOPLE = (
    "Wladimir Putin",
    "Xi Jinping",
    "Wang Yi",
    "Sergej Lawrow",
    "Nikolai Patruschew",
    "Dmitri Peskow",
    "Juri Uschakow",
    "Li Qiang",
    "Qin Gang",
    "Mao Ning",
    "Wang Wenbin",
    "Joe Biden",
    "Antony Blinken",
    "Janet Yellen",
    "Donald Trump",
    "Wolodymyr Selenskyj",
    "Olaf Scholz",
    "Emmanuel Macron",
    "Michail Mischustin",
    "Dmitri Medwedew",
    "Sergej Schoigu",
    "Alexander Lukaschenko",
    "Kim Jong Un",
    "Narendra Modi",
    "Mykhailo Podolyak",
    "Li Hui",
    "Jens Stoltenberg",
    "Ursula von der Leyen",
)
_FIRST_NAMES = set(
    """Wladimir Vladimir Sergej Sergei Sergey Nikolai Nikolaj Dmitri Dmitrij Dmitry Juri Jurij
    Yuri Michail Mikhail Alexander Alexej Alexei Andrej Andrei Iwan Ivan Jewgeni Maria Marija
    Olga Anna Elena Jelena Walentina Wolodymyr Volodymyr Mykhailo Mychajlo Dmytro Oleksij
    Joe Joseph Antony Anthony Janet Donald Kamala Jake John Lloyd William Jens Olaf Annalena
    Emmanuel Ursula Josep Boris Rishi Keir Narendra Recep Viktor Robert Frank Christian Karl
    Friedrich Angela Xi Wang Li Qin Mao Zhao Liu Zhang Chen Yang Hu Ho Kim Han Ding Zhou""".split()
)
_ROLE = (
    r"(?:Präsident(?:in)?|Staatschef|Regierungschef|Kanzler(?:in)?|Premier(?:minister)?|"
    r"[A-ZÄÖÜ][a-zäöüß]*minister(?:in)?|Minister(?:in)?|Sprecher(?:in)?|[A-ZÄÖÜ][a-zäöüß-]*berater"
    r"(?:in)?|Berater(?:in)?|Diplomat(?:in)?|Botschafter(?:in)?|Sekretär(?:in)?|Direktor(?:in)?|"
    r"Professor(?:in)?|Analyst(?:in)?|Vorsitzende[rn]?|Chef(?:in)?|Generalsekretär)"
)
_NAME_TOKEN = r"[A-ZÄÖÜ][a-zäöüßéèáàëïçğş]+(?:-[A-ZÄÖÜ][a-zäöüß]+)?"
_ROLE_NAME = re.compile(rf"\b{_ROLE}\s+(?P<name>{_NAME_TOKEN}(?:\s+{_NAME_TOKEN}){{0,2}})")
_BIGRAM = re.compile(rf"\b(?P<first>{_NAME_TOKEN})\s+(?P<last>{_NAME_TOKEN})")
_SAID_NAME = re.compile(
    rf"\b(?:sagte|erklärte|betonte|schrieb|meinte)\s+(?P<name>{_NAME_TOKEN}(?:\s+{_NAME_TOKEN}){{1,2}}),"
    r"\s+(?:ein|eine|der|die)\s"
)
_NOT_NAME = set(
    """Der Die Das Den Dem Des Ein Eine Einer Und Oder Aber Auch Als Am Im In Mit Von Zu Zur Zum
    Bei Nach Vor Für Auf Aus Über Unter Laut Während Sein Seine Ihr Ihre Russland China USA
    Moskau Peking Kreml Regierung Präsident Außenminister Minister Pekings Moskaus Chinas
    Russlands Washingtons Kiews""".split()
)


def people(text: str) -> list[str]:
    """Names of people in the article, longest form first, in order of first mention."""
    found: dict[str, int] = {}
    for name in KNOWN_PEOPLE:
        i = text.find(name)
        if i < 0:
            i = text.find(name.split()[-1]) if len(name.split()[-1]) > 3 else -1
        if i >= 0:
            found.setdefault(name, i)
    for m in _ROLE_NAME.finditer(text):
        toks = [t for t in m.group("name").split() if t not in _NOT_NAME]
        if len(toks) >= 2:
            found.setdefault(" ".join(toks[:3]), m.start("name"))
    # "sagte Ho Tiang Bun, ein Professor": a name between a verb of speech and a comma.
    for m in _SAID_NAME.finditer(text):
        toks = m.group("name").split()
        if not set(toks) & _NOT_NAME:
            found.setdefault(" ".join(toks), m.start("name"))
    surnames = {n.split()[-1] for n in KNOWN_PEOPLE}
    for m in _BIGRAM.finditer(text):
        first, last = m.group("first"), m.group("last").split()[0]
        # "Wang Lawrow", "Xi Putin": two people side by side, not one name.
        if first in _FIRST_NAMES and last not in _NOT_NAME | _FIRST_NAMES | surnames - {
            n.split()[-1] for n in KNOWN_PEOPLE if n.startswith(first + " ")
        }:
            found.setdefault(f"{first} {last}", m.start())
    # Drop a name that is a part of a longer one ("Putin" inside "Wladimir Putin").
    names = sorted(found, key=lambda n: found[n])
    return [n for n in names if not any(n != o and n in o for o in names)]


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

COUNTRIES = {
    "Russland": ("Russland", "Russlands", "Moskau", "Kreml", "russisch"),
    "China": ("China", "Chinas", "Peking", "chinesisch", "Volksrepublik"),
    "USA": ("USA", "Vereinigten Staaten", "Vereinigte Staaten", "Washington", "amerikanisch"),
    "Ukraine": ("Ukraine", "Kiew", "ukrainisch"),
    "Kasachstan": ("Kasachstan",),
    "Indien": ("Indien", "indisch"),
    "Nordkorea": ("Nordkorea",),
    "Europäische Union": ("EU", "Europäische Union", "Europäischen Union"),
    "Vereinigtes Königreich": ("Vereinigte Königreich", "Großbritannien", "britisch"),
}
PLACES = (
    "Moskau",
    "Peking",
    "Beijing",
    "Shanghai",
    "Wladiwostok",
    "St. Petersburg",
    "Kiew",
    "Washington",
    "Astana",
    "Kasachstan",
    "Samarkand",
    "Harbin",
    "Minsk",
    "Davos",
    "Genf",
    "New York",
    "Kreml",
    "Kasan",
    "Johannesburg",
    "China",
    "Russland",
    "Indien",
)


@functools.lru_cache(maxsize=64)
def _countries_in(text: str) -> tuple[str, ...]:
    out = []
    for canon, forms in COUNTRIES.items():
        if any(re.search(rf"\b{re.escape(f)}", text) for f in forms):
            out.append(canon)
    return tuple(out)


def countries_in(text: str) -> list[str]:
    # Cached: the treaty and trade questions of one article ask this of the same text.
    return list(_countries_in(text))


@functools.lru_cache(maxsize=64)
def _places_in(text: str) -> tuple[str, ...]:
    return tuple(p for p in PLACES if re.search(rf"\b{re.escape(p)}\b", text))


def places_in(text: str) -> list[str]:
    return list(_places_in(text))


# -------------------------------------------------------------------------------- cues

MEETING_CUE = re.compile(
    r"\b(?:traf(?:en)?|trifft|treffen|Treffen|Gipfel\w*|\w*[Gg]ipfel|Telefonat\w*|"
    r"Telefongespräch\w*|telefoniert\w*|Videokonferenz\w*|Videoschalte\w*|"
    r"besuch\w*|Besuch\w*|Staatsbesuch\w*|empf(?:ing|ängt|angen)\w*|"
    r"Reise|reist\w*|zusammengekommen|zusammenkommen|zusammengetroffen|Pressekonferenz mit)\b"
)
TREATY_CUE = re.compile(
    r"(?:[Aa]bkommen|[Vv]ertrag|[Vv]erträge|Erklärung|Vereinbarung|Absichtserklärung|"
    r"Memorandum|Friedensplan|unterzeichne\w*|unterschrieb\w*|New START|Pakt\b|"
    r"Allianz\b|Dialog über)"
)
SPEECH_VERB = re.compile(
    r"\b(?:sagte|sagt|sagten|erklärte|erklärt|betonte|betont|fügte|meinte|warnte|schrieb|"
    r"antwortete|kritisierte|bekräftigte|versicherte|forderte|so|zitiert|zitierte|"
    r"bemerkte|äußerte|teilte|nannte|bezeichnete)\b"
)


def mentions(text: str, people: list[str]) -> list[str]:
    """Which of ``people`` are named in ``text``, by full name or by surname alone."""
    out = []
    for p in people:
        parts = p.split()
        # Chinese names put the family name first: "Xi", "Wang"; others end with it.
        keys = {p, parts[-1]} | ({parts[0]} if len(parts[0]) <= 4 and len(parts) == 2 else set())
        if any(re.search(rf"\b{re.escape(k)}\b", text) for k in keys if len(k) >= 2):
            out.append(p)
    return out


def obvious_speaker(sentence: str, quote: str, people: list[str]) -> str | None:
    """The speaker when the sentence leaves no choice: one person named besides the quote,
    and a verb of speech. Anything less clear goes to the model."""
    rest = _QUOTE_RE.sub(" ", sentence.replace(quote, " "))
    named = mentions(rest, people)
    if len(named) == 1 and SPEECH_VERB.search(rest):
        return named[0]
    return None


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


def find_candidates(text: str, published: date | None = None) -> Candidates:
    sents = sentences(text)
    return Candidates(
        sentences=sents,
        quotes=quotes(text),
        amounts=[a for a in find_amounts(text) if not a.amount.is_percent and a.amount.currency],
        meeting_sentences=[s for s in sents if MEETING_CUE.search(s.text)],
        treaty_sentences=[s for s in sents if TREATY_CUE.search(s.text)],
        people=people(text),
        published=published,
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
