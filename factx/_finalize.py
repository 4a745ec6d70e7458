"""Finalize: every draft grounded in the text, its values re-derived from its evidence.

A fact that fails a check keeps its place and gets a flag naming the check; it is never
silently dropped or passed on. One fact told several times in an article is kept once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from rapidfuzz import fuzz

from . import _rules as rules
from ._amounts import amount_in_evidence
from ._candidates import expand_name, norm_key, people
from ._dates import check_weekday, date_in_evidence
from ._drafts import Draft, Drafts, fields_of
from ._fields import Fields, place_in, words_in
from ._ground import Grounder
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


def finalize(
    doc: Document,
    drafts: Drafts,
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
    known = people(text) if drafts.statements or drafts.meetings else []
    fields = Fields.of(text)

    def located(d: Draft) -> dict[str, Any]:
        out = fields_of(d)
        g = grounder.ground(out["evidence"])
        flags: list[Flag] = [] if g.status != "none" else ["ungrounded"]
        if g.status != "none" and g.char_start is not None and g.char_end is not None:
            out["evidence"] = text[g.char_start : g.char_end]
        out.update(char_start=g.char_start, char_end=g.char_end, alignment=g.status)
        if fields.suspicious_at(g.char_start, g.char_end):
            flags.append("suspicious_instruction")
        out["flags"] = flags
        out["_window"] = fields.window(g.char_start, g.char_end, out["evidence"])
        return out

    def check_names(out: dict[str, Any], names: Sequence[str], flag: Flag, skip: str = "") -> None:
        at = out["char_start"], out["char_end"], out["evidence"]
        if not all(fields.grounds(n, *at, skip=skip) for n in names):
            out["flags"].append(flag)

    def check_date(out: dict[str, Any], evidence: str, context: str = "") -> None:
        if out.get("date") and out.get("date_text"):
            if not date_in_evidence(
                out["date_text"], out["date"], pub, context=context or evidence
            ):
                out["flags"].append("date_not_in_evidence")
            elif not words_in(out["date_text"], out["_window"]):
                out["flags"].append("date_not_in_evidence")
        elif out.get("date") and out["date"] != doc.source.published:
            # Undated words may carry the publication date (a quote is dated by its
            # article), never another one.
            out["flags"].append("date_not_in_evidence")
        if any(i for i in check_weekday(evidence)):
            out["flags"].append("weekday_mismatch")

    meetings: list[Meeting] = []
    statements: list[Statement] = []
    treaties: list[Treaty] = []
    figures: list[TradeFigure] = []
    seen: set[tuple[str, ...]] = set()
    kept: list[dict[str, Any]] = []
    for d in sorted(drafts.meetings, key=lambda d: d.pos):
        out = located(d)
        out["participants"] = tuple(expand_name(p, known) for p in out["participants"])
        check_date(out, out["evidence"])
        check_names(out, out["participants"], "participant_not_in_evidence")
        if out.get("location") and not place_in(out["location"], out["_window"]):
            out["flags"].append("place_not_in_evidence")
        # One meeting told in several sentences: keep the first, but prefer a dated telling.
        same = next((k for k in kept if _same_meeting(k, out)), None)
        if same is None:
            kept.append(out)
        elif same["date"] is None and out["date"] is not None:
            kept[kept.index(same)] = out
    meetings.extend(Meeting(**_flagged(m)) for m in kept)
    for sd in sorted(drafts.statements, key=lambda d: d.pos):
        out = located(sd)
        out["quote"] = out["evidence"] if out["alignment"] != "none" else out["quote"]
        out["speaker"] = expand_name(out["speaker"], known)
        skey = ("s", norm_key(out["quote"]))
        if skey in seen:
            continue
        seen.add(skey)
        surname = out["speaker"].split()[-1] if out["speaker"].split() else ""
        if surname and surname.lower() not in text.lower():
            out["flags"].append("speaker_not_in_text")
        else:
            check_names(out, [out["speaker"]], "speaker_not_in_evidence", skip=out["quote"])
        # A quote's date words stand in its frame, outside the quote: read them there.
        check_date(out, out["evidence"], context=out["_window"])
        statements.append(Statement(**_flagged(out)))
    bases: list[str] = []  # each kept treaty's name as the model gave it
    for td in sorted(drafts.treaties, key=lambda d: d.pos):
        out = located(td)
        base = out["name"]
        out["name"] = rules.with_proper_name(base, out["evidence"])
        tkey = ("t", norm_key(base))
        twin = next(
            (i for i, t in enumerate(treaties) if _same_treaty(t, bases[i], out, base)), None
        )
        # One agreement told twice: keep the first telling, unless a later one gives its
        # proper name ("Nuklearvertrag New START" after "Atomwaffenkontrollvertrag").
        # One agreement told twice: keep the first telling, unless a later one gives its
        # proper name, or its date where the first gave none.
        if twin is not None and not (
            (rules.ACRONYM.search(out["name"]) and not rules.ACRONYM.search(treaties[twin].name))
            or (treaties[twin].date is None and out["date"] is not None)
        ):
            continue
        if twin is None and tkey in seen:
            continue
        seen.add(tkey)
        check_date(out, out["evidence"])
        check_names(out, out["parties"], "party_not_in_evidence")
        if not _name_in(out["name"], out["evidence"]):
            out["flags"].append("name_not_in_evidence")
        if twin is None:
            treaties.append(Treaty(**_flagged(out)))
            bases.append(base)
        else:
            treaties[twin], bases[twin] = Treaty(**_flagged(out)), base
    for fd in sorted(drafts.trade_figures, key=lambda d: d.pos):
        out = located(fd)
        fkey = ("f", str(out["value"]), str(out["currency"]), str(out["period"]))
        if fkey in seen:
            continue
        seen.add(fkey)
        out.update(_typed(out))
        if not amount_in_evidence(out["evidence"], out["value"], out["currency"]):
            out["flags"].append("value_not_in_evidence")
        if out.get("period") and out.get("period_text"):
            # A target's deadline "..2024" is said as "bis 2024": its year is checked.
            if not date_in_evidence(
                out["period_text"], out["period"].removeprefix(".."), pub, context=out["evidence"]
            ) or not (out["period_from_context"] or words_in(out["period_text"], out["_window"])):
                out["flags"].append("date_not_in_evidence")
        check_names(out, out["parties"], "party_not_in_evidence")
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


def _typed(out: dict[str, Any]) -> dict[str, Any]:
    """A figure's metric, direction and (for a target) deadline, as its words say: the
    model's metric only where they say nothing. A target's period is its deadline ("bis
    2024" -> "..2024"), never the period of the figures around it."""
    evidence, amount = out["evidence"], out["value_text"]
    start = evidence.find(amount)
    if start < 0:
        start = 0
    metric = rules.trade_metric(evidence, start, start + len(amount))
    metric = metric or rules.metric_of_label(out["metric"])
    parties = tuple(out["parties"])
    flow = rules.direction(evidence, start, metric, parties)
    typed: dict[str, Any] = {"metric": metric, "direction": flow}
    if flow is not None:
        typed["parties"] = tuple(sorted(flow))
    if metric == "target":
        period, period_text = rules.deadline(evidence, start)
        typed.update(period=period, period_text=period_text, period_from_context=False)
    return typed


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
    heads = rules.TREATY_HEAD.findall(t.name.lower()), rules.TREATY_HEAD.findall(d["name"].lower())
    one_named = bool(rules.ACRONYM.search(t.name)) != bool(rules.ACRONYM.search(d["name"]))
    if one_named and bool(set(heads[0]) & set(heads[1])):
        return True
    # "das Abkommen", "der Gasvertrag" after a named agreement of the same kind refer back to
    # it: a bare common noun names no second agreement.
    head = rules.head_noun(d_base)
    return _bare(d_base) and head is not None and head == rules.head_noun(t.name)


_ARTICLES = frozenset("der die das den dem des ein eine einen einem eines".split())


def _bare(name: str) -> bool:
    """A name that is only an agreement noun, maybe with an article: "das Abkommen"."""
    words = [w for w in re.findall(r"\w+", name.lower()) if w not in _ARTICLES]
    return len(words) == 1


def _dates_meet(a: str, b: str) -> bool:
    a0, _, a1 = a.partition("..")
    b0, _, b1 = b.partition("..")
    a1, b1 = a1 or a0, b1 or b0
    # ISO strings of mixed precision compare by prefix: "2023-02" covers "2023-02-21".
    return (b0[: len(a1)] <= a1 and a0[: len(b1)] <= b1) or a0.startswith(b0) or b0.startswith(a0)


def _flagged(out: dict[str, Any]) -> dict[str, Any]:
    out["flags"] = tuple(dict.fromkeys(out["flags"]))
    out.pop("_window", None)
    return out
