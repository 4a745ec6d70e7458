"""Cross-check of statements: one quote in several articles, or one quote and two speakers.

Candidates come from MinHash LSH over quote stems, so nothing is compared all-pairs. Pure.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Callable
from hashlib import blake2b
from typing import Any

from rapidfuzz import fuzz

from ._crossitems import (
    _articles,
    _Findings,
    _independent,
    _Item,
    _overlap,
    _UnionFind,
    parse_window,
)
from ._entities import EntityResolver, Resolved, fold
from ._schemas import (
    Statement,
)

QUOTE_MIN_SCORE = 0.6  # translations of one quote score 0.70-0.80 on the seeds, others < 0.45
QUOTE_VERBATIM = 0.9  # a speaker conflict on a near-verbatim quote is an error
_STEM = 5  # quote words compared by their first five letters: crude but language-agnostic
_CONFLICT_MIN_STEMS = 4  # content words a quote needs before two speakers can conflict on it
# MinHash LSH over quote stems: 16 bands of 3 rows. A pair whose signature stems have
# Jaccard J becomes a candidate with p = 1 - (1 - J³)^16: 0.97 at J = 0.6, 0.76 at J = 0.44,
# 0.04 at J = 0.14 (one stem shared out of seven).
_LSH_BANDS = 16
_LSH_ROWS = 3
_BUCKET_CAP = 200  # a band shared by more quotes than this is a stock phrase: not a block
_STOCK_SHARE = 0.002  # a stem in more than 0.2 % of quotes (and > _STOCK_MIN_DF) is stock
_STOCK_MIN_DF = 50
_OVERLAP_FLOOR = 0.3  # below this stem overlap a pair scores overlap / 2: never a match
_STOPWORDS_TEXT = """
    aber alle allen auch beim bereit dass denen diese dieser dieses durch eine einem einen
    einer eines gegen haben hatte heute immer jede jeder kann keine mehr nach nicht noch oder
    ohne sehr sein seine sich sind soll über unser unsere unter viel vom wird werden wenn wie
    wir zum zur zwischen
"""
_STOPWORDS = frozenset(fold(_STOPWORDS_TEXT).split())


# Statements -------------------------------------------------------------------------


def _stem(word: str) -> str:
    """A folded word's stem; "" for a word too short or too common to count."""
    return "" if len(word) < 4 or word in _STOPWORDS else word[:_STEM]


def _stems(folded: str) -> frozenset[str]:
    """Content-word stems of a quote already passed through ``fold``."""
    return frozenset(s for w in folded.split() if (s := _stem(w)))


def quote_similarity(a: str, b: str) -> float:
    """0..1: mean of stem overlap (of the shorter quote) and rapidfuzz token-set ratio."""
    fa, fb = fold(a), fold(b)
    sa, sb = _stems(fa), _stems(fb)
    if not sa or not sb:
        return 1.0 if fa == fb else 0.0
    return _similarity(fa, fb, sa, sb)


def _similarity(a: str, b: str, sa: frozenset[str], sb: frozenset[str]) -> float:
    """``a`` and ``b`` already folded; ``sa`` and ``sb`` their stems."""
    overlap = len(sa & sb) / min(len(sa), len(sb))
    if overlap < _OVERLAP_FLOOR:  # cheap reject before rapidfuzz
        return overlap / 2
    return float(_score(overlap, fuzz.token_set_ratio(a, b)))


def _score(overlap: Any, ratio: Any) -> Any:
    """A pair's similarity from its stem overlap (0..1) and rapidfuzz ratio (0..100);
    floats or numpy arrays of them."""
    return (overlap + ratio / 100) / 2


def _stem_hashes(stem: str) -> tuple[int, ...]:
    """MinHash rows for one stem: ``_LSH_BANDS`` bands of ``_LSH_ROWS`` rows.

    blake2b rather than hash(): results must not depend on PYTHONHASHSEED.
    """
    raw = stem.encode()
    digest = b"".join(blake2b(raw, person=b"factx-%d" % k).digest() for k in range(3))
    return struct.unpack("<48I", digest)


def _statements(items: list[_Item], names: EntityResolver, out: _Findings) -> None:
    n = len(items)
    speakers: list[Resolved] = []
    quotes: list[str] = []
    folded: list[str] = []
    for item in items:
        fact = item.fact
        assert isinstance(fact, Statement)
        speakers.append(item.resolved(fact.speaker, names.person(fact.speaker)))
        quotes.append(fact.quote)
        folded.append(fold(fact.quote))
        item.window = parse_window(fact.date)
    stems = [_stems(f) for f in folded]

    uf = _UnionFind(n)
    conflicts: dict[tuple[int, int], float] = {}

    def compare(i: int, j: int, score: float) -> None:
        if score < QUOTE_MIN_SCORE or not _overlap(items[i].window, items[j].window):
            return
        if speakers[i].key == speakers[j].key:
            uf.union(i, j)
        elif min(len(stems[i]), len(stems[j])) >= _CONFLICT_MIN_STEMS:
            # Short fragments ("die Situation in der Ukraine") are anyone's words.
            pair = (min(i, j), max(i, j))
            conflicts[pair] = max(score, conflicts.get(pair, 0.0))

    # Verbatim repeats first; only one representative of each goes to fuzzy matching.
    exact: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(folded):
        exact[f].append(i)
    reps: list[int] = []
    for group in exact.values():
        reps.append(group[0])
        by_speaker: dict[str, int] = {}
        for i in group:
            first = by_speaker.setdefault(speakers[i].key, i)
            compare(first, i, 1.0) if first != i else None
        firsts = list(by_speaker.values())
        for a, b in zip(firsts, firsts[1:], strict=False):
            compare(a, b, 1.0)

    # Fuzzy candidates: MinHash LSH over quote stems, so only likely pairs are compared.
    # Stems in one quote only cannot match, and stems in very many are stock words: the
    # signature leaves both out, which lifts a translation pair's Jaccard and keeps chance
    # collisions rare.
    df: dict[str, int] = defaultdict(int)
    for i in reps:
        for stem in stems[i]:
            df[stem] += 1
    cap = max(_STOCK_MIN_DF, int(_STOCK_SHARE * len(reps)))
    hashes = {stem: _stem_hashes(stem) for stem, n in df.items() if 2 <= n <= cap}
    buckets: dict[tuple[int, int, int, int], list[int]] = defaultdict(list)
    for i in reps:
        rows = [hashes[stem] for stem in stems[i] if stem in hashes]
        if len(rows) >= 2:
            sig = list(map(min, zip(*rows, strict=True)))
            for b in range(0, _LSH_BANDS * _LSH_ROWS, _LSH_ROWS):
                buckets[b, sig[b], sig[b + 1], sig[b + 2]].append(i)
    seen: set[tuple[int, int]] = set()
    for bucket in buckets.values():
        if len(bucket) > _BUCKET_CAP:  # a stock phrase shared by hundreds of quotes
            continue
        for x, i in enumerate(bucket):
            for j in bucket[x + 1 :]:
                pair = (i, j) if i < j else (j, i)
                if pair in seen:
                    continue
                seen.add(pair)
                compare(i, j, _similarity(folded[i], folded[j], stems[i], stems[j]))
    # A verbatim repeat follows its representative into the same-speaker cluster.
    for group in exact.values():
        for i in group[1:]:
            if speakers[i].key == speakers[group[0]].key:
                uf.union(group[0], i)

    clusters: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        clusters[uf.find(i)].append(i)
    for members in clusters.values():
        statement_cluster(
            out, [items[i] for i in members], quotes[members[0]], speakers[members[0]].label
        )
    for key, score in conflict_roots(conflicts, uf.find):
        one, two = clusters[key[0]], clusters[key[1]]
        speaker_conflict(
            out, [items[k] for k in one], [items[k] for k in two],
            speakers[one[0]].label, speakers[two[0]].label, score,
        )  # fmt: skip


def conflict_roots(
    conflicts: dict[tuple[int, int], float], find: Callable[[int], int]
) -> list[tuple[tuple[int, int], float]]:
    """One speaker conflict per pair of clusters: the first conflicting pair's score."""
    reported: dict[tuple[int, int], float] = {}
    for (i, j), score in sorted(conflicts.items()):
        roots = (find(i), find(j))
        reported.setdefault((min(roots), max(roots)), score)
    return list(reported.items())


def statement_cluster(out: _Findings, cl: list[_Item], text: str, label: str) -> None:
    """One quote told by one speaker (in one or more articles): consolidated, corroborated."""
    short = text if len(text) <= 60 else text[:57] + "…"
    summary = f"{label}: „{short}“"
    out.consolidate("statement", cl, summary)
    if len({i.ref.article_id for i in cl}) > 1:
        out.add(
            "same_event",
            "info",
            cl,
            f"Statement {summary} appears in {_independent(cl)} independent articles "
            f"({_articles(cl)}).",
            f"statement: same canonical speaker, quote similarity ≥ {QUOTE_MIN_SCORE}",
        )


def speaker_conflict(
    out: _Findings, one: list[_Item], two: list[_Item], label_one: str, label_two: str,
    score: float,
) -> None:  # fmt: skip
    out.add(
        "speaker_conflict",
        "error" if score >= QUOTE_VERBATIM else "warning",
        [*one, *two],
        f"One quote, two speakers: {label_one} ({_articles(one)}) vs {label_two} "
        f"({_articles(two)}), similarity {score:.2f}.",
        f"statement: quote similarity ≥ {QUOTE_MIN_SCORE}, different canonical speakers",
    )
