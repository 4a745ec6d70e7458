"""The ``questions`` strategy (small local models): one narrow, enum-constrained question per
candidate over a short excerpt, and only where the words leave the answer open.

The candidate stage hands over each question's context (sentence, excerpt, names in sight);
this module only asks, and turns answers and settled values into drafts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from . import _rules as rules
from ._amounts import normalize_amount
from ._candidates import (
    Candidates,
    Span,
    context_around,
    countries_in,
    find_candidates,
    mentions,
    norm_key,
    places_in,
    sentence_at,
    sides_in,
)
from ._drafts import Drafts, MeetingDraft, StatementDraft, TradeDraft, TreatyDraft
from ._fields import Fields, place_in
from ._prompts import Prompts
from ._schemas import Document
from ._speakers import QuoteFrame, can_say

# ask(answer model, user prompt, label) -> the answer, or None when it stayed invalid
Ask = Callable[[type[Any], str, str], Any | None]

# ------------------------------------------------------------------------------ answers


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Gated(_Answer):
    """An answer that opens with a yes/no ``gate``: a "no" is the gate alone
    (``{"is_agreement":false}``), a "yes" the whole object as before.

    The small model wrote every field after a "no" too (38–55 tokens of names and places
    for a meeting it had just denied, when meetings were still asked about), and
    generating is what a call costs most on a CPU.
    Up to the gate's value both branches allow the same tokens, so the model's yes or no
    is the one it gave before; only what follows a "no" is cut.
    """

    gate: ClassVar[str]
    yes_requires: ClassVar[tuple[str, ...]] = ()  # required after a "yes"

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        full = super().model_json_schema(*args, **kwargs)
        props = dict(full["properties"])
        props[cls.gate] = {**props[cls.gate], "const": True}
        need = {cls.gate, *cls.yes_requires}
        yes = {**full, "properties": props, "required": [k for k in props if k in need]}
        no = {
            "type": "object",
            "properties": {cls.gate: {"type": "boolean", "const": False}},
            "required": [cls.gate],
            "additionalProperties": False,
        }
        return {"title": full["title"], "type": "object", "anyOf": [yes, no]}


def _choice(values: Sequence[str]) -> Any:
    """A Literal over ``values``: llama.cpp turns it into a grammar the model cannot leave."""
    return Literal[tuple(dict.fromkeys(values))]


# Answer models are cached: one article asks many questions over the same names, and
# building a pydantic model per question was most of factx's own time per article.
@functools.lru_cache(maxsize=256)
def speaker_model(people: tuple[str, ...]) -> type[_Answer]:
    fields: dict[str, Any] = {"speaker": (_choice([*people, "unknown"]), ...)}
    return create_model("SpeakerAnswer", __base__=_Answer, **fields)


class TradeAnswer(_Gated):
    gate = "is_trade_figure"
    yes_requires = ("metric",)

    is_trade_figure: bool
    metric: Literal["bilateral trade volume", "exports", "imports", "other"] = "other"


class _TreatyGate(_Gated):
    gate = "is_agreement"


@functools.lru_cache(maxsize=256)
def meeting_model(people: tuple[str, ...], places: tuple[str, ...]) -> type[_Answer]:
    """Asked only for a meeting the words have settled, for its place: ``is_meeting`` and
    the other fields stay, as the prompt asks for them, so the model answers in the order
    it was shown (and answers stored under this schema stay valid)."""
    person: Any = _choice(people) if people else str
    fields: dict[str, Any] = {
        "is_meeting": (bool, ...),
        "participants": (list[person], Field(default_factory=list, max_length=4)),
        # Required, so a small model cannot skip it.
        "location": (_choice([*places, "none"]), ...),
        "status": (Literal["held", "planned"], "held"),
    }
    return create_model("MeetingAnswer", __base__=_Answer, **fields)


@functools.lru_cache(maxsize=256)
def treaty_model(countries: tuple[str, ...]) -> type[_Answer]:
    country: Any = _choice(countries)
    fields: dict[str, Any] = {
        "is_agreement": (bool, ...),
        "name": (str, Field(default="", max_length=120)),
        "parties": (list[country], Field(default_factory=list, max_length=4)),
        "status": (
            Literal["signed", "planned", "proposed", "in_force", "suspended", "rejected"],
            "signed",
        ),
    }
    return create_model("TreatyAnswer", __base__=_TreatyGate, **fields)


# ---------------------------------------------------------------------------- strategy


def clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _before(text: str, ctx: Span, s: Span) -> str:
    """The context in front of sentence ``s`` (it is not repeated in the prompt)."""
    return clip(text[ctx.start : s.start].strip(), 400) or "-"


def _unique(spans: list[Span]) -> list[Span]:
    """One question per distinct text: repeated paragraphs are asked about once."""
    seen: set[str] = set()
    out = []
    for s in spans:
        k = norm_key(s.text)
        if k not in seen:
            seen.add(k)
            out.append(s)
    return out


def ask_questions(doc: Document, prompts: Prompts, ask: Ask, drafts: Drafts) -> None:
    """Every question one article needs, in text order per kind of fact."""
    cand = find_candidates(doc.text, doc.published)
    asked_quotes: set[str] = set()
    for f in cand.quote_frames:
        if norm_key(f.quote) not in asked_quotes:
            asked_quotes.add(norm_key(f.quote))
            _statement(doc, prompts, ask, f, drafts)
    asked: set[tuple[str, str]] = set()
    for a in cand.amounts:
        # A repeated paragraph repeats its amounts: one question per sentence and amount.
        sent = sentence_at(cand.sentences, a.start)
        key = (norm_key(sent.text if sent else ""), a.text)
        if key not in asked:
            asked.add(key)
            _trade(doc, prompts, ask, cand, a.start, a.text, drafts)
    for s in _unique(cand.meeting_sentences):
        _meeting(doc, prompts, ask, cand, s, drafts)
    for s in _unique(cand.treaty_sentences):
        _treaty(doc, prompts, ask, cand, s, drafts)


def _statement(doc: Document, prompts: Prompts, ask: Ask, f: QuoteFrame, drafts: Drafts) -> None:
    if f.speaker is not None:
        speaker = f.speaker.name
    else:
        if not f.in_sight:
            return
        names = [e.name for e in f.in_sight]
        prompt = prompts.render(
            "speaker", context=clip(f.context, 900), quote=clip(f.quote, 200),
            people=", ".join(names),
        )  # fmt: skip
        ans = ask(speaker_model(tuple(names)), prompt, "speaker")
        if ans is None or ans.speaker == "unknown":
            return
        chosen = next((e for e in f.in_sight if e.name == ans.speaker), None)
        if chosen is not None and not can_say(chosen, f.quote):
            return  # the model gave a person's words to a body
        speaker = ans.speaker
    iso, raw = rules.date_of(f.sentence, doc.published)
    drafts.statements.append(
        StatementDraft(
            speaker=speaker,
            quote=f.quote,
            evidence=f.quote,
            date=iso or doc.source.published,
            date_text=raw,
            pos=f.start,
        )
    )


def _trade(
    doc: Document,
    prompts: Prompts,
    ask: Ask,
    cand: Candidates,
    start: int,
    amount_text: str,
    drafts: Drafts,
) -> None:
    sent = sentence_at(cand.sentences, start)
    if sent is None:
        return
    at = start - sent.start
    metric = rules.trade_metric(sent.text, at, at + len(amount_text))
    if metric not in _TRADE_METRICS:
        # The words name no trade flow next to the amount: the model says whether it is one.
        ctx = context_around(doc.text, cand.sentences, sent.start, sent.end, before=1)
        prompt = prompts.render("trade", context=ctx.text, amount=amount_text)
        ans = ask(TradeAnswer, prompt, "trade")
        if ans is None or not ans.is_trade_figure or ans.metric == "other":
            return
        metric = ans.metric
    amount = normalize_amount(amount_text)
    if amount is None:
        return
    before = context_around(doc.text, cand.sentences, sent.start, sent.end, before=3)
    period, period_text, from_context = rules.period_of(
        sent.text,
        start - sent.start,
        doc.published,
        before=doc.text[before.start : sent.start],
        previous=_period_passed_on(drafts),
    )
    # The parties are the countries the words around the figure name: the beat's two in its
    # sentence, else in its window (a country or a person speaking for it), else any named
    # there; none where none is named.
    window = Fields.of(doc.text).window(sent.start, sent.end, sent.text)
    parties = (
        rules.on_beat(countries_in(sent.text))
        or rules.on_beat(sides_in(window))
        or sides_in(window)
    )
    drafts.trade_figures.append(
        TradeDraft(
            value=float(amount.value),
            value_text=amount_text,
            currency=amount.currency,
            unit="percent" if amount.is_percent else "currency",
            qualifier=amount.qualifier,
            period=period,
            period_text=period_text,
            metric=metric,
            parties=tuple(parties),
            evidence=sent.text,
            pos=sent.start,
            period_from_context=from_context,
        )
    )


# Where the words next to an amount name one of these, it is a trade figure: not asked.
_TRADE_METRICS = ("trade_volume", "exports", "imports")


def _period_passed_on(drafts: Drafts) -> str | None:
    """The period of the figure told just before, unless it was a target's deadline."""
    if not drafts.trade_figures:
        return None
    last = drafts.trade_figures[-1]
    return last.period if rules.carries_period(last.evidence, last.value_text) else None


def who_met(doc: Document, cand: Candidates, s: Span) -> tuple[str, ...]:
    """The two people a meeting sentence says met, or () where its words do not settle it.

    A meeting word and exactly two people: both named in the sentence ("traf sich die
    Ministerin am Montag auch mit Modi"); one named in it and one in the sentence before
    ("Pfisterer reiste nach Rom. Dort gab es Gespräche mit Quandtberg"); or "die beiden"
    and two named in the three sentences before ("Die beiden Präsidentinnen berieten …").
    Whoever reports the meeting is not one who met ("Lula und Modi wollen sich treffen,
    sagte Wang").

    The model is not asked whether a sentence is a meeting: measured on every gold set, the
    1.5B model's "yes" where the words leave it open found 2 true meetings and 3 false ones
    on the seeds and none on dev or elsewhere (docs/benchmarks.md §0h).
    """
    if not rules.MET.search(s.text):
        return ()
    people = cand.people
    in_sentence = mentions(s.text, people)
    if len(in_sentence) > 2:
        in_sentence = [p for p in in_sentence if not rules.reports(s.text, p)]
    if len(in_sentence) == 2:
        return tuple(in_sentence)
    both = rules.BOTH.search(s.text) is not None
    if len(in_sentence) == 1 or both:
        ctx = context_around(doc.text, cand.sentences, s.start, s.end, before=3 if both else 1)
        named = mentions(ctx.text, people)
        if len(named) == 2 and set(in_sentence) <= set(named):
            return tuple(named)
    return ()


def _meeting(
    doc: Document, prompts: Prompts, ask: Ask, cand: Candidates, s: Span, drafts: Drafts
) -> None:
    participants = who_met(doc, cand, s)
    if not participants:
        return
    kind = rules.kind(s.text)
    dates = rules.meeting_dates(s.text, doc.published)
    status = rules.meeting_status(s.text, dates[0][0], doc.published)
    location = None  # a call has no place
    if kind == "in_person":
        # The model is asked only where the words leave the place open.
        location = rules.meeting_place(s.text) or _asked_place(doc, prompts, ask, cand, s)
    for i, (iso, raw) in enumerate(dates):
        drafts.meetings.append(
            MeetingDraft(
                participants=participants,
                location=location if i == 0 else None,  # the place is the first one's
                date=iso,
                date_text=raw,
                kind=kind,
                status=status,
                evidence=s.text,
                pos=s.start,
            )
        )


def _asked_place(
    doc: Document, prompts: Prompts, ask: Ask, cand: Candidates, s: Span
) -> str | None:
    """The place of a meeting whose sentence names none after "in": asked only where its
    window names some, and kept only where the window names the answer (finalize would
    flag it otherwise, and the meeting with it)."""
    window = Fields.of(doc.text).window(s.start, s.end, s.text)
    if not places_in(window):
        return None
    people, places = cand.people, places_in(doc.text)
    ctx = context_around(doc.text, cand.sentences, s.start, s.end, before=1)
    prompt = prompts.render(
        "meeting",
        before=_before(doc.text, ctx, s),
        sentence=clip(s.text, 400),
        people=", ".join(people),
        places=", ".join(places) or "none",
    )
    ans = ask(meeting_model(tuple(people), tuple(places)), prompt, "meeting")
    if ans is None or ans.location == "none" or not place_in(ans.location, window):
        return None
    return str(ans.location)


def _treaty(
    doc: Document, prompts: Prompts, ask: Ask, cand: Candidates, s: Span, drafts: Drafts
) -> None:
    ctx = context_around(doc.text, cand.sentences, s.start, s.end, before=1)
    countries = rules.states_to_choose(countries_in(doc.text))
    prompt = prompts.render(
        "treaty",
        before=_before(doc.text, ctx, s),
        sentence=clip(s.text, 400),
        countries=", ".join(countries),
    )
    ans = ask(treaty_model(tuple(countries)), prompt, "treaty")
    status = rules.treaty_status(s.text)
    # "setzte die Teilnahme am Nuklearvertrag New START aus": a treaty called by its
    # proper name beside a status verb is a treaty fact. The 1.5B model said "no" to it.
    named = rules.proper_treaty(s.text)
    # "will Putin verschiedene Abkommen unterzeichnen": a counted bundle is one treaty item.
    bundle = rules.counted_treaties(s.text)
    if ans is not None and ans.is_agreement and ans.name.strip():
        name, parties = ans.name.strip(), tuple(dict.fromkeys(ans.parties))
        if named is not None and not rules.ACRONYM.search(name):
            name = named  # the sentence's proper name over a common noun
    elif (named or bundle) is not None and status is not None:
        name, parties = (named or bundle or ""), ()
    else:
        return
    if not parties:
        # The 1.5B model leaves the parties empty: the words around the treaty name them.
        window = Fields.of(doc.text).window(s.start, s.end, s.text)
        parties = rules.treaty_parties(sides_in(s.text), sides_in(window))
    iso, raw = rules.date_of(s.text, doc.published)
    drafts.treaties.append(
        TreatyDraft(
            name=name,
            parties=parties,
            status=status or (ans.status if ans is not None else "signed"),
            date=iso,
            date_text=raw,
            evidence=s.text,
            pos=s.start,
        )
    )
