"""Score extraction results against a hand-made gold set, by the rules of the gold README.

``score`` counts what it is given: pass ``ArticleFacts.validated()`` results to score only
verified facts, or the raw results to score everything the extractor said. Flags and
alignment do not change matching; they only feed the grounded share.

Conventions the README leaves open:
- A ratio with an empty denominator is 1.0 when there was nothing to get wrong (no false
  positives and no misses), else 0.0. So an empty result against gold has recall 0.
- Matching uses the README's criteria only. Among the candidate pairs, the greedy order also
  weighs how much the evidence spans overlap and how many fields agree, so that of several
  Putin-Xi meetings in one article each extracted meeting pairs with its own gold meeting.
- Field accuracy covers matched pairs of required gold items. A gold ``null`` date, location
  or period is a value ("the text gives none"); a gold ``null`` kind or status is unannotated
  and skipped. A gold ``metric`` is free text ("China exports to Russia"): its words map it
  to the closed set (``_rules.metric_of_label``). ``speaker`` checks the whole name: matching
  needs only the surname, so "Wang Wenbin" for gold "Wang Yi" matches a quote but counts as
  a wrong speaker.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TypeAlias

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rapidfuzz import fuzz, utils
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ._errors import InputError
from ._gold import GoldArticle, GoldMeeting, GoldStatement, GoldTradeFigure, GoldTreaty, load_gold
from ._ground import ground
from ._names import (
    canonical_country,
    canonical_person,
    canonical_place,
    name_key,
    same_person,
    same_surname,
)
from ._rules import metric_of_label
from ._schemas import ArticleFacts, FactType, Meeting, Statement, TradeFigure, Treaty

__all__ = [
    "ArticleScore",
    "EvalReport",
    "FieldScore",
    "GroundedShare",
    "Match",
    "TypeScore",
    "load_gold_set",
    "load_results",
    "report_renderables",
    "score",
    "speaker_matches",
]

FACT_TYPES: tuple[FactType, ...] = ("meeting", "statement", "treaty", "trade_figure")
FIELDS = ("date", "location", "kind", "status", "period", "metric", "speaker")
QUOTE_OVERLAP = 0.7
TREATY_NAME_SIMILARITY = 0.6
VALUE_TOLERANCE = 0.005

_Fact: TypeAlias = Meeting | Statement | Treaty | TradeFigure
_GoldFact: TypeAlias = GoldMeeting | GoldStatement | GoldTreaty | GoldTradeFigure
_Span: TypeAlias = tuple[int, int] | None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TypeScore(_Model):
    tp: int = 0
    fp: int = 0
    fn: int = 0
    optional: int = Field(default=0, description="Matches with optional gold items (uncounted).")
    precision: float = 1.0
    recall: float = 1.0
    f1: float = 1.0


class FieldScore(_Model):
    correct: int = 0
    total: int = 0
    accuracy: float | None = Field(default=None, description="None when no pair had the field.")


class GroundedShare(_Model):
    grounded: int = 0
    total: int = 0
    share: float | None = Field(default=None, description="None when nothing was extracted.")


class Match(_Model):
    type: FactType
    extracted: int = Field(description="Index in the article's list of that type.")
    gold: int = Field(description="Index in the gold article's list of that type.")
    optional: bool
    similarity: float


class ArticleScore(_Model):
    article_id: str
    in_results: bool
    types: dict[FactType, TypeScore]
    micro: TypeScore
    matches: tuple[Match, ...] = ()
    false_positives: tuple[str, ...] = Field(default=(), description="Unmatched extractions.")
    misses: tuple[str, ...] = Field(default=(), description="Unmatched required gold facts.")


class EvalReport(_Model):
    types: dict[FactType, TypeScore]
    micro: TypeScore
    fields: dict[str, FieldScore]
    grounded: GroundedShare
    articles: tuple[ArticleScore, ...]
    warnings: tuple[str, ...] = ()


# Loading -----------------------------------------------------------------------------


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where + ': ' if where else ''}{err['msg']}{more}"


def load_results(path: str | Path) -> list[ArticleFacts]:
    """Read a JSONL file of ArticleFacts; blank lines are skipped. Raises ``InputError``."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    out: list[ArticleFacts] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(ArticleFacts.model_validate_json(line))
        except ValidationError as exc:
            msg = f"{path}, line {number}: not an ArticleFacts record: {_first_error(exc)}"
            raise InputError(msg) from exc
    return out


def load_gold_set(path: str | Path) -> list[GoldArticle]:
    """``load_gold`` with every failure as one ``InputError`` a person can read."""
    try:
        return load_gold(path)
    except ValidationError as exc:
        raise InputError(f"{path}: not a gold set: {_first_error(exc)}") from exc
    except (OSError, ValueError) as exc:  # ValueError covers bad JSON and bad UTF-8
        raise InputError(f"{path}: not a gold set: {exc}") from exc


# Normalisation -----------------------------------------------------------------------

_ISO_PART = re.compile(r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?")


def _norm_date(value: str | None) -> str | None:
    """ISO date, month, year or range with padded parts: "2024-5-6/2024-5-6" -> "2024-05-06"."""
    if value is None or not value.strip():
        return None
    parts = []
    for part in re.split(r"\.\.|/", value.strip()):
        m = _ISO_PART.fullmatch(part.strip())
        parts.append("-".join(f"{int(g):02d}" for g in m.groups() if g) if m else part.strip())
    return parts[0] if len(set(parts)) == 1 else "..".join(parts)


def _tokens(quote: str) -> list[str]:
    return re.findall(r"\w+", unicodedata.normalize("NFKC", quote).casefold())


def _quote_overlap(a: str, b: str) -> float:
    """Shared tokens (with multiplicity) as a share of the shorter quote."""
    ta, tb = _tokens(a), _tokens(b)
    if not ta or not tb:
        return 0.0
    return sum((Counter(ta) & Counter(tb)).values()) / min(len(ta), len(tb))


def _overlap(a: _Span, b: _Span) -> float:
    """Intersection over union of two character spans; 0 when either is unknown."""
    if a is None or b is None:
        return 0.0
    inter = min(a[1], b[1]) - max(a[0], b[0])
    return inter / (max(a[1], b[1]) - min(a[0], b[0])) if inter > 0 else 0.0


def _people(names: Sequence[str]) -> list[str]:
    """Participants with repeats of one person ("Putin", "Wladimir Putin") dropped."""
    out: list[str] = []
    for name in names:
        if not any(same_surname(name, seen) for seen in out):
            out.append(name)
    return out


def _shared_people(a: Sequence[str], b: Sequence[str]) -> int:
    free = list(b)
    shared = 0
    for name in a:
        hit = next((other for other in free if same_surname(name, other)), None)
        if hit is not None:
            free.remove(hit)
            shared += 1
    return shared


# Matching ----------------------------------------------------------------------------

# Gold speakers that name nobody: the annotation kept a pronoun or an empty span.
_PRONOUNS = frozenset(
    "er sie es ich wir ihr man die der das dieser diese darunter beide jener jene".split()
)
_GOLD_WORD = re.compile(r"[^\W\d_][\w'’-]*")


def _inflected(key: str, word: str) -> bool:
    # "amt" in "Amtes", "putin" in "Putins": a German case ending of at most two letters.
    return word.startswith(key) and len(word) - len(key) <= 2 and len(key) >= 2


def speaker_matches(extracted: str, gold: str, *, optional: bool = False) -> bool:
    """The README's lenient speaker rule. Gold speakers are literal spans ("Die Kernaussage
    von Anna Berg, der Leiterin des Instituts", "Aussagen des Auswärtigen Amtes"),
    so a speaker matches when the surnames agree, or when the extracted speaker's surname is
    one of the gold span's words (a case ending allowed). An optional gold item whose
    speaker names nobody ("er", "Sie", empty) accepts any speaker: the gold leaves it open."""
    if same_surname(extracted, gold):
        return True
    gold_words = _GOLD_WORD.findall(gold)
    if optional and all(w.casefold() in _PRONOUNS for w in gold_words):
        return True
    key = canonical_person(extracted)
    if not key:
        return False
    return any(_inflected(key, name_key(w)) for w in gold_words if w[0].isupper())


def _similarity(e: _Fact, g: _GoldFact, spans_overlap: bool) -> float | None:
    """The README criterion: None when the two are not the same fact, else a score in [0, 1]."""
    if isinstance(e, Meeting) and isinstance(g, GoldMeeting):
        ep, gp = _people(e.participants), _people(g.participants)
        shared = _shared_people(ep, gp)
        if not gp or shared < min(2, len(gp)):
            return None
        return shared / (len(ep) + len(gp) - shared)
    if isinstance(e, Statement) and isinstance(g, GoldStatement):
        if not speaker_matches(e.speaker, g.speaker, optional=g.optional):
            return None
        overlap = _quote_overlap(e.quote, g.quote)
        return overlap if overlap >= QUOTE_OVERLAP else None
    if isinstance(e, Treaty) and isinstance(g, GoldTreaty):
        name = fuzz.ratio(e.name, g.name, processor=utils.default_process) / 100
        parties = {canonical_country(p) for p in e.parties} == {
            canonical_country(p) for p in g.parties
        }
        return name if spans_overlap or (name >= TREATY_NAME_SIMILARITY and parties) else None
    if isinstance(e, TradeFigure) and isinstance(g, GoldTradeFigure):
        if (e.currency or "").upper() != g.currency.upper():
            return None
        tolerance = VALUE_TOLERANCE * abs(g.value)
        diff = abs(e.value - g.value)
        if diff > tolerance * (1 + 1e-9):  # inclusive, despite float rounding
            return None
        return 1.0 - diff / tolerance if tolerance else 1.0
    raise TypeError(f"cannot compare {type(e).__name__} with {type(g).__name__}")


def _fields(e: _Fact, g: _GoldFact) -> dict[str, bool]:
    """Which fields of a matched pair agree; fields the gold leaves unannotated are absent."""
    out: dict[str, bool] = {}
    if isinstance(e, Meeting) and isinstance(g, GoldMeeting):
        out["date"] = _norm_date(e.date) == _norm_date(g.date)
        out["location"] = (e.location and canonical_place(e.location)) == (
            g.location and canonical_place(g.location)
        )
        if g.kind is not None:
            out["kind"] = e.kind == g.kind
        if g.status is not None:
            out["status"] = e.status == g.status
    elif isinstance(e, Statement) and isinstance(g, GoldStatement):
        out["date"] = _norm_date(e.date) == _norm_date(g.date)
        out["speaker"] = same_person(e.speaker, g.speaker)
    elif isinstance(e, Treaty) and isinstance(g, GoldTreaty):
        out["date"] = _norm_date(e.date) == _norm_date(g.date)
        if g.status is not None:
            out["status"] = e.status == g.status
    elif isinstance(e, TradeFigure) and isinstance(g, GoldTradeFigure):
        out["period"] = _norm_date(e.period) == _norm_date(g.period)
        if g.metric:  # free text in the gold files: its words give the closed metric
            out["metric"] = e.metric == metric_of_label(g.metric)
    return out


def _span(evidence: str, text: str) -> _Span:
    found = ground(evidence, text)
    if found.char_start is None or found.char_end is None:
        return None
    return found.char_start, found.char_end


def _extracted_span(fact: _Fact, text: str) -> _Span:
    if fact.char_start is not None and fact.char_end is not None:
        return fact.char_start, fact.char_end
    return _span(fact.evidence, text)  # no offsets given: locate the evidence ourselves


def _gold_span(item: _GoldFact, text: str) -> _Span:
    return _span(item.quote if isinstance(item, GoldStatement) else item.evidence, text)


def _assign(
    extracted: Sequence[_Fact], gold: Sequence[_GoldFact], text: str
) -> list[tuple[int, int, float]]:
    """One-to-one pairs ``(extracted index, gold index, similarity)``, greedy by similarity."""
    e_spans = [_extracted_span(f, text) for f in extracted]
    g_spans = [_gold_span(g, text) for g in gold]
    ranked: list[tuple[tuple[float, float, bool, int, int], float]] = []
    for i, e in enumerate(extracted):
        for j, g in enumerate(gold):
            iou = _overlap(e_spans[i], g_spans[j])
            sim = _similarity(e, g, iou > 0)
            if sim is None:
                continue
            agree = _fields(e, g)
            agreement = sum(agree.values()) / len(agree) if agree else 0.0
            # Ties go to required gold items, then to document order.
            ranked.append(((-(sim + iou), -agreement, g.optional, i, j), sim))
    ranked.sort()
    used_e: set[int] = set()
    used_g: set[int] = set()
    pairs: list[tuple[int, int, float]] = []
    for (_, _, _, i, j), sim in ranked:
        if i not in used_e and j not in used_g:
            used_e.add(i)
            used_g.add(j)
            pairs.append((i, j, sim))
    return pairs


# Scoring -----------------------------------------------------------------------------


def _ratio(num: int, den: int, perfect: bool) -> float:
    return num / den if den else (1.0 if perfect else 0.0)


def _type_score(tp: int, fp: int, fn: int, optional: int = 0) -> TypeScore:
    perfect = fp == 0 and fn == 0
    p = _ratio(tp, tp + fp, perfect)
    r = _ratio(tp, tp + fn, perfect)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return TypeScore(tp=tp, fp=fp, fn=fn, optional=optional, precision=p, recall=r, f1=f1)


def _sum(scores: Sequence[TypeScore]) -> TypeScore:
    return _type_score(
        sum(s.tp for s in scores),
        sum(s.fp for s in scores),
        sum(s.fn for s in scores),
        sum(s.optional for s in scores),
    )


def _label(kind: FactType, index: int, item: _Fact | _GoldFact) -> str:
    if isinstance(item, Meeting | GoldMeeting):
        what = f"{', '.join(item.participants)} {item.date or ''}"
    elif isinstance(item, Statement | GoldStatement):
        quote = item.quote if len(item.quote) <= 60 else item.quote[:59] + "…"
        what = f"{item.speaker}: „{quote}“"
    elif isinstance(item, Treaty | GoldTreaty):
        what = f"{item.name} {item.date or ''}"
    else:
        what = f"{item.value:g} {item.currency or '%'} {item.period or ''}"
    return f"{kind}[{index}] {what.strip()}"


def _facts_of(result: ArticleFacts | None, kind: FactType) -> Sequence[_Fact]:
    if result is None:
        return ()
    lists: dict[FactType, Sequence[_Fact]] = {
        "meeting": result.meetings,
        "statement": result.statements,
        "treaty": result.treaties,
        "trade_figure": result.trade_figures,
    }
    return lists[kind]


def _gold_of(article: GoldArticle, kind: FactType) -> Sequence[_GoldFact]:
    lists: dict[FactType, Sequence[_GoldFact]] = {
        "meeting": article.meetings,
        "statement": article.statements,
        "treaty": article.treaties,
        "trade_figure": article.trade_figures,
    }
    return lists[kind]


def _score_article(
    result: ArticleFacts | None, gold: GoldArticle, fields: dict[str, list[bool]]
) -> ArticleScore:
    """One article's scores; appends each matched pair's field agreement to ``fields``."""
    text = result.text if result is not None else ""
    types: dict[FactType, TypeScore] = {}
    matches: list[Match] = []
    false_positives: list[str] = []
    misses: list[str] = []
    for kind in FACT_TYPES:
        extracted, golds = _facts_of(result, kind), _gold_of(gold, kind)
        pairs = _assign(extracted, golds, text)
        matched_e = {i for i, _, _ in pairs}
        matched_g = {j for _, j, _ in pairs}
        for i, j, sim in pairs:
            g = golds[j]
            matches.append(
                Match(type=kind, extracted=i, gold=j, optional=g.optional, similarity=sim)
            )
            if not g.optional:
                for name, ok in _fields(extracted[i], g).items():
                    fields[name].append(ok)
        false_positives += [
            _label(kind, i, f) for i, f in enumerate(extracted) if i not in matched_e
        ]
        missed = [j for j, g in enumerate(golds) if j not in matched_g and not g.optional]
        misses += [_label(kind, j, golds[j]) for j in missed]
        optional = sum(golds[j].optional for j in matched_g)
        fp = len(extracted) - len(pairs)
        types[kind] = _type_score(len(pairs) - optional, fp, len(missed), optional)
    return ArticleScore(
        article_id=gold.article,
        in_results=result is not None,
        types=types,
        micro=_sum(list(types.values())),
        matches=tuple(matches),
        false_positives=tuple(false_positives),
        misses=tuple(misses),
    )


def score(results: Sequence[ArticleFacts], gold: Sequence[GoldArticle]) -> EvalReport:
    """Score ``results`` against ``gold`` (see the module docstring for the conventions).

    Results for articles not in the gold set are ignored and named in ``warnings``; a gold
    article without a result counts all its required facts as misses.
    """
    warnings: list[str] = []
    by_id: dict[str, ArticleFacts] = {}
    for r in results:
        if r.article_id in by_id:
            warnings.append(f"article {r.article_id}: more than one result; the first is scored")
        else:
            by_id[r.article_id] = r
    gold_ids = {g.article: None for g in gold}  # ordered and unique
    warnings += [f"article {a}: not in the gold set; ignored" for a in by_id if a not in gold_ids]
    warnings += [
        f"article {a}: no result; its gold facts count as misses"
        for a in gold_ids
        if a not in by_id
    ]

    fields: dict[str, list[bool]] = {name: [] for name in FIELDS}
    articles: list[ArticleScore] = []
    seen: set[str] = set()
    for g in gold:
        if g.article in seen:
            warnings.append(f"article {g.article}: more than once in the gold set; first kept")
            continue
        seen.add(g.article)
        articles.append(_score_article(by_id.get(g.article), g, fields))

    scored = [by_id[a] for a in gold_ids if a in by_id]
    facts = [f for r in scored for f in r.facts()]
    grounded = sum(f.alignment != "none" for f in facts)
    return EvalReport(
        types={k: _sum([a.types[k] for a in articles]) for k in FACT_TYPES},
        micro=_sum([a.micro for a in articles]),
        fields={
            name: FieldScore(
                correct=sum(oks), total=len(oks), accuracy=sum(oks) / len(oks) if oks else None
            )
            for name, oks in fields.items()
        },
        grounded=GroundedShare(
            grounded=grounded, total=len(facts), share=grounded / len(facts) if facts else None
        ),
        articles=tuple(articles),
        warnings=tuple(warnings),
    )


# Rendering ---------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _score_table(title: str, rows: Sequence[tuple[str, TypeScore]], opt: bool) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for column in ("P", "R", "F1", "TP", "FP", "FN") + (("opt",) if opt else ()):
        table.add_column(column, justify="right")
    for name, s in rows:
        counts = (s.tp, s.fp, s.fn) + ((s.optional,) if opt else ())
        # Text, not str: an article id is not rich markup.
        table.add_row(Text(name), *map(_fmt, (s.precision, s.recall, s.f1)), *map(str, counts))
    return table


def report_renderables(report: EvalReport, *, verbose: bool = False) -> RenderableType:
    """The report as rich tables: scores per type, field accuracy, grounded share."""
    rows = [(k, s) for k, s in report.types.items()] + [("micro", report.micro)]
    parts: list[RenderableType] = [_score_table("Facts", rows, opt=True)]
    fields = Table(title="Field accuracy (matched pairs)", title_justify="left")
    fields.add_column("field")
    fields.add_column("accuracy", justify="right")
    fields.add_column("correct", justify="right")
    for name, f in report.fields.items():
        fields.add_row(name, _fmt(f.accuracy), f"{f.correct}/{f.total}")
    parts.append(fields)
    g = report.grounded
    share = "–" if g.share is None else f"{g.share:.1%}"
    parts.append(Text(f"Grounded evidence: {g.grounded}/{g.total} ({share})"))
    if verbose:
        rows = [(a.article_id, a.micro) for a in report.articles]
        parts.append(_score_table("Articles", rows, opt=False))
        for a in report.articles:
            for label in a.misses:
                parts.append(Text(f"{a.article_id}  miss  {label}"))
            for label in a.false_positives:
                parts.append(Text(f"{a.article_id}  extra {label}"))
    return Group(*parts)
