"""Extraction strategies: from a ``Document`` to a grounded, normalised ``ArticleFacts``.

- ``questions`` (small local models): deterministic candidates, then one narrow,
  enum-constrained question per candidate over a short excerpt. The static system prompt
  comes first so the server's prefix cache reuses it across every call.
- ``whole`` (strong models): one schema-constrained call per chunk of the article.

Both end in ``finalize``: every fact is grounded against the text and every number and date
is re-derived from its evidence; what fails is flagged, never silently passed on.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model
from rapidfuzz import fuzz

from ._candidates import (
    SPEECH_VERB,
    Candidates,
    Span,
    context_around,
    countries_in,
    expand_name,
    find_candidates,
    mentions,
    obvious_speaker,
    places_in,
    sentence_at,
)
from ._client import LLM
from ._errors import (
    BadModelOutputError,
    BudgetExceededError,
    FactxError,
    ModelError,
    TransportError,
)
from ._ground import Grounder
from ._normalize import (
    amount_in_evidence,
    check_weekday,
    date_in_evidence,
    find_dates,
    normalize_amount,
    resolve_date,
)
from ._schemas import (
    SCHEMA_VERSION,
    ArticleError,
    ArticleFacts,
    Document,
    Flag,
    Meeting,
    Statement,
    TradeFigure,
    Treaty,
    Usage,
)
from ._settings import Settings

# ------------------------------------------------------------------------------ prompts

_PROMPT_NAMES = ("system", "speaker", "trade", "meeting", "treaty", "whole")
# Bump when the code that turns answers into facts changes: it is part of the cache key.
EXTRACTOR_VERSION = "6"


def _prompt_dir() -> Path:
    packaged = resources.files("factx") / "prompts"
    if packaged.is_dir():
        return Path(str(packaged))
    # Editable install / source checkout: the top-level prompts/ folder.
    return Path(__file__).resolve().parent.parent / "prompts"


@dataclass(frozen=True)
class Prompts:
    texts: dict[str, str]
    versions: dict[str, str]

    def version_for(self, strategy: str) -> str:
        names = ("system", "whole") if strategy == "whole" else _PROMPT_NAMES[:5]
        prompts = ",".join(f"{n}@{self.versions[n]}" for n in names)
        return f"{strategy}:x{EXTRACTOR_VERSION}:{prompts}"

    def render(self, name: str, **values: str) -> str:
        text = self.texts[name].split("\n~~~\n", 1)[-1]
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        return text

    def system(self, name: str) -> str:
        """The static part of a question: it goes first, so the server caches it."""
        head, sep, _ = self.texts[name].partition("\n~~~\n")
        return self.texts["system"] + ("\n\n" + head if sep else "")


def load_prompts(folder: Path | None = None) -> Prompts:
    folder = folder or _prompt_dir()
    texts: dict[str, str] = {}
    versions: dict[str, str] = {}
    for name in _PROMPT_NAMES:
        raw = (folder / f"{name}.txt").read_text(encoding="utf-8")
        head, sep, body = raw.partition("\n---\n")
        m = re.match(r"version:\s*(\S+)", head)
        if not sep or not m:
            raise FactxError(f"prompt {name}.txt lacks its 'version: N' header and '---' line")
        versions[name] = m.group(1)
        texts[name] = body.strip()
    return Prompts(texts, versions)


# -------------------------------------------------------------------------- LLM answers


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _choice(values: Sequence[str]) -> Any:
    """A Literal over ``values``: llama.cpp turns it into a grammar the model cannot leave."""
    return Literal[tuple(dict.fromkeys(values))]


# Answer models are cached: one article asks many questions over the same names, and
# building a pydantic model per question was most of factx's own time per article.
@functools.lru_cache(maxsize=256)
def _speaker_model(people: tuple[str, ...]) -> type[_Answer]:
    fields: dict[str, Any] = {"speaker": (_choice([*people, "unknown"]), ...)}
    return create_model("SpeakerAnswer", __base__=_Answer, **fields)


class TradeAnswer(_Answer):
    is_trade_figure: bool
    metric: Literal["bilateral trade volume", "exports", "imports", "other"]


@functools.lru_cache(maxsize=256)
def _meeting_model(people: tuple[str, ...], places: tuple[str, ...]) -> type[_Answer]:
    person: Any = _choice(people) if people else str
    fields: dict[str, Any] = {
        "is_meeting": (bool, ...),
        "participants": (list[person], Field(default_factory=list, max_length=4)),
        # Required, so a small model cannot skip it; the kind comes from cue words instead.
        "location": (_choice([*places, "none"]), ...),
        "status": (Literal["held", "planned"], "held"),
    }
    return create_model("MeetingAnswer", __base__=_Answer, **fields)


@functools.lru_cache(maxsize=256)
def _treaty_model(countries: tuple[str, ...]) -> type[_Answer]:
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
    return create_model("TreatyAnswer", __base__=_Answer, **fields)


# Drafts for the whole-article strategy: what the model fills; offsets come from grounding.
class DraftMeeting(_Answer):
    participants: list[str]
    location: str | None = None
    date_text: str | None = None
    kind: Literal["in_person", "phone", "video"] = "in_person"
    status: Literal["held", "planned"] = "held"
    evidence: str


class DraftStatement(_Answer):
    speaker: str
    quote: str
    date_text: str | None = None


class DraftTreaty(_Answer):
    name: str
    parties: list[str] = Field(default_factory=list)
    status: Literal["signed", "planned", "proposed", "in_force", "suspended", "rejected"] = "signed"
    date_text: str | None = None
    evidence: str


class DraftTradeFigure(_Answer):
    value_text: str
    period_text: str | None = None
    metric: str = "bilateral trade volume"
    parties: list[str] = Field(default_factory=list)
    evidence: str


class DraftArticle(_Answer):
    meetings: list[DraftMeeting] = Field(default_factory=list)
    statements: list[DraftStatement] = Field(default_factory=list)
    treaties: list[DraftTreaty] = Field(default_factory=list)
    trade_figures: list[DraftTradeFigure] = Field(default_factory=list)


# ------------------------------------------------------------------------------ drafts


@dataclass
class _Drafts:
    """Facts before grounding: plain dicts keyed by the output model's field names."""

    meetings: list[dict[str, Any]]
    statements: list[dict[str, Any]]
    treaties: list[dict[str, Any]]
    trade_figures: list[dict[str, Any]]

    @classmethod
    def empty(cls) -> _Drafts:
        return cls([], [], [], [])


def _date_of(span_text: str, published: date | None) -> tuple[str | None, str | None]:
    """The first resolvable date expression in ``span_text``: (iso, as written)."""
    for m in find_dates(span_text, published):
        if m.date.value:
            return m.date.value, m.text
    return None, None


def _meeting_dates(sentence: str, published: date | None) -> list[tuple[str | None, str | None]]:
    """The date of each meeting a sentence tells: one, or several joined by "und" where each
    later date leads to a meeting noun ("treffen sich im Juni in Astana und im Oktober auf
    einem Gipfel in Kasan")."""
    found = [m for m in find_dates(sentence, published) if m.date.value]
    if not found:
        return [(None, None)]
    out = [found[0]]
    for prev, m in zip(found, found[1:], strict=False):
        between, after = sentence[prev.end : m.start], sentence[m.end : m.end + 60]
        if _MET.search(between) and re.search(r"\bund\b", between) and _MEETING_NOUN.search(after):
            out.append(m)
    return [(m.date.value, m.text) for m in out]


def _period_of(
    sentence: Span, amount_start: int, published: date | None
) -> tuple[str | None, str | None]:
    """The period of a figure: a year, month or range near the amount beats a day
    ("Wie die Zollverwaltung am Freitag mitteilte, stieg der Handel 2023 auf …")."""
    found = [m for m in find_dates(sentence.text, published) if m.date.value]
    if not found:
        return None, None
    pos = amount_start - sentence.start
    best = min(found, key=lambda m: (m.date.kind == "day", abs(m.start - pos)))
    return best.date.value, best.text


def _norm_key(s: str) -> str:
    return re.sub(r"\W+", " ", s.lower()).strip()


# ------------------------------------------------------------------------- the extractor


@dataclass(frozen=True)
class ExtractionOutcome:
    facts: ArticleFacts
    cacheable: bool  # False for transport failures: a rerun should try again


class Extractor:
    def __init__(self, llm: LLM, settings: Settings, prompts: Prompts | None = None) -> None:
        self.llm = llm
        self.settings = settings
        self.prompts = prompts or load_prompts()
        self.strategy = settings.resolved_strategy()

    @property
    def prompt_version(self) -> str:
        return self.prompts.version_for(self.strategy)

    def extract(
        self, doc: Document, *, on_call: Callable[[], None] | None = None
    ) -> ExtractionOutcome:
        self.llm.reset()
        errors: list[ArticleError] = list(doc.warnings)
        drafts = _Drafts.empty()
        cacheable = True
        status: Literal["ok", "partial", "failed"] = "ok"
        try:
            if self.strategy == "whole":
                self._whole(doc, drafts, errors, on_call)
            else:
                self._questions(doc, drafts, errors, on_call)
        except BudgetExceededError as e:
            errors.append(ArticleError(stage="extract", error=type(e).__name__, message=str(e)))
            status = "partial"
        except (TransportError, ModelError) as e:
            # The endpoint failed, not the article: record it, cache nothing, retry on rerun.
            errors.append(ArticleError(stage="extract", error=type(e).__name__, message=str(e)))
            status, cacheable = "failed", False
        if status == "ok" and any(e.stage == "extract" for e in errors):
            status = "partial"
        st = self.llm.stats
        facts = finalize(
            doc,
            drafts,
            model=self.settings.model,
            strategy=self.strategy,
            prompt_version=self.prompt_version,
            usage=Usage(
                calls=st.calls,
                prompt_tokens=st.prompt_tokens,
                completion_tokens=st.completion_tokens,
                retries=st.retries,
            ),
            errors=errors,
            status=status,
        )
        return ExtractionOutcome(facts, cacheable)

    # -- questions ------------------------------------------------------------------

    def _ask(
        self,
        model: type[Any],
        prompt: str,
        label: str,
        errors: list[ArticleError],
        on_call: Callable[[], None] | None,
        *,
        system: str | None = None,
        max_tokens: int = 160,
    ) -> Any | None:
        """One answer, or None when the output stayed invalid (recorded in ``errors``)."""
        messages = [
            {"role": "system", "content": system or self.prompts.system(label)},
            {"role": "user", "content": prompt},
        ]
        try:
            return self.llm.ask(model, messages, max_tokens=max_tokens, label=label)
        except BadModelOutputError as e:
            if isinstance(e, BudgetExceededError):
                raise
            errors.append(ArticleError(stage="extract", error=type(e).__name__, message=str(e)))
            return None
        finally:
            if on_call:
                on_call()

    def _questions(
        self,
        doc: Document,
        drafts: _Drafts,
        errors: list[ArticleError],
        on_call: Callable[[], None] | None,
    ) -> None:
        text, pub = doc.text, doc.published
        cand = find_candidates(text, pub)
        people = cand.people
        for q in _unique_spans(cand.quotes):
            self._statement(doc, cand, q, people, drafts, errors, on_call)
        asked: set[tuple[str, str]] = set()
        for a in cand.amounts:
            # A repeated paragraph repeats its amounts: one question per sentence and amount.
            sent = sentence_at(cand.sentences, a.start)
            key = (_norm_key(sent.text if sent else ""), a.text)
            if key in asked:
                continue
            asked.add(key)
            self._trade(doc, cand, a.start, a.end, a.text, drafts, errors, on_call)
        for s in _unique_spans(cand.meeting_sentences):
            self._meeting(doc, cand, s, people, drafts, errors, on_call)
        for s in _unique_spans(cand.treaty_sentences):
            self._treaty(doc, cand, s, drafts, errors, on_call)
        del pub

    def _statement(
        self,
        doc: Document,
        cand: Candidates,
        q: Span,
        people: list[str],
        drafts: _Drafts,
        errors: list[ArticleError],
        on_call: Callable[[], None] | None,
    ) -> None:
        if not people:
            return
        sent = sentence_at(cand.sentences, q.start)
        speaker = obvious_speaker(sent.text, q.text, people) if sent else None
        if speaker is None:
            ctx = context_around(doc.text, cand.sentences, q.start, q.end, before=1)
            # The attribution often follows the quote: „…“, sagte Lawrow.
            after = sentence_at(cand.sentences, ctx.end + 1)
            if after is not None and not mentions(ctx.text.replace(q.text, " "), people):
                ctx = Span(ctx.start, after.end, doc.text[ctx.start : after.end])
            prompt = self.prompts.render(
                "speaker", context=ctx.text, quote=_clip(q.text, 200), people=", ".join(people)
            )
            ans = self._ask(_speaker_model(tuple(people)), prompt, "speaker", errors, on_call)
            if ans is None or ans.speaker == "unknown":
                return
            speaker = ans.speaker
        iso, raw = _date_of(sent.text if sent else q.text, doc.published)
        drafts.statements.append(
            {
                "speaker": speaker,
                "quote": q.text,
                "evidence": q.text,
                "date": iso or (doc.source.published if doc.source.published else None),
                "date_text": raw,
                "_pos": q.start,
            }
        )

    def _trade(
        self,
        doc: Document,
        cand: Candidates,
        start: int,
        end: int,
        amount_text: str,
        drafts: _Drafts,
        errors: list[ArticleError],
        on_call: Callable[[], None] | None,
    ) -> None:
        sent = sentence_at(cand.sentences, start)
        if sent is None:
            return
        ctx = context_around(doc.text, cand.sentences, sent.start, sent.end, before=1)
        prompt = self.prompts.render("trade", context=ctx.text, amount=amount_text)
        ans = self._ask(TradeAnswer, prompt, "trade", errors, on_call)
        if ans is None or not ans.is_trade_figure or ans.metric == "other":
            return
        amount = normalize_amount(amount_text)
        if amount is None:
            return
        period, period_text = _period_of(sent, start, doc.published)
        parties = [c for c in countries_in(sent.text) if c in ("Russland", "China")] or [
            "China",
            "Russland",
        ]
        drafts.trade_figures.append(
            {
                "value": float(amount.value),
                "value_text": amount_text,
                "currency": amount.currency,
                "unit": "percent" if amount.is_percent else "currency",
                "qualifier": amount.qualifier,
                "period": period,
                "period_text": period_text,
                "metric": ans.metric,
                "parties": tuple(parties),
                "evidence": sent.text,
                "_pos": sent.start,
            }
        )

    def _meeting(
        self,
        doc: Document,
        cand: Candidates,
        s: Span,
        people: list[str],
        drafts: _Drafts,
        errors: list[ArticleError],
        on_call: Callable[[], None] | None,
    ) -> None:
        ctx = context_around(doc.text, cand.sentences, s.start, s.end, before=1)
        named = mentions(ctx.text, people)
        if len(named) < 2 and _BOTH.search(s.text):
            # "Die beiden Staats- und Regierungschefs sprachen …": the two are named earlier.
            ctx = context_around(doc.text, cand.sentences, s.start, s.end, before=3)
            named = mentions(ctx.text, people)
        # Participants are limited to people in sight (see _participants): with nobody
        # named near the sentence no answer could make a meeting, so do not ask.
        if not named:
            return
        places = places_in(doc.text)
        prompt = self.prompts.render(
            "meeting",
            before=_before(doc.text, ctx, s),
            sentence=_clip(s.text, 400),
            people=", ".join(people),
            places=", ".join(places) or "none",
        )
        ans = self._ask(
            _meeting_model(tuple(people), tuple(places)), prompt, "meeting", errors, on_call
        )
        in_sentence = mentions(s.text, people)
        if len(in_sentence) > 2:
            # "Putin und Xi würden sich im Juni treffen, sagte Lawrow": who reports a
            # meeting is not one of those who meet.
            in_sentence = [p for p in in_sentence if not _reports(s.text, p)]
        # "traf sich Lawrow am Dienstag auch mit Xi": a meeting verb and exactly two people
        # in one sentence is a meeting, and those two met. The 1.5B model said "no" to such
        # sentences and swapped participants for people from the context.
        sure = len(in_sentence) == 2 and bool(_MET.search(s.text))
        if not sure and (ans is None or not ans.is_meeting):
            return
        participants = (
            tuple(in_sentence)
            if len(in_sentence) == 2
            else _participants(ans.participants if ans else [], named)
        )
        if len(participants) < 2:
            return
        location = ans.location if ans is not None else "none"
        kind = _kind(s.text)
        status = _tense(s.text) or (ans.status if ans is not None else "held")
        for i, (iso, raw) in enumerate(_meeting_dates(s.text, doc.published)):
            place = location if i == 0 else "none"  # the answer's place is the first one's
            drafts.meetings.append(
                {
                    "participants": participants,
                    "location": None if place == "none" or kind != "in_person" else place,
                    "date": iso,
                    "date_text": raw,
                    "kind": kind,
                    "status": status,
                    "evidence": s.text,
                    "_pos": s.start,
                }
            )

    def _treaty(
        self,
        doc: Document,
        cand: Candidates,
        s: Span,
        drafts: _Drafts,
        errors: list[ArticleError],
        on_call: Callable[[], None] | None,
    ) -> None:
        ctx = context_around(doc.text, cand.sentences, s.start, s.end, before=1)
        countries = countries_in(doc.text) or ["Russland", "China"]
        prompt = self.prompts.render(
            "treaty",
            before=_before(doc.text, ctx, s),
            sentence=_clip(s.text, 400),
            countries=", ".join(countries),
        )
        ans = self._ask(_treaty_model(tuple(countries)), prompt, "treaty", errors, on_call)
        status = _treaty_status(s.text)
        # "setzte die Teilnahme am Nuklearvertrag New START aus": a treaty called by its
        # proper name beside a status verb is a treaty fact. The 1.5B model said "no" to it.
        named = _PROPER_TREATY.search(s.text)
        if ans is not None and ans.is_agreement and ans.name.strip():
            name, parties = ans.name.strip(), tuple(dict.fromkeys(ans.parties))
            if named is not None and not _ACRONYM.search(name):
                name = named.group(0)  # the sentence's proper name over a common noun
        elif named is not None and status is not None:
            name, parties = named.group(0), ()
        else:
            return
        iso, raw = _date_of(s.text, doc.published)
        drafts.treaties.append(
            {
                "name": name,
                "parties": parties,
                "status": status or (ans.status if ans is not None else "signed"),
                "date": iso,
                "date_text": raw,
                "evidence": s.text,
                "_pos": s.start,
            }
        )

    # -- whole ----------------------------------------------------------------------

    def _whole(
        self,
        doc: Document,
        drafts: _Drafts,
        errors: list[ArticleError],
        on_call: Callable[[], None] | None,
    ) -> None:
        pub = doc.published
        size, max_tokens = self.settings.max_chunk_chars, 4096
        if not self.settings.hosted:
            # A local server's context holds prompt and answer: about 1.5 chars a token.
            size, max_tokens = min(size, self.settings.n_ctx * 3 // 2), self.settings.n_ctx // 2
        for offset, chunk in chunks(doc.text, size, min(self.settings.chunk_overlap, size // 4)):
            prompt = self.prompts.render(
                "whole", text=chunk, published=doc.source.published or "unknown"
            )
            art = self._ask(
                DraftArticle, prompt, "whole", errors, on_call,
                system=self.prompts.texts["system"], max_tokens=max_tokens,
            )  # fmt: skip
            if art is None:
                continue
            for m in art.meetings:
                iso = _resolve(m.date_text, pub, m.evidence)
                drafts.meetings.append(
                    {
                        "participants": tuple(m.participants),
                        "location": m.location,
                        "date": iso,
                        "date_text": m.date_text,
                        "kind": m.kind,
                        "status": m.status,
                        "evidence": m.evidence,
                        "_pos": offset,
                    }
                )
            for s in art.statements:
                drafts.statements.append(
                    {
                        "speaker": s.speaker,
                        "quote": s.quote,
                        "evidence": s.quote,
                        "date": _resolve(s.date_text, pub, s.quote) or doc.source.published,
                        "date_text": s.date_text,
                        "_pos": offset,
                    }
                )
            for t in art.treaties:
                drafts.treaties.append(
                    {
                        "name": t.name,
                        "parties": tuple(t.parties),
                        "status": t.status,
                        "date": _resolve(t.date_text, pub, t.evidence),
                        "date_text": t.date_text,
                        "evidence": t.evidence,
                        "_pos": offset,
                    }
                )
            for f in art.trade_figures:
                amount = normalize_amount(f.value_text)
                if amount is None:
                    errors.append(
                        ArticleError(
                            stage="extract",
                            error="BadModelOutputError",
                            message=f"not an amount: {f.value_text[:80]!r}",
                        )
                    )
                    continue
                drafts.trade_figures.append(
                    {
                        "value": float(amount.value),
                        "value_text": f.value_text,
                        "currency": amount.currency,
                        "unit": "percent" if amount.is_percent else "currency",
                        "qualifier": amount.qualifier,
                        "period": _resolve(f.period_text, pub, f.evidence),
                        "period_text": f.period_text,
                        "metric": f.metric,
                        "parties": tuple(f.parties),
                        "evidence": f.evidence,
                        "_pos": offset,
                    }
                )


def _resolve(expr: str | None, published: date | None, context: str) -> str | None:
    if not expr:
        return None
    d = resolve_date(expr, published, context=context)
    return d.value if d else None


def _participants(answer: list[str], named: list[str]) -> tuple[str, ...]:
    """Small models pad the list: keep people named near the sentence first, and at most
    one person from elsewhere (a role like "Chinas Top-Diplomat" the model resolved)."""
    answer = list(dict.fromkeys(answer))
    near = [p for p in answer if p in named]
    far = [p for p in answer if p not in named]
    return tuple(near + far[: max(0, 2 - len(near))][:1])


# The kind of a meeting is in its words; the 1.5B model answered "phone" for nearly all.
_PHONE = re.compile(r"telefon|\bam telefon|\banruf|\brief\w* \w+ an\b", re.I)
_VIDEO = re.compile(r"video|virtuell|\bonline\b", re.I)


def _kind(sentence: str) -> Literal["in_person", "phone", "video"]:
    if _VIDEO.search(sentence):
        return "video"
    return "phone" if _PHONE.search(sentence) else "in_person"


_MET = re.compile(
    r"\b(?:traf|trafen|trifft|treffen|getroffen|zusammengetroffen|empfing|empfangen|"
    r"telefonierte\w*|telefoniert|Telefonat\w*|Telefongespräch\w*|Gipfel\w*|"
    r"Videokonferenz|virtuelle\w* Treffen|besuchte|besucht)\b"
)


def _reports(sentence: str, person: str) -> bool:
    """``person`` is the subject of a speech verb in ``sentence``: "sagte Lawrow", "sagte der
    Außenminister Sergej Lawrow", "Lawrow sagte", "so Lawrow"."""
    name = re.escape(person.split()[-1])
    verb = SPEECH_VERB.pattern
    return bool(
        # Only spaces between verb and name: "sagte, Putin habe …" opens a clause instead.
        re.search(rf"{verb}\s+(?:[\w-]+\s+){{0,4}}?{name}\b", sentence)
        or re.search(rf"\b{name}\W+{verb}", sentence)
    )


_MEETING_NOUN = re.compile(r"\b(?:Treffen|Gipfel\w*|\w+gipfel\w*|Besuch\w*)\b")
_BOTH = re.compile(r"\b(?:die|der|den) beiden\b|\bbeide\b", re.I)


# Tense cues outrank the model's guess: they are what a reader goes by too.
_PLANNED = re.compile(
    r"\b(?:wird|werde|werden|soll|sollen|solle|plant|planen|geplant|erwartet|voraussichtlich|"
    r"könnte|könne|würden|würde|bevorstehend\w*|vorbereitet|morgen)\b"
)
_HELD = re.compile(
    r"\b(?:traf|trafen|getroffen|hielten|hielt|sprachen|telefonierte\w*|empfing|empfangen|"
    r"besuchte|zusammengetroffen|kamen|war|waren|fand|stattfand|dankte|sprach)\b"
)


def _tense(sentence: str) -> Literal["held", "planned"] | None:
    held, planned = bool(_HELD.search(sentence)), bool(_PLANNED.search(sentence))
    if held != planned:
        return "held" if held else "planned"
    return None


_TREATY_STATUS: tuple[tuple[str, str], ...] = (
    # "setzte … aus" is the separable form of "aussetzen".
    ("suspended", r"ausgesetzt|aussetz\w*|suspendier\w*|Suspendierung|setzte\b[^.]{0,120}\baus\b"),
    ("rejected", r"abgelehnt|ablehn\w*|zurückgewiesen|verworfen"),
    ("proposed", r"vorgeschlagen|Vorschlag|schlug\w* vor"),
    (
        "signed",
        r"unterzeichne\w*|unterschrieb\w*|unterschrieben|geschlossen|schloss\w*|"
        r"vereinbart\w*|einigten",
    ),
    ("planned", r"plan(?:en|t)|geplant|soll\w*|wollen"),
)


def _treaty_status(sentence: str) -> str | None:
    for status, pattern in _TREATY_STATUS:
        if re.search(rf"\b(?:{pattern})", sentence):
            return status
    return None


def _before(text: str, ctx: Span, s: Span) -> str:
    """The context in front of sentence ``s`` (it is not repeated in the prompt)."""
    return _clip(text[ctx.start : s.start].strip(), 400) or "-"


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _unique_spans(spans: list[Span]) -> list[Span]:
    """One question per distinct text: repeated paragraphs are asked about once."""
    seen: set[str] = set()
    out = []
    for s in spans:
        k = _norm_key(s.text)
        if k not in seen:
            seen.add(k)
            out.append(s)
    return out


def chunks(text: str, size: int, overlap: int) -> Iterator[tuple[int, str]]:
    """Split at paragraph or sentence ends into pieces of at most ``size`` chars, overlapping."""
    if len(text) <= size:
        yield 0, text
        return
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = max(
                text.rfind("\n", start + size // 2, end), text.rfind(". ", start + size // 2, end)
            )
            if cut > start:
                end = cut + 1
        yield start, text[start:end]
        if end >= len(text):
            return
        start = max(end - overlap, start + 1)


# ----------------------------------------------------------------------------- finalize


def finalize(
    doc: Document,
    drafts: _Drafts,
    *,
    model: str,
    strategy: str,
    prompt_version: str,
    usage: Usage,
    errors: list[ArticleError],
    status: Literal["ok", "partial", "failed"],
) -> ArticleFacts:
    """Ground every draft in the text, re-derive its values from evidence, flag failures."""
    text, pub = doc.text, doc.published
    grounder = Grounder(text)
    people = find_candidates(text, pub).people if drafts.statements or drafts.meetings else []

    def located(d: dict[str, Any]) -> dict[str, Any]:
        g = grounder.ground(d["evidence"])
        flags: list[Flag] = [] if g.status != "none" else ["ungrounded"]
        out = {k: v for k, v in d.items() if not k.startswith("_")}
        if g.status != "none" and g.char_start is not None and g.char_end is not None:
            out["evidence"] = text[g.char_start : g.char_end]
        out.update(char_start=g.char_start, char_end=g.char_end, alignment=g.status)
        out["flags"] = flags
        return out

    def check_date(out: dict[str, Any], evidence: str) -> None:
        if out.get("date") and out.get("date_text"):
            if not date_in_evidence(out["date_text"], out["date"], pub, context=evidence):
                out["flags"].append("date_not_in_evidence")
        if any(i for i in check_weekday(evidence)):
            out["flags"].append("weekday_mismatch")

    meetings: list[Meeting] = []
    statements: list[Statement] = []
    treaties: list[Treaty] = []
    figures: list[TradeFigure] = []
    seen: set[tuple[str, ...]] = set()
    kept: list[dict[str, Any]] = []
    for d in sorted(drafts.meetings, key=lambda d: d.get("_pos", 0)):
        out = located(d)
        out["participants"] = tuple(expand_name(p, people) for p in out["participants"])
        check_date(out, out["evidence"])
        # One meeting told in several sentences: keep the first, but prefer a dated telling.
        same = next((k for k in kept if _same_meeting(k, out)), None)
        if same is None:
            kept.append(out)
        elif same["date"] is None and out["date"] is not None:
            kept[kept.index(same)] = out
    meetings.extend(Meeting(**_flagged(m)) for m in kept)
    for d in sorted(drafts.statements, key=lambda d: d.get("_pos", 0)):
        out = located(d)
        out["quote"] = out["evidence"] if out["alignment"] != "none" else out["quote"]
        out["speaker"] = expand_name(out["speaker"], people)
        skey = ("s", _norm_key(out["quote"]))
        if skey in seen:
            continue
        seen.add(skey)
        surname = out["speaker"].split()[-1] if out["speaker"].split() else ""
        if surname and surname.lower() not in text.lower():
            out["flags"].append("speaker_not_in_text")
        statements.append(Statement(**_flagged(out)))
    bases: list[str] = []  # each kept treaty's name as the model gave it
    for d in sorted(drafts.treaties, key=lambda d: d.get("_pos", 0)):
        out = located(d)
        base = out["name"]
        out["name"] = _with_proper_name(base, out["evidence"])
        tkey = ("t", _norm_key(base))
        twin = next(
            (i for i, t in enumerate(treaties) if _same_treaty(t, bases[i], out, base)), None
        )
        # One agreement told twice: keep the first telling, unless a later one gives its
        # proper name ("Nuklearvertrag New START" after "Atomwaffenkontrollvertrag").
        if twin is not None and not (
            _ACRONYM.search(out["name"]) and not _ACRONYM.search(treaties[twin].name)
        ):
            continue
        if twin is None and tkey in seen:
            continue
        seen.add(tkey)
        check_date(out, out["evidence"])
        if not _name_in(out["name"], out["evidence"]):
            out["flags"].append("name_not_in_evidence")
        if twin is None:
            treaties.append(Treaty(**_flagged(out)))
            bases.append(base)
        else:
            treaties[twin], bases[twin] = Treaty(**_flagged(out)), base
    for d in sorted(drafts.trade_figures, key=lambda d: d.get("_pos", 0)):
        out = located(d)
        fkey = ("f", str(out["value"]), str(out["currency"]), str(out["period"]))
        if fkey in seen:
            continue
        seen.add(fkey)
        if not amount_in_evidence(out["evidence"], out["value"], out["currency"]):
            out["flags"].append("value_not_in_evidence")
        if out.get("period") and out.get("period_text"):
            if not date_in_evidence(
                out["period_text"], out["period"], pub, context=out["evidence"]
            ):
                out["flags"].append("date_not_in_evidence")
        figures.append(TradeFigure(**_flagged(out)))
    return ArticleFacts(
        article_id=doc.id,
        text_sha256=doc.sha256,
        text=text,
        source=doc.source,
        model=model,
        strategy=strategy,
        prompt_version=prompt_version,
        schema_version=SCHEMA_VERSION,
        status=status,
        meetings=tuple(meetings),
        statements=tuple(statements),
        treaties=tuple(treaties),
        trade_figures=tuple(figures),
        usage=usage,
        errors=tuple(errors),
    )


_WORD = re.compile(r"\w{4,}")


def _name_in(name: str, evidence: str) -> bool:
    """Every content word of a treaty's name occurs in its evidence. Five-letter stems let
    inflection and compounds pass ("Vertrag" in "Vertrags", "Atomwaffenvertrag"), while a
    name the model made up or took from elsewhere does not."""
    words = {w[:5] for w in _WORD.findall(name.lower())}
    haystack = evidence.lower()
    return bool(words) and all(w in haystack for w in words)


def _same_meeting(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        set(a["participants"]) == set(b["participants"])
        and a["status"] == b["status"]
        and (a["date"] == b["date"] or a["date"] is None or b["date"] is None)
    )


def _same_treaty(t: Treaty, t_base: str, d: dict[str, Any], d_base: str) -> bool:
    """One agreement told twice in an article: same status, compatible dates, and a similar
    name (as the model gave it, before ``_with_proper_name``), or the same kind of agreement
    where one telling gives the proper name ("Atomwaffenvertrag", "Nuklearvertrag New START")."""
    if t.status != d["status"] or (t.date and d["date"] and not _dates_meet(t.date, d["date"])):
        return False
    if fuzz.partial_ratio(t_base.lower(), d_base.lower()) >= 70:
        return True
    heads = _TREATY_HEAD.findall(t.name.lower()), _TREATY_HEAD.findall(d["name"].lower())
    one_named = bool(_ACRONYM.search(t.name)) != bool(_ACRONYM.search(d["name"]))
    return one_named and bool(set(heads[0]) & set(heads[1]))


# An acronym: "START", "INF", "AUKUS". States and blocs are parties, not names:
# "Abkommen mit den USA" is not a proper name.
_ACRONYM_RE = r"(?!(?:USA|US|EU|UN|UNO)\b)[A-Z]{2,}[A-Z0-9]*\b"
_ACRONYM = re.compile(r"\b" + _ACRONYM_RE)
# A proper name: an acronym, optionally after one capitalised word ("New START").
_PROPER_AFTER = r"\s+((?:[A-Z][a-z]+\s)?[A-Z]{2,}[A-Z0-9]*)\b"
_TREATY_HEAD = re.compile(r"vertrag|abkommen|pakt|erklärung|vereinbarung|memorandum")
# A compound agreement noun and the proper name after it: "Nuklearvertrag New START".
_PROPER_TREATY = re.compile(
    r"\b\w*(?:[Vv]ertrag|[Aa]bkommen|[Pp]akt)s?\s+(?:[A-Z][a-z]+\s)?" + _ACRONYM_RE
)


def _with_proper_name(name: str, evidence: str) -> str:
    """The model's name, extended by the proper name that follows it in the evidence: small
    models answer with the common noun ("Nuklearvertrag") of "Nuklearvertrag New START"."""
    if not name:
        return name
    m = re.search(re.escape(name) + _PROPER_AFTER, evidence)
    return f"{name} {m.group(1)}" if m else name


def _dates_meet(a: str, b: str) -> bool:
    a0, _, a1 = a.partition("..")
    b0, _, b1 = b.partition("..")
    a1, b1 = a1 or a0, b1 or b0
    # ISO strings of mixed precision compare by prefix: "2023-02" covers "2023-02-21".
    return (b0[: len(a1)] <= a1 and a0[: len(b1)] <= b1) or a0.startswith(b0) or b0.startswith(a0)


def _flagged(out: dict[str, Any]) -> dict[str, Any]:
    out["flags"] = tuple(dict.fromkeys(out["flags"]))
    return out
