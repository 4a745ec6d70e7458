"""Drafts: facts as a strategy proposes them, before ``finalize`` grounds and checks them.

Each draft carries the fields of its output model and ``pos``, where in the article it was
told (facts come out in text order). Offsets, alignment and flags are finalize's to add.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

MeetingKind = Literal["in_person", "phone", "video"]
MeetingStatus = Literal["held", "planned"]
TreatyStatus = Literal["signed", "planned", "proposed", "in_force", "suspended", "rejected"]
TradeMetric = Literal[
    "trade_volume", "exports", "imports", "contract_value", "investment", "target", "price",
    "cost", "other",
]  # fmt: skip


@dataclass(frozen=True)
class MeetingDraft:
    participants: tuple[str, ...]
    location: str | None
    date: str | None
    date_text: str | None
    kind: MeetingKind
    status: MeetingStatus
    evidence: str
    pos: int


@dataclass(frozen=True)
class StatementDraft:
    speaker: str
    quote: str
    evidence: str
    date: str | None
    date_text: str | None
    pos: int


@dataclass(frozen=True)
class TreatyDraft:
    name: str
    parties: tuple[str, ...]
    status: TreatyStatus
    date: str | None
    date_text: str | None
    evidence: str
    pos: int


@dataclass(frozen=True)
class TradeDraft:
    value: float
    value_text: str
    currency: str | None
    unit: Literal["currency", "percent"]
    qualifier: str | None
    period: str | None
    period_text: str | None
    metric: str
    parties: tuple[str, ...]
    evidence: str
    pos: int
    period_from_context: bool = False


Draft = MeetingDraft | StatementDraft | TreatyDraft | TradeDraft


@dataclass
class Drafts:
    """Everything one article's strategy proposed."""

    meetings: list[MeetingDraft] = field(default_factory=list)
    statements: list[StatementDraft] = field(default_factory=list)
    treaties: list[TreatyDraft] = field(default_factory=list)
    trade_figures: list[TradeDraft] = field(default_factory=list)


def fields_of(draft: Draft) -> dict[str, Any]:
    """The output model's fields of a draft (everything but ``pos``)."""
    out = asdict(draft)
    out.pop("pos")
    return out
