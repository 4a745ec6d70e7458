"""The hand-made gold format of ``../shared/eval`` and its conversion to ``ArticleFacts``.

The converter lets the cross-checker and the scorer be tested on gold facts, with no LLM.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ._ground import ground
from ._rules import metric_of_label
from ._schemas import ArticleFacts, Meeting, Source, Statement, TradeFigure, Treaty


class _Gold(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    optional: bool = False


class GoldMeeting(_Gold):
    participants: tuple[str, ...]
    location: str | None = None
    date: str | None = None
    kind: str | None = None
    status: str | None = None
    evidence: str = ""


class GoldStatement(_Gold):
    speaker: str
    quote: str
    date: str | None = None


class GoldTreaty(_Gold):
    name: str
    parties: tuple[str, ...] = ()
    status: str | None = None
    date: str | None = None
    evidence: str = ""


class GoldTradeFigure(_Gold):
    value: float
    currency: str
    period: str | None = None
    metric: str = ""
    parties: tuple[str, ...] = ()
    evidence: str = ""


class GoldArticle(_Gold):
    article: str
    meetings: tuple[GoldMeeting, ...] = ()
    statements: tuple[GoldStatement, ...] = ()
    treaties: tuple[GoldTreaty, ...] = ()
    trade_figures: tuple[GoldTradeFigure, ...] = ()


def load_gold(path: str | Path) -> list[GoldArticle]:
    data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    return [GoldArticle.model_validate(item) for item in data]


def _spans(evidence: str, text: str) -> dict[str, Any]:
    g = ground(evidence, text)
    return {
        "evidence": evidence,
        "char_start": g.char_start,
        "char_end": g.char_end,
        "alignment": g.status,
    }


def gold_to_results(
    gold: list[GoldArticle], seeds_dir: str | Path, *, include_optional: bool = False
) -> list[ArticleFacts]:
    """Turn gold facts into extraction results, grounded against the seed texts."""
    out: list[ArticleFacts] = []
    for art in gold:
        txt_path = Path(seeds_dir) / f"{art.article}.txt"
        text = txt_path.read_text(encoding="utf-8")
        meta_path = txt_path.with_suffix(".meta.json")
        meta: dict[str, Any] = (
            json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        )

        def keep(item: _Gold) -> bool:
            return include_optional or not item.optional

        out.append(
            ArticleFacts(
                article_id=art.article,
                text_sha256=hashlib.sha256(text.encode()).hexdigest(),
                text=text,
                source=Source(
                    path=str(txt_path),
                    published=meta.get("published"),
                    outlet=meta.get("outlet"),
                    url=meta.get("url"),
                    encoding="utf-8",
                ),
                model="gold",
                strategy="gold",
                meetings=tuple(
                    Meeting(
                        participants=m.participants,
                        location=m.location,
                        date=m.date,
                        kind=m.kind,  # type: ignore[arg-type]
                        status=m.status or "held",  # type: ignore[arg-type]
                        **_spans(m.evidence, text),
                    )
                    for m in art.meetings
                    if keep(m)
                ),
                statements=tuple(
                    Statement(
                        speaker=s.speaker, quote=s.quote, date=s.date, **_spans(s.quote, text)
                    )
                    for s in art.statements
                    if keep(s)
                ),
                treaties=tuple(
                    Treaty(
                        name=t.name,
                        parties=t.parties,
                        status=t.status or "signed",  # type: ignore[arg-type]
                        date=t.date,
                        **_spans(t.evidence, text),
                    )
                    for t in art.treaties
                    if keep(t)
                ),
                trade_figures=tuple(
                    TradeFigure(
                        value=f.value,
                        value_text=f.evidence,
                        currency=f.currency,
                        period=f.period,
                        metric=metric_of_label(f.metric) if f.metric else "trade_volume",
                        parties=f.parties,
                        **_spans(f.evidence, text),
                    )
                    for f in art.trade_figures
                    if keep(f)
                ),
            )
        )
    return out
