"""The numpy stem overlap of the Parquet check's candidate pairs, against Python's sets."""

from __future__ import annotations

import random

import numpy as np
import pytest

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

from factx._sqlquotes import _Stems  # noqa: E402


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
