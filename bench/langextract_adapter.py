"""langextract output -> factx ``ArticleFacts``, so that ``factx._eval.score`` can score it.

The task given to langextract (``PROMPT``, ``EXAMPLES``) asks for the four classes of the
gold set with the attributes the gold format needs. The adapter keeps langextract's own
character intervals as evidence spans, and turns the attributes it returned as written
("am Donnerstag", "218,2 Milliarden US-Dollar") into gold values with factx's own
normalisers, the same ones factx applies to its answers. It works on the plain dicts that
``langextract_worker.py`` prints (langextract runs in its own venv), so it never imports
langextract.

The few-shot example is invented for this benchmark: it is not taken from the seeds.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import Any

from factx._amounts import normalize_amount
from factx._dates import resolve_date
from factx._rules import metric_of_label
from factx._schemas import ArticleFacts, Meeting, Source, Statement, TradeFigure, Treaty, Usage

CLASSES = ("meeting", "statement", "treaty", "trade_figure")

# The same task as factx's prompts (prompts/whole.txt), phrased for langextract's classes.
PROMPT = """\
Extract every fact of these four kinds from the German news article, in order of appearance.
Use the exact text of the article for each extraction; do not paraphrase or overlap extractions.
- meeting: a meeting, visit, summit, phone or video call between named people. Attributes:
  participants (the people who met, as named in the text), location (city or place, or
  empty), date (the date as written, e.g. "am Donnerstag"), kind (in_person, phone or
  video), status (held or planned).
- statement: quoted speech of at least four words attributed to a named speaker; the
  extraction text is the quote without quotation marks. Attribute: speaker (full name as
  in the article).
- treaty: an agreement, treaty, joint declaration or plan between states. Attributes: name,
  parties (the states), status (signed, planned, proposed, in_force, suspended or
  rejected), date (as written).
- trade_figure: a trade, export or import value between countries; the extraction text is
  the amount as written (e.g. "218,2 Milliarden US-Dollar"). Attributes: period (as
  written), metric (bilateral trade volume, exports or imports), parties (the countries).
Do not invent facts; return no extraction for a kind the article does not contain."""

EXAMPLE_TEXT = (
    "Der indische Premierminister Narendra Modi hat am Dienstag in Neu-Delhi den "
    "brasilianischen Präsidenten Luiz Inácio Lula da Silva empfangen. „Unsere Partnerschaft "
    "wird in den kommenden Jahren weiter wachsen“, sagte Modi nach dem Treffen. Beide "
    "Regierungen unterzeichneten ein Abkommen über die Zusammenarbeit in der Landwirtschaft. "
    "Der Handel zwischen Indien und Brasilien erreichte im vergangenen Jahr "
    "15,2 Milliarden US-Dollar."
)

EXAMPLE_EXTRACTIONS: list[dict[str, Any]] = [
    {
        "extraction_class": "meeting",
        "extraction_text": "hat am Dienstag in Neu-Delhi den brasilianischen Präsidenten "
        "Luiz Inácio Lula da Silva empfangen",
        "attributes": {
            "participants": ["Narendra Modi", "Luiz Inácio Lula da Silva"],
            "location": "Neu-Delhi",
            "date": "am Dienstag",
            "kind": "in_person",
            "status": "held",
        },
    },
    {
        "extraction_class": "statement",
        "extraction_text": "Unsere Partnerschaft wird in den kommenden Jahren weiter wachsen",
        "attributes": {"speaker": "Narendra Modi"},
    },
    {
        "extraction_class": "treaty",
        "extraction_text": "ein Abkommen über die Zusammenarbeit in der Landwirtschaft",
        "attributes": {
            "name": "Abkommen über die Zusammenarbeit in der Landwirtschaft",
            "parties": ["Indien", "Brasilien"],
            "status": "signed",
            "date": "am Dienstag",
        },
    },
    {
        "extraction_class": "trade_figure",
        "extraction_text": "15,2 Milliarden US-Dollar",
        "attributes": {
            "period": "im vergangenen Jahr",
            "metric": "bilateral trade volume",
            "parties": ["Indien", "Brasilien"],
        },
    },
]


EXAMPLES = [{"text": EXAMPLE_TEXT, "extractions": EXAMPLE_EXTRACTIONS}]


# ------------------------------------------------------------------------------ mapping

_ALIGNMENT = {
    "match_exact": "exact",
    "match_greater": "fuzzy",
    "match_lesser": "fuzzy",
    "match_fuzzy": "fuzzy",
}
_QUOTES = "„“”\"«»‚‘’'"
_KINDS = {"in_person", "phone", "video"}
_MEETING_STATUS = {"held", "planned"}
_TREATY_STATUS = {"signed", "planned", "proposed", "in_force", "suspended", "rejected"}


def _names(value: Any) -> tuple[str, ...]:
    """A list attribute, or a string of names joined by commas, semicolons or 'und'."""
    items = value if isinstance(value, list) else re.split(r"\s*(?:[;,/]|\bund\b)\s*", str(value))
    return tuple(dict.fromkeys(s.strip() for s in items if s and s.strip()))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    s = ", ".join(value) if isinstance(value, list) else str(value)
    s = s.strip()
    return None if not s or s.lower() in {"none", "null", "unknown", "-"} else s


def _date(expr: str | None, published: date | None, context: str) -> str | None:
    if not expr:
        return None
    d = resolve_date(expr, published, context=context)
    return d.value if d else None


def _span(ext: dict[str, Any], text: str) -> dict[str, Any]:
    """langextract's own character interval, as factx evidence offsets."""
    start, end, status = ext.get("start"), ext.get("end"), ext.get("alignment")
    if start is None or end is None or not (0 <= start < end <= len(text)):
        return {"evidence": str(ext.get("extraction_text", "")), "alignment": "none"}
    return {
        "evidence": text[start:end],
        "char_start": start,
        "char_end": end,
        "alignment": _ALIGNMENT.get(str(status), "fuzzy"),
    }


def to_article_facts(
    article_id: str,
    text: str,
    extractions: Iterable[dict[str, Any]],
    *,
    published: str | None = None,
    model: str = "",
    usage: Usage | None = None,
    source_path: str | None = None,
) -> tuple[ArticleFacts, Counter[str]]:
    """One article's langextract extractions as ``ArticleFacts``; and what was dropped."""
    pub = date.fromisoformat(published) if published else None
    meetings: list[Meeting] = []
    statements: list[Statement] = []
    treaties: list[Treaty] = []
    figures: list[TradeFigure] = []
    dropped: Counter[str] = Counter()
    for ext in extractions:
        cls = str(ext.get("extraction_class", "")).strip().lower().replace(" ", "_")
        attrs: dict[str, Any] = dict(ext.get("attributes") or {})
        span = _span(ext, text)
        ev = span["evidence"]
        if cls == "meeting":
            people = _names(attrs.get("participants") or "")
            if not people:
                dropped["meeting without participants"] += 1
                continue
            date_text = _text(attrs.get("date"))
            kind = _text(attrs.get("kind"))
            status = _text(attrs.get("status"))
            meetings.append(
                Meeting(
                    **span,
                    participants=people,
                    location=_text(attrs.get("location")),
                    date=_date(date_text, pub, ev),
                    date_text=date_text,
                    kind=kind if kind in _KINDS else None,  # type: ignore[arg-type]
                    status=status if status in _MEETING_STATUS else "held",  # type: ignore[arg-type]
                )
            )
        elif cls == "statement":
            speaker = _text(attrs.get("speaker"))
            if not speaker:
                dropped["statement without speaker"] += 1
                continue
            statements.append(
                Statement(
                    **span,
                    speaker=speaker,
                    quote=ev.strip().strip(_QUOTES).strip(),
                    date=_date(_text(attrs.get("date")), pub, ev) or published,
                )
            )
        elif cls == "treaty":
            date_text = _text(attrs.get("date"))
            status = _text(attrs.get("status"))
            treaties.append(
                Treaty(
                    **span,
                    name=_text(attrs.get("name")) or ev,
                    parties=_names(attrs.get("parties") or ""),
                    status=status if status in _TREATY_STATUS else "signed",  # type: ignore[arg-type]
                    date=_date(date_text, pub, ev),
                    date_text=date_text,
                )
            )
        elif cls == "trade_figure":
            amount = normalize_amount(ev) or normalize_amount(_text(attrs.get("value")) or "")
            if amount is None:
                dropped["trade figure without an amount"] += 1
                continue
            period_text = _text(attrs.get("period"))
            figures.append(
                TradeFigure(
                    **span,
                    value=float(amount.value),
                    value_text=amount.text or ev,
                    currency=amount.currency,
                    unit="percent" if amount.is_percent else "currency",
                    qualifier=amount.qualifier,
                    period=_date(period_text, pub, ev),
                    period_text=period_text,
                    # The model's free text in the closed set, by its words.
                    metric=metric_of_label(_text(attrs.get("metric")) or "trade volume"),
                    parties=_names(attrs.get("parties") or ""),
                )
            )
        else:
            dropped[f"class {cls!r}"] += 1
    facts = ArticleFacts(
        article_id=article_id,
        text_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        text=text,
        source=Source(path=source_path, published=published),
        model=model,
        strategy="langextract",
        meetings=tuple(meetings),
        statements=tuple(statements),
        treaties=tuple(treaties),
        trade_figures=tuple(figures),
        usage=usage or Usage(),
    )
    return facts, dropped
