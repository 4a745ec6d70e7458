"""Rows written in sorted order without holding them: an external merge sort.

The cross-check of a large Parquet folder produces millions of findings, each a long JSON
string, and writes them in the report's order. DuckDB's ``ORDER BY`` over those strings ran
out of its 2 GB memory limit at 10M facts. Here each batch of rows is sorted in Python and
written as a run (one Parquet file). The merge reads only the runs' key columns, sorts them
in Arrow (stable: ties keep the order they were added in, as ``list.sort`` does), and then
streams the payloads through that order, a slice of each run at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# A run is written in row groups of at most _READ rows and _GROUP_BYTES of payload, and the
# merge holds about one group of each run: a finding's JSON can be 100 KB (one that lists
# thousands of facts), so rows alone do not bound the memory.
_READ = 1024
_GROUP_BYTES = 4 << 20
_WRITE_BYTES = 32 << 20  # merged payload buffered before it is written
_KEY = itemgetter(slice(0, -1))


class SortedRuns:
    """Sorted runs of rows under ``folder``. A row is a tuple in ``schema``'s column order:
    the leading columns are the key, the last is the payload. Rows sort by their key, and
    rows with equal keys stay in the order they were added."""

    def __init__(
        self, folder: Path, name: str, schema: pa.Schema, runs: Iterable[Path] = ()
    ) -> None:
        self.folder, self.name, self.schema = folder, name, schema
        self.runs: list[Path] = list(runs)  # runs written elsewhere can be merged here too
        self.rows = 0

    def add(self, rows: list[tuple[Any, ...]]) -> None:
        """Write ``rows`` (in any order) as one more run."""
        if not rows:
            return
        rows.sort(key=_KEY)
        path = self.folder / f"{self.name}-{len(self.runs):05d}.parquet"
        with pq.ParquetWriter(path, self.schema) as writer:
            start = size = 0
            for k, row in enumerate(rows):
                size += len(row[-1])
                if k + 1 - start >= _READ or size >= _GROUP_BYTES or k + 1 == len(rows):
                    group = list(zip(*rows[start : k + 1], strict=True))
                    writer.write_table(pa.table(group, schema=self.schema))
                    start, size = k + 1, 0
        self.runs.append(path)
        self.rows += len(rows)

    def order(self) -> np.ndarray:
        """The run of every row, in sorted order (a run's rows come in the order it holds
        them, so the run says which row is next)."""
        keys = [pq.read_table(p, columns=self.schema.names[:-1]) for p in self.runs]
        run = np.repeat(np.arange(len(keys), dtype=np.int32), [t.num_rows for t in keys])
        if not len(run):
            return run
        # Arrow's sort is stable, and the runs come in the order they were added.
        table = pa.concat_tables(keys)
        by = pc.sort_indices(table, sort_keys=[(c, "ascending") for c in table.column_names])
        ordered: np.ndarray = run[by.to_numpy()]
        return ordered

    def write_payload(self, dest: Path, column: str) -> int:
        """Write the payloads of the sorted rows to ``dest`` as ``column``; the row count."""
        field = self.schema.field(len(self.schema) - 1)
        schema = pa.schema([(column, field.type)])
        run = self.order()
        readers = [_Payloads(p, field.name) for p in self.runs]
        with pq.ParquetWriter(dest, schema) as writer:
            pending: list[pa.Array] = []
            size = 0
            for lo in range(0, len(run), _READ):
                part = run[lo : lo + _READ]
                # Within a slice of the order, each run's rows are the next ones it holds.
                # Taken run by run, they sit at the stable argsort of their runs.
                runs, counts = np.unique(part, return_counts=True)
                taken = pa.concat_arrays(
                    [
                        readers[r].next(n)
                        for r, n in zip(runs.tolist(), counts.tolist(), strict=True)
                    ]
                )
                place = np.empty(len(part), np.int64)
                place[np.argsort(part, kind="stable")] = np.arange(len(part))
                pending.append(taken.take(pa.array(place)))
                size += pending[-1].nbytes
                if size >= _WRITE_BYTES:
                    writer.write_table(pa.table([pa.concat_arrays(pending)], schema=schema))
                    pending, size = [], 0
            writer.write_table(pa.table([_concat(pending, field.type)], schema=schema))
        for r in readers:
            r.file.close()
        return len(run)


def _concat(arrays: list[pa.Array], kind: pa.DataType) -> pa.Array:
    return pa.concat_arrays(arrays) if arrays else pa.array([], kind)


class _Payloads:
    """The payload column of one run, handed out in order, one row group read at a time
    (``iter_batches`` pre-buffers the file's column chunks, which held every run in memory
    at 10M facts)."""

    def __init__(self, path: Path, column: str) -> None:
        self.file = pq.ParquetFile(path)
        self.column = column
        self.group = 0
        self.left: pa.Array | None = None

    def next(self, n: int) -> pa.Array:
        pieces = []
        while n:
            if self.left is None or not len(self.left):
                table = self.file.read_row_group(self.group, columns=[self.column])
                self.left = table.column(0).combine_chunks()
                self.group += 1
            piece = self.left.slice(0, n)
            self.left = self.left.slice(len(piece))
            pieces.append(piece)
            n -= len(piece)
        return pa.concat_arrays(pieces) if len(pieces) != 1 else pieces[0]
