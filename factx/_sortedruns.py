"""Rows written in sorted order without holding them: an external merge sort.

The cross-check of a large Parquet folder produces millions of findings, each a long JSON
string, and writes them in the report's order. DuckDB's ``ORDER BY`` over those strings ran
out of its 2 GB memory limit at 10M facts. Here each batch of rows is sorted in Python and
written as a run (one Parquet file); ``merge`` streams the runs through ``heapq.merge``,
holding one small batch of each.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

# A run is written in row groups of at most _READ rows and _GROUP_BYTES of payload, and the
# merge holds one group of each run: a finding's JSON can be 100 KB (one that lists
# thousands of facts), so rows alone do not bound the memory.
_READ = 1024
_GROUP_BYTES = 4 << 20
_WRITE_BYTES = 32 << 20  # merged payload buffered before it is written


class SortedRuns:
    """Sorted runs of rows under ``folder``. A row is a tuple in ``schema``'s column order,
    and rows sort as tuples: the leading columns are the key, the last is the payload."""

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
        rows.sort()
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

    def _read(self, path: Path) -> Iterator[tuple[Any, ...]]:
        # A row group at a time: iter_batches pre-buffers the file's column chunks, which
        # held every run in memory at 10M facts (5.6 GB).
        with pq.ParquetFile(path) as f:
            for k in range(f.num_row_groups):
                group = f.read_row_group(k)
                yield from zip(*(c.to_pylist() for c in group.columns), strict=True)

    def merge(self) -> Iterator[tuple[Any, ...]]:
        """Every row of every run, in sorted order."""
        return heapq.merge(*(self._read(p) for p in self.runs))

    def write_payload(self, dest: Path, column: str) -> int:
        """Write the last column of the merged rows to ``dest`` as ``column``; the row count."""
        schema = pa.schema([(column, self.schema.field(len(self.schema) - 1).type)])
        n = 0
        with pq.ParquetWriter(dest, schema) as writer:
            buf: list[Any] = []
            size = 0
            for row in self.merge():
                buf.append(row[-1])
                size += len(row[-1])
                if size >= _WRITE_BYTES:
                    writer.write_table(pa.table([buf], schema=schema))
                    n, buf, size = n + len(buf), [], 0
            writer.write_table(pa.table([buf], schema=schema))
            n += len(buf)
        return n
