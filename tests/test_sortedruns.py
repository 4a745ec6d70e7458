"""The external merge sort behind the large check's report files."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from factx._sortedruns import SortedRuns

_SCHEMA = pa.schema([("rank", pa.int8()), ("kind", pa.string()), ("idx", pa.int32()),
                     ("json", pa.string())])  # fmt: skip


_SERIAL = iter(range(10**9))


def _rows(rng: random.Random, n: int) -> list[tuple[int, str, int, str]]:
    # Few distinct keys, so many rows tie; the payload numbers the rows as they are made.
    # Keys outside ASCII and the BMP: Arrow sorts UTF-8 bytes, Python code points.
    return [
        (rng.randrange(3), rng.choice(["same_event", "date_conflict", "Übersee", "zz", "𝔘"]),
         rng.randrange(5), f'{{"n": {next(_SERIAL)}}}')
        for _ in range(n)
    ]  # fmt: skip


def _payloads(runs: SortedRuns, dest: Path) -> list[str]:
    n = runs.write_payload(dest, "json")
    table = pq.read_table(dest)
    assert table.num_rows == n
    return table.column("json").to_pylist()


def test_runs_merge_into_one_sorted_sequence(tmp_path: Path) -> None:
    rng = random.Random(7)
    runs = SortedRuns(tmp_path, "findings", _SCHEMA)
    everything = []
    for size in (1000, 1, 0, 777, 2048, 3 * 1024 + 5):
        rows = _rows(rng, size)
        everything.extend(rows)
        runs.add(list(rows))
    assert len(runs.runs) == 5  # an empty batch writes no run
    assert runs.rows == len(everything) == 6903
    # Sorted by the key; rows with equal keys in the order they were added, as a stable
    # sort of everything gives them (the in-memory report's order).
    merged = _payloads(runs, tmp_path / "out.parquet")
    assert merged == [r[-1] for r in sorted(everything, key=lambda r: r[:-1])]
    assert merged != [r[-1] for r in sorted(everything)]  # ties are not ordered by payload


def test_payload_file_holds_the_last_column_in_order(tmp_path: Path) -> None:
    rng = random.Random(8)
    runs = SortedRuns(tmp_path, "findings", _SCHEMA)
    rows = _rows(rng, 1500)
    for k in range(0, 1500, 400):
        runs.add(rows[k : k + 400])
    dest = tmp_path / "out.parquet"
    assert runs.write_payload(dest, "json") == 1500
    table = pq.read_table(dest)
    assert table.column_names == ["json"]
    assert table["json"].to_pylist() == [r[-1] for r in sorted(rows, key=lambda r: r[:-1])]


def test_no_runs_write_an_empty_file(tmp_path: Path) -> None:
    runs = SortedRuns(tmp_path, "consolidated", _SCHEMA)
    dest = tmp_path / "empty.parquet"
    assert runs.write_payload(dest, "json") == 0
    assert pq.read_table(dest).num_rows == 0


def test_a_run_is_written_in_small_row_groups(tmp_path: Path) -> None:
    # The merge decodes a whole row group of every run at once: groups as large as the run
    # held all runs in memory (7.8 GB at 10M facts, with a merge of Python tuples).
    from factx import _sortedruns

    runs = SortedRuns(tmp_path, "findings", _SCHEMA)
    runs.add(_rows(random.Random(9), 3 * _sortedruns._READ + 5))
    meta = pq.ParquetFile(runs.runs[0]).metadata
    assert meta.num_row_groups == 4
    assert max(meta.row_group(k).num_rows for k in range(4)) == _sortedruns._READ


def test_row_groups_of_long_payloads_are_cut_by_size(tmp_path: Path) -> None:
    # Ten findings of 1 MiB each: a group closes at 4 MiB, not at 1,024 rows.
    runs = SortedRuns(tmp_path, "findings", _SCHEMA)
    runs.add([(0, "kind", k, str(k) * (1 << 20)) for k in range(10)])
    meta = pq.ParquetFile(runs.runs[0]).metadata
    assert [meta.row_group(k).num_rows for k in range(meta.num_row_groups)] == [4, 4, 2]
    assert [p[0] for p in _payloads(runs, tmp_path / "out.parquet")] == list("0123456789")
