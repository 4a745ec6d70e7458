"""The statements' part of the Parquet folder's cross-check (``_sqlcheck``), out of core.

The same clusters and conflicts as ``_crossquotes``: DuckDB holds each quote's folded text
and groups the verbatim repeats. numpy computes the MinHash signatures from the quotes' stem
ids, sorts each LSH band into buckets and lists each candidate pair once (``_Bands``, one
temporary file a band), and counts each pair's stem overlap (``_Stems``); rapidfuzz scores
the pairs that can still match. Python keeps a few integers per statement (speaker, date
window, stem ids, union-find) and the conflicting pairs.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from itertools import groupby
from pathlib import Path
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
    _stem,
    _stem_hashes,
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


def statements(check: Folder, drain: Callable[[], None]) -> None:
    """The statements' check: verbatim repeats in SQL groups, fuzzy pairs from MinHash LSH
    buckets, clusters one at a time."""
    check.numbered("st", "statements")
    spk, w0, w1, nst = array("q"), array("q"), array("q"), array("q")
    spk_ids: dict[str, int] = {}
    # Each quote's stems as ids, one after another (their counts are nst): the candidate
    # pairs' stem overlap is counted in numpy from these.
    word_ids = _StemIds()
    flat = array("i")
    schema = pa.schema([("i", pa.int64()), ("folded", pa.string())])
    check.con.execute("CREATE TABLE sf (i BIGINT, folded VARCHAR)")
    buf: dict[str, list[Any]] = {"i": [], "folded": []}

    for r in check.rows("SELECT i, speaker, quote, date FROM st ORDER BY i"):
        spk.append(spk_ids.setdefault(check.person_key[r["speaker"]], len(spk_ids)))
        w = parse_window(r["date"])
        w0.append(w[0].toordinal() if w else _NONE)
        w1.append(w[1].toordinal() if w else _NONE)
        f = fold(r["quote"])
        s = {word_ids[x] for x in f.split()}
        s.discard(-1)
        nst.append(len(s))
        flat.extend(s)
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
    # Fuzzy candidates: MinHash LSH over the representatives' stems (numpy).
    check.con.execute("CREATE TABLE reps AS SELECT min(i) AS i FROM sf GROUP BY folded")
    names = list(word_ids.stems)  # ids were handed out in insertion order
    del word_ids
    stems = _Stems(np.frombuffer(flat, np.int32), np.frombuffer(nst, np.int64))
    bands = _lsh_bands(check, stems, names)
    del names
    for i, j, score in _scored_pairs(check, stems, bands):
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


def _lsh_bands(check: Folder, stems: _Stems, names: list[str]) -> _Bands:
    """The MinHash band rows of each representative quote that has a signature, as
    ``_crossquotes`` computes them (``names[k]`` is the stem of id ``k``), one file a band."""
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
    paths = [check.tmp / f"band{b:02d}.u32" for b in range(_LSH_BANDS)]
    owners = []
    with ExitStack() as stack:
        files = [stack.enter_context(open(f, "wb")) for f in paths]
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
            owners.append(chunk[owner[starts][keep]])
            for b, f in enumerate(files):
                np.ascontiguousarray(sig[:, b * _LSH_ROWS : (b + 1) * _LSH_ROWS]).tofile(f)
    return _Bands(paths, np.concatenate(owners) if owners else np.zeros(0, np.int64))


class _StemIds(dict[str, int]):
    """A folded word's stem id, handed out when the word is first looked up (-1: the word
    has no stem), so a quote's set of stem ids is one lookup a word; ``stems`` maps each
    stem to its id."""

    def __init__(self) -> None:
        super().__init__()
        self.stems: dict[str, int] = {}

    def __missing__(self, word: str) -> int:
        stem = _stem(word)
        self[word] = k = self.stems.setdefault(stem, len(self.stems)) if stem else -1
        return k


class _Bands:
    """The LSH bands of the quotes ``quotes`` (statement numbers, ascending): band ``b``'s
    rows in file ``files[b]``, ``len(quotes)`` × _LSH_ROWS uint32. Two quotes are a
    candidate pair when their rows are equal in some band, and that bucket holds at most
    _BUCKET_CAP quotes (more is a stock phrase)."""

    def __init__(self, files: list[Path], quotes: np.ndarray) -> None:
        self.files, self.quotes = files, quotes

    def pairs(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every candidate pair ``(i, j)``, ``i < j``, once: a pair is handed out in the
        first band that holds it, a slice of the buckets at a time. Once: the band files
        are removed as they are read."""
        n = len(self.quotes)
        # Each quote's bucket in each band so far (-1: alone, or a stock phrase).
        bucket = np.full((n, _LSH_BANDS), -1, np.int32)
        for b, path in enumerate(self.files):
            keys = np.fromfile(path, np.uint32).reshape(n, _LSH_ROWS)
            path.unlink()
            order, new = _sorted_rows(keys)
            del keys
            start = np.flatnonzero(new)
            size = np.diff(np.r_[start, n])
            ok = (size >= 2) & (size <= _BUCKET_CAP)
            start, size = start[ok], size[ok]
            group = np.repeat(np.arange(len(start), dtype=np.int32), size)
            bucket[order[np.repeat(start, size) + _ranks(size)], b] = group
            # Buckets in slices of about _PAIRS pairs.
            ends = np.cumsum(size * (size - 1) // 2)
            cuts = np.searchsorted(ends, np.arange(_PAIRS, ends[-1] if len(ends) else 0, _PAIRS))
            for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(start)], strict=True):
                x, y = _within(start[lo:hi], size[lo:hi])
                x, y = order[x], order[y]
                if b:  # a pair that shares an earlier band was handed out there
                    before = bucket[x, :b]
                    seen = ((before == bucket[y, :b]) & (before >= 0)).any(axis=1)
                    x, y = x[~seen], y[~seen]
                i, j = self.quotes[x], self.quotes[y]
                yield np.minimum(i, j), np.maximum(i, j)


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _row_hash(keys: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of ``keys`` (the product wraps around)."""
    h = np.zeros(len(keys), np.uint64)
    for c in range(keys.shape[1]):
        h = (h ^ keys[:, c]) * _MIX
    return h


def _sorted_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An order of the rows of ``keys`` that puts equal rows together, and for each place
    in it whether its row differs from the one before. Sorted by a hash of each row (a
    lexicographic sort took five times as long); if two different rows share a hash,
    sorted exactly."""
    h = _row_hash(keys)
    order = np.argsort(h)
    rows, h = keys[order], h[order]
    new = np.ones(len(rows), bool)
    new[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    if (new[1:] & (h[1:] == h[:-1])).any():  # a collision: equal rows may lie apart
        order = np.lexsort(keys.T[::-1])
        rows = keys[order]
        new[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    return order, new


def _ranks(size: np.ndarray) -> np.ndarray:
    """0, 1, ..., s - 1 for each ``s`` in ``size``, one after another."""
    ranks: np.ndarray = np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size)
    return ranks


def _within(start: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of positions ``(x, y)``, ``x < y``, within each run ``start[g]`` ..
    ``start[g] + size[g] - 1``."""
    first = np.repeat(start, size - 1) + _ranks(size - 1)  # each position but a run's last
    after = np.repeat(start + size, size - 1) - first - 1  # positions after it in its run
    x = np.repeat(first, after)
    return x, x + 1 + _ranks(after)


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
        col = _ranks(lens)
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


def _scored_pairs(check: Folder, stems: _Stems, bands: _Bands,
                  ) -> Iterator[tuple[int, int, float]]:  # fmt: skip
    """The LSH candidate pairs that can match, with ``_similarity``'s score: the stem
    overlap in numpy (a pair below ``_OVERLAP_FLOOR`` cannot reach ``QUOTE_MIN_SCORE``),
    rapidfuzz's ratio in C for the rest, their texts joined in DuckDB."""
    check.con.execute("CREATE TABLE po (i BIGINT, j BIGINT, overlap DOUBLE)")
    for i, j in bands.pairs():
        overlap = stems.overlap(i, j)
        keep = overlap >= _OVERLAP_FLOOR
        check.insert("po", pa.table({"i": i[keep], "j": j[keep], "overlap": overlap[keep]}))
    cursor = check.con.cursor()
    try:
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
