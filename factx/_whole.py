"""The ``whole`` strategy (strong models): one schema-constrained call per chunk of the
article. The model fills the answer models below; offsets come later, from grounding."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._amounts import normalize_amount
from ._dates import resolve_date
from ._drafts import Drafts, MeetingDraft, StatementDraft, TradeDraft, TreatyDraft
from ._prompts import Prompts
from ._schemas import ArticleError, Document
from ._settings import Settings

# ask(answer model, user prompt, label, system prompt, max tokens) -> answer or None
AskWhole = Callable[[type[Any], str, str, str, int], Any | None]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WholeMeeting(_Answer):
    participants: list[str]
    location: str | None = None
    date_text: str | None = None
    kind: Literal["in_person", "phone", "video"] = "in_person"
    status: Literal["held", "planned"] = "held"
    evidence: str


class WholeStatement(_Answer):
    speaker: str
    quote: str
    date_text: str | None = None


class WholeTreaty(_Answer):
    name: str
    parties: list[str] = Field(default_factory=list)
    status: Literal["signed", "planned", "proposed", "in_force", "suspended", "rejected"] = "signed"
    date_text: str | None = None
    evidence: str


class WholeTradeFigure(_Answer):
    value_text: str
    period_text: str | None = None
    metric: str = "bilateral trade volume"
    parties: list[str] = Field(default_factory=list)
    evidence: str


class WholeArticle(_Answer):
    meetings: list[WholeMeeting] = Field(default_factory=list)
    statements: list[WholeStatement] = Field(default_factory=list)
    treaties: list[WholeTreaty] = Field(default_factory=list)
    trade_figures: list[WholeTradeFigure] = Field(default_factory=list)


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


def _resolve(expr: str | None, published: date | None, context: str) -> str | None:
    if not expr:
        return None
    d = resolve_date(expr, published, context=context)
    return d.value if d else None


def ask_whole(
    doc: Document,
    settings: Settings,
    prompts: Prompts,
    ask: AskWhole,
    drafts: Drafts,
    errors: list[ArticleError],
) -> None:
    pub = doc.published
    size, max_tokens = settings.max_chunk_chars, 4096
    if not settings.hosted:
        # A local server's context holds prompt and answer: about 1.5 chars a token.
        size, max_tokens = min(size, settings.n_ctx * 3 // 2), settings.n_ctx // 2
    for offset, chunk in chunks(doc.text, size, min(settings.chunk_overlap, size // 4)):
        prompt = prompts.render("whole", text=chunk, published=doc.source.published or "unknown")
        art = ask(WholeArticle, prompt, "whole", prompts.texts["system"], max_tokens)
        if art is None:
            continue
        for m in art.meetings:
            drafts.meetings.append(
                MeetingDraft(
                    participants=tuple(m.participants),
                    location=m.location,
                    date=_resolve(m.date_text, pub, m.evidence),
                    date_text=m.date_text,
                    kind=m.kind,
                    status=m.status,
                    evidence=m.evidence,
                    pos=offset,
                )
            )
        for s in art.statements:
            drafts.statements.append(
                StatementDraft(
                    speaker=s.speaker,
                    quote=s.quote,
                    evidence=s.quote,
                    date=_resolve(s.date_text, pub, s.quote) or doc.source.published,
                    date_text=s.date_text,
                    pos=offset,
                )
            )
        for t in art.treaties:
            drafts.treaties.append(
                TreatyDraft(
                    name=t.name,
                    parties=tuple(t.parties),
                    status=t.status,
                    date=_resolve(t.date_text, pub, t.evidence),
                    date_text=t.date_text,
                    evidence=t.evidence,
                    pos=offset,
                )
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
                TradeDraft(
                    value=float(amount.value),
                    value_text=f.value_text,
                    currency=amount.currency,
                    unit="percent" if amount.is_percent else "currency",
                    qualifier=amount.qualifier,
                    period=_resolve(f.period_text, pub, f.evidence),
                    period_text=f.period_text,
                    metric=f.metric,
                    parties=tuple(f.parties),
                    evidence=f.evidence,
                    pos=offset,
                )
            )
