"""Pydantic models: the facts, the per-article container, and cross-check findings.

Every fact carries the raw text it was read from, the normalised value, a verbatim
``evidence`` span with ``char_start``/``char_end`` into the article, an alignment status,
and ``flags`` naming every check it failed. This module imports nothing of factx.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = "2"

Alignment = Literal["exact", "normalized", "fuzzy", "none"]
MeetingKind = Literal["in_person", "phone", "video"]
MeetingStatus = Literal["held", "planned"]
TreatyStatus = Literal["signed", "planned", "proposed", "in_force", "suspended", "rejected"]
FactType = Literal["meeting", "statement", "treaty", "trade_figure"]
# What a trade figure measures. A target is a figure aimed at, with its deadline as period.
TradeMetric = Literal[
    "trade_volume", "exports", "imports", "contract_value", "investment", "target", "price",
    "cost", "other",
]  # fmt: skip
# Metric values of factx before the closed set (schema version 1), read as their new names.
_LEGACY_METRICS = {"bilateral trade volume": "trade_volume"}

# Flags a fact can carry. A flagged fact is kept in the store and the raw output, and left
# out of the validated view (``ArticleFacts.validated()``).
Flag = Literal[
    "ungrounded",  # evidence not found in the article (alignment "none")
    "value_not_in_evidence",  # normalised number or currency not re-derivable from evidence
    "date_not_in_evidence",  # date given but no date expression in evidence resolves to it
    "weekday_mismatch",  # "Dienstag, 22. Februar 2023": the weekday does not fit the date
    "speaker_not_in_text",  # the named speaker does not occur in the article
    "name_not_in_evidence",  # most words of the treaty's name are not in its evidence
    # The fields, checked in the evidence's window (its sentences, two before, one after):
    "participant_not_in_evidence",  # a meeting's participant is not named there
    "party_not_in_evidence",  # a treaty's or trade figure's party is not named there
    "speaker_not_in_evidence",  # the speaker is named in the article, but not there
    "place_not_in_evidence",  # the meeting's place is not named there
    "suspicious_instruction",  # the evidence lies in a sentence that addresses the model
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fact(_Model):
    """What every fact has: its evidence and where that evidence sits in the article."""

    evidence: str = Field(description="Verbatim span of the article that states the fact.")
    char_start: int | None = Field(
        default=None, ge=0, description="Offset of the evidence in the article text."
    )
    char_end: int | None = Field(default=None, ge=0, description="End offset (exclusive).")
    alignment: Alignment = Field(
        default="none", description="How the evidence was found in the text."
    )
    flags: tuple[Flag, ...] = Field(default=(), description="Checks this fact failed.")

    @property
    def verified(self) -> bool:
        return self.alignment != "none" and not self.flags


class Meeting(Fact):
    type: Literal["meeting"] = "meeting"
    participants: tuple[str, ...] = Field(description="People who met, as spelled in the text.")
    location: str | None = Field(default=None, description="City or place, German spelling.")
    date: str | None = Field(
        default=None, description="ISO date YYYY-MM-DD, YYYY-MM, YYYY or START..END."
    )
    date_text: str | None = Field(default=None, description="The date as written.")
    kind: MeetingKind | None = None
    status: MeetingStatus = "held"


class Statement(Fact):
    """Quoted speech of at least four words attributed to a named speaker.

    ``evidence`` is the quote itself (without quotation marks), so the offsets locate it.
    """

    type: Literal["statement"] = "statement"
    speaker: str
    quote: str
    date: str | None = None
    date_text: str | None = None


class Treaty(Fact):
    type: Literal["treaty"] = "treaty"
    name: str
    parties: tuple[str, ...] = ()
    status: TreatyStatus = "signed"
    date: str | None = None
    date_text: str | None = None


class TradeFigure(Fact):
    type: Literal["trade_figure"] = "trade_figure"
    value: float = Field(description="Value in base units: 218,2 Milliarden -> 218200000000.")
    value_text: str = Field(description="The amount as written, e.g. '218,2 Milliarden US-Dollar'.")
    currency: str | None = Field(default=None, description="ISO 4217 code; None for percent.")
    unit: Literal["currency", "percent"] = "currency"
    qualifier: str | None = Field(default=None, description="'rund', 'mehr als', … if any.")
    period: str | None = Field(
        default=None, description="YYYY, YYYY-MM, START..END, or ..END (a target's deadline)."
    )
    period_text: str | None = None
    period_from_context: bool = Field(
        default=False,
        description="The period is not in the evidence: it was carried over from the figure "
        "or the sentences told just before (a list of figures names its year once).",
    )
    metric: TradeMetric = Field(
        default="trade_volume",
        description="What the figure measures. A target carries its deadline as its period "
        "('bis 2024' -> '..2024'); it is never compared as a result.",
    )
    direction: tuple[str, str] | None = Field(
        default=None, description="(from, to) for exports and imports: ('China', 'Russland')."
    )
    parties: tuple[str, ...] = ()

    @field_validator("metric", mode="before")
    @classmethod
    def _legacy_metric(cls, value: object) -> object:
        return _LEGACY_METRICS.get(value, value) if isinstance(value, str) else value


AnyFact = Annotated[Meeting | Statement | Treaty | TradeFigure, Field(discriminator="type")]


class Source(_Model):
    path: str | None = None
    published: str | None = Field(default=None, description="Publication date, ISO.")
    outlet: str | None = None
    url: str | None = None
    encoding: str | None = Field(default=None, description="Encoding the file was decoded from.")


class Usage(_Model):
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    cached_answers: int = Field(
        default=0, description="Questions answered from the store's answer cache, not asked."
    )
    cached_prompt_tokens: int = Field(
        default=0,
        description="Of prompt_tokens, those the server says it served from its prefix cache "
        "(0 where it does not say).",
    )


class ArticleError(_Model):
    stage: Literal["read", "extract", "ground", "store"]
    error: str = Field(description="Exception class name, e.g. 'EmptyArticleError'.")
    message: str


class ArticleFacts(_Model):
    """One article's result: the unit that is stored, cached and emitted as one JSON line."""

    article_id: str
    text_sha256: str
    text: str = Field(description="The decoded article text that the offsets point into.")
    source: Source = Source()
    model: str = ""
    strategy: str = ""
    prompt_version: str = ""
    schema_version: str = SCHEMA_VERSION
    status: Literal["ok", "partial", "failed"] = "ok"
    meetings: tuple[Meeting, ...] = ()
    statements: tuple[Statement, ...] = ()
    treaties: tuple[Treaty, ...] = ()
    trade_figures: tuple[TradeFigure, ...] = ()
    usage: Usage = Usage()
    errors: tuple[ArticleError, ...] = ()

    def facts(self) -> tuple[Meeting | Statement | Treaty | TradeFigure, ...]:
        return (*self.meetings, *self.statements, *self.treaties, *self.trade_figures)

    def validated(self) -> ArticleFacts:
        """The same article with every flagged or ungrounded fact left out."""
        return self.model_copy(
            update={
                "meetings": tuple(f for f in self.meetings if f.verified),
                "statements": tuple(f for f in self.statements if f.verified),
                "treaties": tuple(f for f in self.treaties if f.verified),
                "trade_figures": tuple(f for f in self.trade_figures if f.verified),
            }
        )


# Cross-check findings ---------------------------------------------------------------

Severity = Literal["info", "warning", "error"]
FindingKind = Literal[
    "same_event",  # facts in several articles describe one event (corroboration)
    "date_conflict",
    "number_agrees",
    "number_conflict",
    "partial_period_consistent",
    "partial_period_exceeds",
    "currency_consistent",
    "currency_implausible",
    "weekday_mismatch",
    "speaker_conflict",
    "treaty_status_conflict",
    "deadline_conflict",  # one target, different deadlines
    "target_met",  # a result for the deadline's year reaches the target (info)
    "target_missed",  # a result for the deadline's year falls short of it (info)
]


class FactRef(_Model):
    article_id: str
    type: FactType
    index: int = Field(ge=0, description="Index in the article's list of that type.")
    evidence: str = ""
    char_start: int | None = None
    char_end: int | None = None


class Finding(_Model):
    kind: FindingKind
    severity: Severity
    facts: tuple[FactRef, ...]
    message: str = Field(description="One line a person can read.")
    rule: str = Field(default="", description="Which rule or alias produced this.")


class ConsolidatedFact(_Model):
    type: FactType
    summary: str
    facts: tuple[FactRef, ...]
    articles: tuple[str, ...]
    corroboration: int = Field(description="Independent articles that support it.")


class EntityMerge(_Model):
    """One spelling the cross-checker merged into a canonical entity, and why."""

    kind: Literal["person", "place", "party"]
    text: str = Field(description="The spelling as found in a fact: 'Patrushev'.")
    canonical: str = Field(description="The entity it was merged into: 'Nikolai Patruschew'.")
    rule: str = Field(description="The alias, transliteration or fuzzy rule that matched.")


class CrossCheckReport(_Model):
    findings: tuple[Finding, ...] = ()
    consolidated: tuple[ConsolidatedFact, ...] = ()
    articles: tuple[str, ...] = ()
    entities: tuple[EntityMerge, ...] = ()

    def by_severity(self, severity: Severity) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == severity)


SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "meeting": Meeting,
    "statement": Statement,
    "treaty": Treaty,
    "trade_figure": TradeFigure,
    "article_facts": ArticleFacts,
    "finding": Finding,
    "cross_check_report": CrossCheckReport,
}


class Document(_Model):
    """One decoded article, ready for extraction."""

    id: str
    text: str
    sha256: str
    source: Source = Source()
    warnings: tuple[ArticleError, ...] = ()

    @property
    def published(self) -> date | None:
        return date.fromisoformat(self.source.published) if self.source.published else None
