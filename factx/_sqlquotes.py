"""The statements' part of the Parquet folder's cross-check (``_sqlcheck``), out of core.

The same clusters and conflicts as ``_crossquotes``: DuckDB holds each quote's folded text,
groups the verbatim repeats, and joins the MinHash LSH band keys into candidate pairs.
numpy computes the signatures and each pair's stem overlap from the quotes' stem ids
(``_Stems``); rapidfuzz scores the pairs that can still match. Python keeps a few integers
per statement (speaker, date window, stem ids, union-find) and the conflicting pairs.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from itertools import groupby
from typing import Any

import numpy as np
import pyarrow as pa
from rapidfuzz import fuzz, process

from ._crossitems import _Item, _UnionFind, parse_window
from ._crossquotes import (
    _BUCKET_CAP,
    _CONFLICT_MIN_STEMS,
    _LSH_BANDS,
    _LSH_ROWS,
    _OVERLAP_FLOOR,
    _STOCK_MIN_DF,
    _STOCK_SHARE,
    QUOTE_MIN_SCORE,
    _score,
    _stem_hashes,
    _stems,
    conflict_roots,
    speaker_conflict,
    statement_cluster,
)
from ._entities import fold
from ._schemas import Statement
from ._sqlfolder import Folder

_NONE = -(2**31)  # an undated statement's window
_PAIRS = 1 << 18  # candidate pairs scored at a time
_REPS = 1 << 19  # quotes whose stems are gathered at a time
_BAND_ROWS = tuple(f"s{r}" for r in range(_LSH_ROWS))  # table bk: i, b (the band), these


def statements(check: Folder, drain: Callable[[], None]) -> None:
    """The statements' check: verbatim repeats in SQL groups, fuzzy pairs from MinHash LSH
    buckets, clusters one at a time."""
    check.numbered("st", "statements")
    spk, w0, w1, nst = array("q"), array("q"), array("q"), array("q")
    spk_ids: dict[str, int] = {}
    # Each quote's stems as ids, one after another (their counts are nst): the candidate
    # pairs' stem overlap is counted in numpy from these.
    stem_ids: dict[str, int] = {}
    flat = array("i")
    schema = pa.schema([("i", pa.int64()), ("folded", pa.string())])
    check.con.execute("CREATE TABLE sf (i BIGINT, folded VARCHAR)")
    buf: dict[str, list[Any]] = {"i": [], "folded": []}

    for r in check.rows("SELECT i, speaker, quote, date FROM st ORDER BY i"):
        spk.append(spk_ids.setdefault(check.names.person(r["speaker"]).key, len(spk_ids)))
        w = parse_window(r["date"])
        w0.append(w[0].toordinal() if w else _NONE)
        w1.append(w[1].toordinal() if w else _NONE)
        f = fold(r["quote"])
        s = _stems(f)
        nst.append(len(s))
        flat.extend([stem_ids.setdefault(x, len(stem_ids)) for x in s])
        buf["i"].append(r["i"])
        buf["folded"].append(f)
        if len(buf["i"]) >= check.batch:
            check.append("sf", buf, schema)
    check.append("sf", buf, schema)
    n = len(spk)
    uf = _UnionFind(n)
    conflicts: dict[tuple[int, int], float] = {}

    def compare(i: int, j: int, score: float) -> None:
        if score < QUOTE_MIN_SCORE:
            return
        if w0[i] != _NONE and w0[j] != _NONE and not (w0[i] <= w1[j] and w0[j] <= w1[i]):
            return
        if spk[i] == spk[j]:
            uf.union(i, j)
        elif min(nst[i], nst[j]) >= _CONFLICT_MIN_STEMS:
            pair = (min(i, j), max(i, j))
            conflicts[pair] = max(score, conflicts.get(pair, 0.0))

    # Verbatim repeats: within each group of equal folded text (streamed in order, not
    # gathered by a list() aggregate, which cannot spill).
    repeats = check.rows("""
        SELECT i, folded FROM sf SEMI JOIN (
            SELECT folded FROM sf GROUP BY folded HAVING count(*) > 1) USING (folded)
        ORDER BY folded, i
    """)
    for _, same in groupby(repeats, key=lambda r: r["folded"]):
        group = [r["i"] for r in same]
        by_speaker: dict[int, int] = {}
        for i in group:
            first = by_speaker.setdefault(spk[i], i)
            if first != i:
                compare(first, i, 1.0)
        firsts = list(by_speaker.values())
        for a, b in zip(firsts, firsts[1:], strict=False):
            compare(a, b, 1.0)
        for i in group[1:]:
            if spk[i] == spk[group[0]]:
                uf.union(group[0], i)
    # Fuzzy candidates: MinHash LSH over the representatives' stems (numpy), their band
    # keys grouped in SQL.
    check.con.execute("CREATE TABLE reps AS SELECT min(i) AS i FROM sf GROUP BY folded")
    names = list(stem_ids)  # ids were handed out in insertion order
    del stem_ids
    stems = _Stems(np.frombuffer(flat, np.int32), np.frombuffer(nst, np.int64))
    _lsh_buckets(check, stems, names)
    del names
    for i, j, score in _scored_pairs(check, stems):
        compare(i, j, score)
    roots = np.fromiter((uf.find(i) for i in range(n)), np.int64, n)

    def items_of(rows: list[dict[str, Any]]) -> list[_Item]:
        items = []
        for r in rows:
            item = check.item("statements", r)
            item.resolved(r["speaker"], check.names.person(r["speaker"]))
            item.window = parse_window(r["date"])
            items.append(item)
        return items

    def label(items: list[_Item]) -> str:
        fact = items[0].fact
        assert isinstance(fact, Statement)
        return check.names.person(fact.speaker).label

    for rows in check.groups("st", roots):
        items = items_of(rows)
        fact = items[0].fact
        assert isinstance(fact, Statement)
        statement_cluster(check.findings, items, fact.quote, label(items))
        drain()
    pairs = conflict_roots(conflicts, lambda i: int(roots[i]))
    wanted = sorted({r for pair, _ in pairs for r in pair})
    if wanted:
        check.put("wanted", pa.table({"root": pa.array(wanted, pa.int64())}))
        clusters = {
            root: items_of(list(group))
            for root, group in groupby(check.rows(
                "SELECT st.*, r.root FROM st JOIN st_roots r USING (i) "
                "SEMI JOIN wanted USING (root) ORDER BY r.root, st.i"
            ), key=lambda r: r["root"])
        }  # fmt: skip
        for (a, b), score in pairs:
            one, two = clusters[a], clusters[b]
            speaker_conflict(check.findings, one, two, label(one), label(two), score)
        drain()


def _lsh_buckets(check: Folder, stems: _Stems, names: list[str]) -> None:
    """Table ``bk`` (i, b, band rows): each representative quote's MinHash band keys,
    as ``_crossquotes`` computes them (``names[k]`` is the stem of id ``k``)."""
    reps = check.con.sql("SELECT i FROM reps ORDER BY i").to_arrow_table().column("i").to_numpy()
    cap = max(_STOCK_MIN_DF, int(_STOCK_SHARE * len(reps)))
    chunks = [reps[k : k + _REPS] for k in range(0, len(reps), _REPS)]
    # How many representatives hold each stem (a quote holds a stem once).
    df = np.zeros(len(names), np.int64)
    for chunk in chunks:
        df += np.bincount(stems.ids_of(chunk)[2], minlength=len(names))
    kept = np.flatnonzero((df >= 2) & (df <= cap))
    row = np.full(len(names), -1, np.int64)
    row[kept] = np.arange(len(kept))
    width = _LSH_BANDS * _LSH_ROWS
    hashes = np.array([_stem_hashes(names[k]) for k in kept.tolist()], np.uint32)
    hashes = hashes.reshape(-1, width)
    check.con.execute(
        "CREATE TABLE bk (i BIGINT, b SMALLINT, "
        + ", ".join(f"{c} UINTEGER" for c in _BAND_ROWS) + ")"
    )  # fmt: skip
    schema = pa.schema([("i", pa.int64()), ("b", pa.int16()),
                        *((c, pa.uint32()) for c in _BAND_ROWS)])  # fmt: skip
    bands = np.arange(0, width, _LSH_ROWS, dtype=np.int16)
    for chunk in chunks:
        owner, _, ids = stems.ids_of(chunk)
        rows = row[ids]
        owner, rows = owner[rows >= 0], rows[rows >= 0]  # only signature stems
        if not len(owner):
            continue
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        counts = np.diff(np.r_[starts, len(owner)])
        keep = counts >= 2  # one signature stem is no signature
        sig = np.minimum.reduceat(hashes[rows], starts, axis=0)[keep]
        band = sig.reshape(len(sig), _LSH_BANDS, _LSH_ROWS)
        table = {"i": np.repeat(chunk[owner[starts][keep]], _LSH_BANDS),
                 "b": np.tile(bands, len(sig))}  # fmt: skip
        table.update((c, band[:, :, r].ravel()) for r, c in enumerate(_BAND_ROWS))
        check.insert("bk", pa.table(table, schema=schema))


class _Stems:
    """Every quote's stem ids (``flat``, ``counts[i]`` of them for quote ``i``), and the
    stem overlap of pairs of quotes counted in numpy: ``len(a & b) / min(len(a), len(b))``,
    as ``_crossquotes._similarity`` has it."""

    PAD = 16  # stems compared as a padded row; a longer quote's pairs are counted in Python

    def __init__(self, flat: np.ndarray, counts: np.ndarray) -> None:
        self.flat, self.counts = flat, counts
        self.start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self.width = int(min(self.PAD, counts.max(initial=1)))
        # Every quote's first ``width`` stems as a row, -1 beyond its count.
        self.padded = np.full((len(counts), self.width), -1, np.int32)
        for k in range(0, len(counts), _REPS):
            rows = np.arange(k, min(k + _REPS, len(counts)))
            owner, col, ids = self.ids_of(rows, self.width)
            self.padded[rows[owner], col] = ids

    def ids_of(
        self, rows: np.ndarray, limit: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stem ids of quotes ``rows`` (at most ``limit`` each), each with the position
        in ``rows`` it belongs to and its position in that quote."""
        lens = self.counts[rows] if limit is None else np.minimum(self.counts[rows], limit)
        owner = np.repeat(np.arange(len(rows)), lens)
        col = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
        return owner, col, self.flat[np.repeat(self.start[rows], lens) + col]

    def _set(self, i: int) -> set[int]:
        return set(self.flat[self.start[i] : self.start[i] + self.counts[i]].tolist())

    def overlap(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        la, lb = self.counts[a], self.counts[b]
        pa_, pb = self.padded[a], self.padded[b]
        pb = np.where(pb < 0, -2, pb)  # padding never matches padding
        # Stems are unique per quote, so each shared stem is one equal cell.
        shared = (pa_[:, :, None] == pb[:, None, :]).sum(axis=(1, 2))
        for k in np.flatnonzero((la > self.width) | (lb > self.width)).tolist():
            shared[k] = len(self._set(int(a[k])) & self._set(int(b[k])))
        return np.asarray(shared / np.minimum(la, lb), dtype=np.float64)


def _scored_pairs(check: Folder, stems: _Stems) -> Iterator[tuple[int, int, float]]:
    """The LSH candidate pairs that can match, with ``_similarity``'s score: the stem
    overlap in numpy (a pair below ``_OVERLAP_FLOOR`` cannot reach ``QUOTE_MIN_SCORE``),
    rapidfuzz's ratio in C for the rest, their texts joined in DuckDB."""
    keys = ", ".join(["b", *_BAND_ROWS])
    check.con.execute("CREATE TABLE po (i BIGINT, j BIGINT, overlap DOUBLE)")
    cursor = check.con.cursor()
    try:
        for batch in cursor.sql(f"""
            WITH ok AS (SELECT {keys} FROM bk GROUP BY ALL HAVING count(*) <= {_BUCKET_CAP}),
            m AS (SELECT bk.* FROM bk SEMI JOIN ok USING ({keys}))
            SELECT DISTINCT x.i AS i, y.i AS j FROM m x JOIN m y USING ({keys})
            WHERE x.i < y.i
        """).to_arrow_reader(_PAIRS):  # fmt: skip
            i, j = batch.column("i").to_numpy(), batch.column("j").to_numpy()
            overlap = stems.overlap(i, j)
            keep = overlap >= _OVERLAP_FLOOR
            check.insert("po", pa.table({"i": i[keep], "j": j[keep], "overlap": overlap[keep]}))
        for batch in cursor.sql("""
            SELECT o.i, o.j, o.overlap, a.folded AS fa, c.folded AS fb
            FROM po o JOIN sf a ON a.i = o.i JOIN sf c ON c.i = o.j
        """).to_arrow_reader(check.batch):
            ratio = process.cpdist(
                batch.column("fa").to_pylist(), batch.column("fb").to_pylist(),
                scorer=fuzz.token_set_ratio, dtype=np.float64, workers=-1,
            )  # fmt: skip
            score = _score(batch.column("overlap").to_numpy(), ratio)
            hit = np.flatnonzero(score >= QUOTE_MIN_SCORE)
            i, j = batch.column("i").to_numpy()[hit], batch.column("j").to_numpy()[hit]
            yield from zip(i.tolist(), j.tolist(), score[hit].tolist(), strict=True)
    finally:
        cursor.close()
