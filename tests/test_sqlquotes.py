"""The Parquet check's candidate pairs in numpy: LSH bands and stem overlap, against Python."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

from factx import _sqlquotes  # noqa: E402
from factx._crossquotes import _BUCKET_CAP, _LSH_BANDS, _LSH_ROWS  # noqa: E402
from factx._sqlquotes import _Bands, _sorted_rows, _Stems, _within  # noqa: E402


def test_overlap_equals_the_set_definition_for_short_and_long_quotes() -> None:
    rng = random.Random(5)
    # Quotes of 1 to 40 stems out of 60: many shared stems, and many quotes longer than
    # the padded width, whose pairs are counted in Python.
    quotes = [rng.sample(range(60), rng.randint(1, 40)) for _ in range(400)]
    flat = np.array([s for q in quotes for s in q], np.int32)
    stems = _Stems(flat, np.array([len(q) for q in quotes], np.int64))
    a = np.array([rng.randrange(400) for _ in range(5000)], np.int64)
    b = np.array([rng.randrange(400) for _ in range(5000)], np.int64)
    got = stems.overlap(a, b)
    want = [len(set(quotes[i]) & set(quotes[j])) / min(len(quotes[i]), len(quotes[j]))
            for i, j in zip(a.tolist(), b.tolist(), strict=True)]  # fmt: skip
    assert got.tolist() == want  # the same floats, not just close ones
    assert any(len(quotes[i]) > _Stems.PAD for i in a.tolist())


def test_a_quote_compared_with_itself_overlaps_fully_and_padding_never_matches() -> None:
    stems = _Stems(np.array([3, 1, 2, 7], np.int32), np.array([3, 1], np.int64))
    got = stems.overlap(np.array([0, 0, 1]), np.array([0, 1, 1]))
    assert got.tolist() == [1.0, 0.0, 1.0]
    assert stems.overlap(np.array([], np.int64), np.array([], np.int64)).tolist() == []


def _bands(tmp_path: Path, rows: np.ndarray, quotes: np.ndarray) -> _Bands:
    """Band files of ``rows`` (quotes × bands × rows per band)."""
    files = [tmp_path / f"b{b}" for b in range(_LSH_BANDS)]
    for b, path in enumerate(files):
        np.ascontiguousarray(rows[:, b, :], np.uint32).tofile(path)
    return _Bands(files, quotes)


def _brute_pairs(rows: np.ndarray, quotes: np.ndarray) -> set[tuple[int, int]]:
    pairs = set()
    for b in range(_LSH_BANDS):
        buckets: dict[tuple[int, ...], list[int]] = {}
        for k in range(len(quotes)):
            buckets.setdefault(tuple(rows[k, b].tolist()), []).append(int(quotes[k]))
        for members in buckets.values():
            if len(members) <= _BUCKET_CAP:
                pairs.update((min(x, y), max(x, y)) for x in members for y in members if x != y)
    return pairs


def test_band_pairs_are_the_shared_buckets_each_pair_once(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 700
    # Few distinct values, so quotes share buckets in several bands; one band's rows
    # differ in the last value only, so all three values are compared.
    rows = rng.integers(0, 3, size=(n, _LSH_BANDS, _LSH_ROWS), dtype=np.uint32)
    rows[:, 5, :2] = 7
    # A stock phrase: 300 quotes in one bucket of band 0 (over the cap) and nowhere else.
    rows[:300, 0, :] = 9
    quotes = np.sort(rng.choice(10 * n, size=n, replace=False)).astype(np.int64)
    got = [pair for i, j in _bands(tmp_path, rows, quotes).pairs()
           for pair in zip(i.tolist(), j.tolist(), strict=True)]  # fmt: skip
    assert len(got) == len(set(got))  # each pair once, though many share several bands
    assert set(got) == _brute_pairs(rows, quotes)
    assert all(i < j for i, j in got)
    assert not any(tmp_path.iterdir())  # the band files are read once and removed


def test_bucket_over_the_cap_gives_no_pairs(tmp_path: Path) -> None:
    n = _BUCKET_CAP + 1
    rows = np.arange(n * _LSH_BANDS * _LSH_ROWS, dtype=np.uint32).reshape(n, _LSH_BANDS, -1)
    rows[:, 2, :] = 1  # every quote in one bucket of band 2: a stock phrase
    rows[:2, 3, :] = 5  # two quotes also share a bucket of band 3
    got = [(i.tolist(), j.tolist()) for i, j in _bands(tmp_path, rows, np.arange(n)).pairs()]
    assert [p for i, j in got for p in zip(i, j, strict=True)] == [(0, 1)]


def test_no_quotes_no_pairs(tmp_path: Path) -> None:
    rows = np.zeros((0, _LSH_BANDS, _LSH_ROWS), np.uint32)
    bands = _bands(tmp_path, rows, np.zeros(0, np.int64))
    assert sum(len(i) for i, _ in bands.pairs()) == 0


@pytest.mark.parametrize("sizes", [[2], [3, 1, 4], [1, 1], [5, 2, 200]])
def test_within_lists_every_pair_of_each_run(sizes: list[int]) -> None:
    size = np.array(sizes, np.int64)
    start = np.r_[0, np.cumsum(size)[:-1]] + 10
    x, y = _within(start, size)
    want = [(s + a, s + b) for s, n in zip(start.tolist(), sizes, strict=True)
            for a in range(n) for b in range(a + 1, n)]  # fmt: skip
    assert list(zip(x.tolist(), y.tolist(), strict=True)) == want


def test_rows_sharing_a_hash_are_still_told_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A hash with many collisions: the buckets are sorted exactly instead.
    rng = np.random.default_rng(4)
    rows = rng.integers(0, 3, size=(300, _LSH_BANDS, _LSH_ROWS), dtype=np.uint32)
    quotes = np.arange(300, dtype=np.int64)
    monkeypatch.setattr(_sqlquotes, "_row_hash", lambda keys: (keys[:, 0] % 2).astype(np.uint64))
    got = {p for i, j in _bands(tmp_path, rows, quotes).pairs()
           for p in zip(i.tolist(), j.tolist(), strict=True)}  # fmt: skip
    assert got == _brute_pairs(rows, quotes)


def test_sorted_rows_group_equal_rows() -> None:
    keys = np.array([[1, 2, 3], [0, 0, 0], [1, 2, 3], [1, 2, 4], [0, 0, 0]], np.uint32)
    order, new = _sorted_rows(keys)
    groups = np.cumsum(new)
    by_row = {tuple(keys[o].tolist()): set() for o in order.tolist()}
    for o, g in zip(order.tolist(), groups.tolist(), strict=True):
        by_row[tuple(keys[o].tolist())].add(g)
    assert all(len(g) == 1 for g in by_row.values())  # each distinct row is one run
    assert int(new.sum()) == 3
