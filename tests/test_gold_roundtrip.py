"""The normalisers and the grounder reproduce ../shared/eval/seeds.gold.json from the seeds.

Dates. A gold date is reproduced from the text with ``span_date`` and the publication date in
the article's ``.meta.json``:

* meetings, treaties, trade figures: a date expression in the evidence (tense and year from its
  sentence), else one in the evidence's sentence, else the nearest day named before it, else
  the publication date;
* statements have no evidence span, only the quote: the same chain without step one (a date
  inside the quote is the speaker's, e.g. "heute und morgen Taiwan"); when it finds nothing the
  statement is dated by publication, as the gold does for undated quotes in dated reports;
* a ``null`` gold date with evidence: no expression in the evidence resolves to a date
  ("im April oder Anfang Mai" is vague). A ``null`` gold statement date has nothing to check:
  the gold leaves interviews and background quotes undated although their sentences look like
  the dated ones.

Gold dates that need knowledge the text does not hold are listed in KNOWN_GAPS and expected to
fail (strict xfail, so a fix shows up).
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from factx._amounts import find_amounts
from factx._dates import find_dates, span_date
from factx._gold import gold_to_results, load_gold
from factx._ground import ground

SHARED = Path(__file__).parents[1].parent / "shared"
GOLD = SHARED / "eval" / "seeds.gold.json"
SEEDS = SHARED / "seeds"

KNOWN_GAPS = {
    ("002", "meetings", 1): "'Wochen vor Kriegsbeginn' = 2022-02 needs the war's start date",
    ("002", "treaties", 0): "'Wochen vor Kriegsbeginn' = 2022-02 needs the war's start date",
    ("001", "treaties", 0): "Putin's speech (Tuesday) is undated; the nearest day named is "
    "Biden's Kyiv visit 'am Montag'",
}


def _gold() -> list[dict[str, Any]]:
    if not GOLD.exists():
        return []
    data: list[dict[str, Any]] = json.loads(GOLD.read_text(encoding="utf-8"))
    return data


def _items(kinds: tuple[str, ...], *, dates: bool = False) -> list[Any]:
    out = []
    for art in _gold():
        for kind in kinds:
            for i in range(len(art.get(kind, []))):
                key = (art["article"][:3], kind, i)
                marks = []
                if dates and key in KNOWN_GAPS:
                    marks.append(pytest.mark.xfail(reason=KNOWN_GAPS[key], strict=True))
                out.append(
                    pytest.param(art["article"], kind, i, id="-".join(map(str, key)), marks=marks)
                )
    if not out:
        out.append(pytest.param("", "", 0, marks=pytest.mark.skip(reason="no gold in ../shared")))
    return out


def _article(article: str) -> tuple[str, date]:
    text = (SEEDS / f"{article}.txt").read_text(encoding="utf-8")
    meta = json.loads((SEEDS / f"{article}.meta.json").read_text(encoding="utf-8"))
    return text, date.fromisoformat(meta["published"])


def _item(article: str, kind: str, i: int) -> dict[str, Any]:
    art = next(a for a in _gold() if a["article"] == article)
    item: dict[str, Any] = art[kind][i]
    return item


def _evidence(kind: str, item: dict[str, Any]) -> str:
    return str(item["quote"] if kind == "statements" else item["evidence"])


ALL = ("meetings", "statements", "treaties", "trade_figures")


@pytest.mark.parametrize(("article", "kind", "i"), _items(("trade_figures",)))
def test_gold_amounts(article: str, kind: str, i: int) -> None:
    item = _item(article, kind, i)
    amounts = [m.amount for m in find_amounts(item["evidence"])]
    assert amounts, item["evidence"]
    assert amounts[0] == (item["value"], item["currency"])


@pytest.mark.parametrize(("article", "kind", "i"), _items(ALL, dates=True))
def test_gold_dates(article: str, kind: str, i: int) -> None:
    text, pub = _article(article)
    item = _item(article, kind, i)
    want = item.get("period") if kind == "trade_figures" else item.get("date")
    ev = _evidence(kind, item)
    g = ground(ev, text)
    assert g.char_start is not None and g.char_end is not None
    if want is None:
        if kind == "statements":
            return  # see the module docstring
        resolved = [m.date.value for m in find_dates(ev, pub) if m.date.value is not None]
        assert resolved == []
        return
    dv = span_date(text, g.char_start, g.char_end, pub, inside=kind != "statements")
    got = dv.value if dv is not None and dv.value is not None else pub.isoformat()
    assert got == want


def _one_word_changed(s: str) -> str:
    """Replace the word nearest the middle (4+ letters) by an unrelated one."""
    words = list(re.finditer(r"[A-Za-zÄÖÜäöüß]{4,}", s))
    w = min(words, key=lambda m: abs(m.start() + m.end() - len(s)))
    return s[: w.start()] + "Kaffeetasse" + s[w.end() :]


@pytest.mark.parametrize(("article", "kind", "i"), _items(ALL))
def test_gold_grounding(article: str, kind: str, i: int) -> None:
    text, _ = _article(article)
    ev = _evidence(kind, _item(article, kind, i))
    exact = ground(ev, text)
    assert exact.status == "exact"
    assert exact.char_start is not None
    assert text[exact.char_start : exact.char_end] == ev

    straight = ev.replace("„", '"').replace("“", '"')
    if straight != ev:
        assert ground(straight, text)[:3] == (exact.char_start, exact.char_end, "normalized")
    doubled = ev.replace(" ", "  ")
    assert ground(doubled, text)[:3] == (exact.char_start, exact.char_end, "normalized")

    fz = ground(_one_word_changed(ev), text)
    assert fz.status == "fuzzy"
    assert fz.char_start is not None and fz.char_end is not None
    # the same place, give or take the punctuation around the changed words
    assert abs(fz.char_start - exact.char_start) <= 2
    assert abs(fz.char_end - exact.char_end) <= 2


@pytest.mark.parametrize(
    "sentence",
    [
        "Die Bundesregierung kündigte am Freitag neue Sanktionen gegen Nordkorea an.",
        "Der Handel zwischen Indien und Brasilien wuchs um zwölf Prozent.",
        "Die Beziehungen zwischen Russland und Indien sind felsenfest",
        "Lawrow traf sich am Freitag mit dem indischen Außenminister",
        "sagte Wang dem chinesischen Außenminister während seines Besuchs in Berlin",
    ],
)
def test_foreign_sentences_ground_none(sentence: str) -> None:
    if not SEEDS.is_dir():
        pytest.skip("../shared/seeds not present")
    for p in sorted(SEEDS.glob("*.txt")):
        assert ground(sentence, p.read_text(encoding="utf-8")).status == "none", p.name


def test_gold_converter_grounds_everything() -> None:
    if not GOLD.exists():
        pytest.skip("../shared/eval/seeds.gold.json not present")
    results = gold_to_results(load_gold(GOLD), SEEDS, include_optional=True)
    facts = [f for r in results for f in r.facts()]
    assert facts and all(f.alignment == "exact" for f in facts)
    for r in results:
        for f in r.facts():
            assert r.text[f.char_start : f.char_end] == f.evidence
