"""What the words settle: a meeting's kind and tense, a treaty's status and proper name, the
date of a telling, and a figure's period, metric, direction and deadline. The model is not
asked what these decide (and where it was asked, the words outrank its answer).

Every rule reads its cue words from ``_lexicon``; none spells a word of its own. Pure.
"""

from __future__ import annotations

import re
from datetime import date

from ._dates import find_dates
from ._drafts import MeetingKind, MeetingStatus, TradeMetric, TreatyStatus
from ._gazetteer import COUNTRIES, PLACES, country_words
from ._lexicon import (
    BUNDLE_QUANTIFIERS,
    COMPARISON_CUES,
    DEADLINE_CUES,
    DEFAULT_PARTIES,
    FLOW_FROM,
    FLOW_TO,
    HELD_CUES,
    LOCATIVE_PREPOSITIONS,
    MEETING_NOUN_SUFFIXES,
    MEETING_NOUNS,
    MEETING_VERBS,
    METRIC_LABEL_WORDS,
    MODAL_CUES,
    PHONE_CUES,
    PLANNED_CUES,
    RAISE_VERBS,
    SEPARABLE_STATUS,
    SIGNING_VERBS,
    SPEECH_VERBS,
    TALK_NOUNS,
    TARGET_NOUNS,
    TARGET_VERBS,
    TRADE_METRIC_CUES,
    TREATY_NOUN_SUFFIXES,
    TREATY_PLURALS,
    TREATY_STATUS_CUES,
    VIDEO_CUES,
    WITH_COUNTERPART,
    phrase_alternation,
    words,
)

SPEECH_VERB = re.compile(words(SPEECH_VERBS))

# ------------------------------------------------------------------------------ dates


def date_of(span_text: str, published: date | None) -> tuple[str | None, str | None]:
    """The first resolvable date expression in ``span_text``: (iso, as written)."""
    for m in find_dates(span_text, published):
        if m.date.value:
            return m.date.value, m.text
    return None, None


_CLAUSE_BREAK = re.compile(r"[,;:]\s|\s[–—-]\s")
_COMPARED = re.compile("(?:" + words(COMPARISON_CUES) + r")(?:\s+\w+){0,2}\s*$", re.I)


def _clause(sentence: str, pos: int) -> tuple[int, int]:
    """The clause of ``sentence`` around offset ``pos``: between commas, semicolons, dashes."""
    start = 0
    for m in _CLAUSE_BREAK.finditer(sentence):
        if m.end() <= pos:
            start = m.end()
        elif m.start() >= pos:
            return start, m.start()
    return start, len(sentence)


def period_of(
    sentence: str,
    amount_pos: int,
    published: date | None,
    *,
    before: str = "",
    previous: str | None = None,
) -> tuple[str | None, str | None, bool]:
    """The period of a figure, by the first rule that gives one:

    1. a year, month or range in the amount's own clause, the nearest one ("2016 lag er bei
       69,5 Milliarden, 2017 bei 84,1 Milliarden"), unless it is what the figure is compared
       with ("schneller als im Mai");
    2. ``previous``, the period of the figure told just before in the article (a list of
       figures names its year once), unless that figure is a target (see ``carries_period``);
    3. the last year, month or range in ``before``, the sentences in front of it;
    4. a day in the clause stands for its month (a contract signed "heute").

    A reporting day ("wie die Zollverwaltung am Freitag mitteilte") is never the period.
    ``amount_pos`` is the amount's offset within ``sentence``. Returns (period, as written
    in the sentence, whether it came from the context: rules 2 and 3).
    """
    lo, hi = _clause(sentence, amount_pos)
    found = [
        m
        for m in find_dates(sentence, published)
        if m.date.value and lo <= m.start < hi and not _COMPARED.search(sentence[lo : m.start])
    ]
    spans = [m for m in found if m.date.kind != "day"]
    if spans:
        best = min(spans, key=lambda m: abs(m.start - amount_pos))
        return best.date.value, best.text, False
    if previous:
        return previous, None, True
    # A target's deadline in the sentences before ("wollen … bis 2030 auf … steigern") is
    # no period of the figures after it.
    earlier = [
        m
        for m in find_dates(before, published)
        if m.date.value
        and m.date.kind != "day"
        and not _COMPARED.search(before[: m.start])
        and not is_target(before, m.start, m.end)
    ]
    if earlier:
        return earlier[-1].date.value, None, True
    days = [m for m in found if m.date.kind == "day"]
    if days and days[0].date.value:
        return days[0].date.value[:7], days[0].text, False
    return None, None, False


# ---------------------------------------------------------------------------- meetings

# A meeting verb, or a noun that by itself says people met or talked, also in the genitive
# ("während ihres Treffens", "des Telefongesprächs").
MET = re.compile(
    words([*MEETING_VERBS, *(rf"{n}(?:e?s)?" for n in TALK_NOUNS)], prefix=False)
    + "|"
    + WITH_COUNTERPART
)
MEETING_NOUN = re.compile(
    words(MEETING_NOUNS) + r"|\b\w+(?:" + "|".join(MEETING_NOUN_SUFFIXES) + r")\b"
)
BOTH = re.compile(r"\b(?:die|der|den) beiden\b|\bbeide\b", re.I)
_PHONE = re.compile("|".join(PHONE_CUES))
_VIDEO = re.compile("|".join(VIDEO_CUES))
_PLANNED = re.compile(words(PLANNED_CUES))
_HELD = re.compile(words(HELD_CUES))


def kind(sentence: str) -> MeetingKind:
    """The kind of a meeting is in its words; the 1.5B model answered "phone" for nearly all."""
    if _VIDEO.search(sentence):
        return "video"
    return "phone" if _PHONE.search(sentence) else "in_person"


# Words in quotation marks are the speaker's, not the report's tense: "Sie trafen sich am
# Montag; beide erklärten: „Wir werden weiter reden.“" tells a held meeting.
_QUOTED = re.compile(r"„[^“”„]*[“”]|»[^«»]*«|«[^«»]*»")


def _meeting_word_at(sentence: str) -> int:
    """Where the sentence's meeting word stands (its start, if it has none): the cue that
    is nearest to it decides between several."""
    cue = MET.search(sentence) or MEETING_NOUN.search(sentence)
    return cue.start() if cue else 0


def tense(sentence: str) -> MeetingStatus | None:
    """The tense the report's own words give: past forms say held, plan words planned;
    where both stand, the cue nearest the meeting word ("Die Reise fand statt, nachdem ein
    Gipfeltreffen im Mai geplant wurde": planned); none where neither."""
    told = _QUOTED.sub(lambda m: " " * len(m[0]), sentence)
    held = [m.start() for m in _HELD.finditer(told)]
    planned = [m.start() for m in _PLANNED.finditer(told)]
    if not held or not planned:
        return "held" if held else "planned" if planned else None
    at = _meeting_word_at(told)
    nearest_held = min(abs(p - at) for p in held)
    return "held" if nearest_held < min(abs(p - at) for p in planned) else "planned"


def meeting_status(sentence: str, iso: str | None, published: date | None) -> MeetingStatus:
    """Held or planned, from the words, else from the date against the day the article
    appeared, else held: news tells what happened unless a word says it is to come."""
    return tense(sentence) or tense_by_date(iso, published) or "held"


_ISO_DAY = re.compile(r"\d{4}(?:-\d{2}){0,2}")


def tense_by_date(iso: str | None, published: date | None) -> MeetingStatus | None:
    """A meeting dated before the article's day was held, one after it is planned; the
    same day (or month, or year, at the date's precision) says neither."""
    if not iso or published is None or not _ISO_DAY.fullmatch(iso):
        return None
    day = published.isoformat()[: len(iso)]
    if iso == day:
        return None
    return "held" if iso < day else "planned"


_AT_PLACE = re.compile(
    rf"\b(?:{phrase_alternation(LOCATIVE_PREPOSITIONS)})\s+({phrase_alternation(PLACES)})(?!\w)"
)


def meeting_place(sentence: str) -> str | None:
    """Where the sentence's meeting is: a place after "in", "im" or "nach", the one nearest
    the meeting word ("sprach über den Streit in der Türkei. Beim Gipfel in Oslo …": Oslo).
    A place named otherwise ("Kreml-Sprecher", "Beziehungen zu Russland") is no meeting's
    place."""
    found = [(m.start(1), " ".join(m[1].split())) for m in _AT_PLACE.finditer(sentence)]
    if not found:
        return None
    at = _meeting_word_at(sentence)
    return min(found, key=lambda f: abs(f[0] - at))[1]


def meeting_dates(sentence: str, published: date | None) -> list[tuple[str | None, str | None]]:
    """The date of each meeting a sentence tells: one, or several joined by "und" where each
    later date leads to a meeting noun ("treffen sich im Juni in Astana und im Oktober auf
    einem Gipfel in Kasan")."""
    found = [m for m in find_dates(sentence, published) if m.date.value]
    if not found:
        return [(None, None)]
    out = [found[0]]
    for prev, m in zip(found, found[1:], strict=False):
        between, after = sentence[prev.end : m.start], sentence[m.end : m.end + 60]
        if MET.search(between) and re.search(r"\bund\b", between) and MEETING_NOUN.search(after):
            out.append(m)
    return [(m.date.value, m.text) for m in out]


def reports(sentence: str, person: str) -> bool:
    """``person`` is the subject of a speech verb in ``sentence``: "sagte Lawrow", "sagte der
    Außenminister Sergej Lawrow", "Lawrow sagte", "so Lawrow"."""
    name = re.escape(person.split()[-1])
    verb = SPEECH_VERB.pattern
    return bool(
        # Only spaces between verb and name: "sagte, Putin habe …" opens a clause instead.
        re.search(rf"{verb}\s+(?:[\w-]+\s+){{0,4}}?{name}\b", sentence)
        or re.search(rf"\b{name}\W+{verb}", sentence)
    )


# ---------------------------------------------------------------------------- treaties

_STATUS = tuple(
    (status, re.compile(r"\b(?:" + "|".join(re.escape(c) for c in cues) + ")"))
    for status, cues in TREATY_STATUS_CUES
)
_SEPARABLE = tuple(
    (status, re.compile(rf"\b{verb}\b[^.]{{0,120}}\b{particle}\b"))
    for status, verb, particle in SEPARABLE_STATUS
)
# "will … unterzeichnen", "soll … unterzeichnet werden", "wird … ein Abkommen unterzeichnet":
# a modal verb and a signing verb in one clause tell a plan, not a signature.
_PLAN_TO_SIGN = re.compile(
    words(MODAL_CUES) + r"[^.;]{0,160}?" + words(SIGNING_VERBS)
    + "|" + words(SIGNING_VERBS) + r"[^.;]{0,40}?" + words(MODAL_CUES)
)  # fmt: skip


def treaty_status(sentence: str) -> TreatyStatus | None:
    if _PLAN_TO_SIGN.search(sentence):
        return "planned"
    for status, pattern in _SEPARABLE:
        if pattern.search(sentence):
            return status  # type: ignore[return-value]
    for status, pattern in _STATUS:
        if pattern.search(sentence):
            return status  # type: ignore[return-value]
    if _PLANNED.search(sentence):
        return "planned"
    return None


# An acronym: "START", "INF", "AUKUS". States and blocs are parties, not names:
# "Abkommen mit den USA" is not a proper name.
ACRONYM_RE = r"(?!(?:USA|US|EU|UN|UNO)\b)[A-Z]{2,}[A-Z0-9]*\b"
ACRONYM = re.compile(r"\b" + ACRONYM_RE)
_PROPER_AFTER = r"\s+((?:[A-Z][a-z]+\s)?[A-Z]{2,}[A-Z0-9]*)\b"
TREATY_HEAD = re.compile("|".join(sorted(TREATY_NOUN_SUFFIXES, key=len, reverse=True)))
# A compound agreement noun and the proper name after it: "Nuklearvertrag New START".
_EITHER_CASE = "|".join(f"[{w[0].upper()}{w[0]}]{w[1:]}" for w in TREATY_NOUN_SUFFIXES)
PROPER_TREATY = re.compile(rf"\b\w*(?:{_EITHER_CASE})s?\s+(?:[A-Z][a-z]+\s)?" + ACRONYM_RE)


def proper_treaty(sentence: str) -> str | None:
    """An agreement called by its proper name: an acronym after a treaty noun."""
    m = PROPER_TREATY.search(sentence)
    return m.group(0) if m else None


_BUNDLE = re.compile(
    "(?i:"
    + words(BUNDLE_QUANTIFIERS)
    + ")"
    + r"(?:\s+\d+)?(?:\s+[a-zäöüß]+(?:en|er|e))?\s+"
    + words(TREATY_PLURALS).removeprefix(r"\b")
)


def counted_treaties(sentence: str) -> str | None:
    """A counted bundle of agreements, one treaty item: "rund 40 Abkommen"."""
    m = _BUNDLE.search(sentence)
    return m.group(0) if m else None


def with_proper_name(name: str, evidence: str) -> str:
    """The model's name, extended by the proper name that follows it in the evidence: small
    models answer with the common noun ("Nuklearvertrag") of "Nuklearvertrag New START"."""
    if not name:
        return name
    m = re.search(re.escape(name) + _PROPER_AFTER, evidence)
    return f"{name} {m.group(1)}" if m else name


def head_noun(name: str) -> str | None:
    """The agreement noun a treaty's name is built on: "Gasvertrag" -> "vertrag"."""
    found = TREATY_HEAD.findall(name.lower())
    return found[-1].rstrip("s") if found else None


# ------------------------------------------------------------------------ trade figures

# Each word of a sentence gets the class of the cue that ends last in it: a compound is what
# its last part says ("Handelsabkommen" an agreement, "Exportvolumen" exports).
_METRIC_CLASSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("target", re.compile("|".join(TARGET_NOUNS))),
    *((m, re.compile("|".join(cues))) for m, cues in TRADE_METRIC_CUES),
)
_WORD_RE = re.compile(r"\w+")
_AIMED = re.compile(words(TARGET_VERBS), re.I)
_RAISE = re.compile(r"(?:\bzu\s+)?" + words(RAISE_VERBS), re.I)
_MODAL = re.compile(words(MODAL_CUES), re.I)
_DEADLINE = re.compile(words(DEADLINE_CUES) + r"\s+((?:19|20)\d{2})\b", re.I)
_LABELS = tuple(
    (metric, re.compile(r"\b(?:" + "|".join(ws) + ")", re.I)) for metric, ws in METRIC_LABEL_WORDS
)
_COUNTRY_RE = tuple(
    (canon, re.compile(country_words(forms), re.I)) for canon, forms in COUNTRIES.items()
)
_TO_BEFORE = re.compile(r"\b(?:" + "|".join(FLOW_TO) + r")\s+(?:der|die|den|das)?\s*$", re.I)
_FROM_BEFORE = re.compile(r"\b(?:" + "|".join(FLOW_FROM) + r")\s+(?:der|die|den|dem)?\s*$", re.I)


def _word_class(word: str) -> str | None:
    best, end = None, -1
    for metric, pattern in _METRIC_CLASSES:
        for m in pattern.finditer(word):
            if m.end() > end:
                best, end = metric, m.end()
    return best


def _nearest_class(text: str, lo: int, hi: int, start: int, end: int) -> str | None:
    """The class of the cue word nearest the amount ``text[start:end]`` within ``lo:hi``:
    before it first, else after it."""
    before: list[tuple[int, str]] = []
    after: list[tuple[int, str]] = []
    for m in _WORD_RE.finditer(text, lo, hi):
        if start <= m.start() < end:
            continue
        c = _word_class(m.group().lower())
        if c is not None:
            (before if m.end() <= start else after).append((m.start(), c))
    if before:
        return before[-1][1]
    return after[0][1] if after else None


def carries_period(evidence: str, amount: str) -> bool:
    """May the figure ``amount`` told in ``evidence`` pass its period on to the next one? Not
    a target: its year is a deadline ("bis 2030"), not the period of what follows."""
    start = max(evidence.find(amount), 0)
    return not is_target(evidence, start, start + len(amount))


def metric_of_label(label: str | None) -> TradeMetric:
    """A free-text metric ("China exports to Russia", "bilateral trade volume", a model's
    "exports") in the closed set, by its words; ``other`` where none fits."""
    for metric, pattern in _LABELS:
        if label and pattern.search(label):
            return metric  # type: ignore[return-value]
    return "other"


def is_target(sentence: str, start: int, end: int) -> bool:
    """A figure aimed at rather than reached: a verb of aiming, or a verb of raising after a
    modal verb or "zu", in the amount's clause. A forecast ("wird … auf 250 Milliarden
    steigen") is taken as a target too: it is not a result either."""
    lo, hi = _clause(sentence, start)
    clause = sentence[lo:hi]
    if _AIMED.search(clause):
        return True
    raise_ = _RAISE.search(clause)
    return raise_ is not None and (
        raise_.group().lower().startswith("zu") or bool(_MODAL.search(clause))
    )


def trade_metric(sentence: str, start: int, end: int) -> TradeMetric | None:
    """What the amount ``sentence[start:end]`` measures, by the words nearest it in its
    clause, else in its sentence; ``None`` when no word says."""
    if is_target(sentence, start, end):
        return "target"
    lo, hi = _clause(sentence, start)
    found = _nearest_class(sentence, lo, hi, start, end)
    found = found or _nearest_class(sentence, 0, len(sentence), start, end)
    return found  # type: ignore[return-value]


def deadline(sentence: str, start: int) -> tuple[str | None, str | None]:
    """A target's deadline as an open period: "bis 2024" -> ("..2024", "bis 2024"). The cue
    nearest the amount; else a year in the amount's clause; else none."""
    cued = list(_DEADLINE.finditer(sentence))
    if cued:
        m = min(cued, key=lambda m: abs(m.start() - start))
        return f"..{m.group(1)}", m.group()
    lo, hi = _clause(sentence, start)
    year = re.search(r"\b(?:19|20)\d{2}\b", sentence[lo:hi])
    return (f"..{year.group()}", year.group()) if year else (None, None)


def direction(
    sentence: str, start: int, metric: str, parties: tuple[str, ...]
) -> tuple[str, str] | None:
    """Where goods flow, (from, to), for exports and imports: "Exporte nach Russland",
    "Einfuhren aus China", "Chinas Importe", "Importe russischer Waren". A side the words do
    not name is the other party of the figure."""
    if metric not in ("exports", "imports"):
        return None
    lo, hi = _clause(sentence, start)
    sides: dict[str, str] = {}
    for text_lo, text_hi in ((lo, hi), (0, len(sentence))):
        for canon, pattern in _COUNTRY_RE:
            for m in pattern.finditer(sentence, text_lo, text_hi):
                before = sentence[text_lo : m.start()]
                if _TO_BEFORE.search(before):
                    side = "to"
                elif _FROM_BEFORE.search(before) or m.group()[0].islower():
                    side = "from"  # "aus China"; an adjective of origin: "russischer Waren"
                else:
                    side = "from" if metric == "exports" else "to"  # "Chinas Exporte"
                sides.setdefault(side, canon)
        if sides:
            break
    src, dst = sides.get("from"), sides.get("to")
    if src is not None and dst is None:
        dst = _other(src, parties)
    elif dst is not None and src is None:
        src = _other(dst, parties)
    return (src, dst) if src and dst and src != dst else None


def treaty_parties(in_sentence: list[str], in_window: list[str]) -> tuple[str, ...]:
    """A treaty's parties where the model named none: the states its sentence names (by
    name, adjective, seat or a person who speaks for them); with none there, the two its
    window names. More than two in the window is no pair: none then."""
    if in_sentence:
        return tuple(in_sentence)
    return tuple(in_window) if len(in_window) == 2 else ()


def states_to_choose(countries: list[str]) -> list[str]:
    """The states a treaty's parties are chosen from: those its article names, else the
    beat's two."""
    return countries or list(DEFAULT_PARTIES)


def on_beat(countries: list[str]) -> list[str]:
    """Those of ``countries`` that are the beat's two (``DEFAULT_PARTIES``), in their order."""
    return [c for c in countries if c in DEFAULT_PARTIES]


def _other(known: str, parties: tuple[str, ...]) -> str | None:
    others = [p for p in dict.fromkeys(parties) if p != known]
    if len(others) == 1:
        return others[0]
    if not others and known in DEFAULT_PARTIES:
        return next(p for p in DEFAULT_PARTIES if p != known)
    return None
