"""The cross-check of a large Parquet folder written as files, its checks in worker processes.

``check_parquet_to`` runs ``_sqlcheck``'s checks in a pool of processes: each free worker
takes the next check, longest first, on the folder it opened for its first (each process
reads the folder and resolves the names itself). Each check writes its findings and
consolidated facts as sorted runs (``_sortedruns``); two fresh processes then merge them
into the two files in the report's order, so no process holds the report.
"""

from __future__ import annotations

import multiprocessing
import re
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa

from ._crosscheck import _SEVERITY_ORDER
from ._crossitems import _Findings
from ._schemas import EntityMerge
from ._sortedruns import SortedRuns
from ._sqlcheck import CHECKS, _Check, entity_merges, open_check, run_check

_RUN_ROWS = 50_000  # report rows sorted in memory at a time (tests set it lower)


# The report's order as a tuple (``check_parquet``'s sort keys), the JSON last.
_FINDINGS = pa.schema([("severity_rank", pa.int8()), ("kind", pa.string()),
                       ("article_id", pa.string()), ("type", pa.string()), ("idx", pa.int32()),
                       ("message", pa.string()), ("json", pa.string())])  # fmt: skip
_CONSOLIDATED = pa.schema([("minus_corroboration", pa.int32()), ("type", pa.string()),
                           ("article_id", pa.string()), ("idx", pa.int32()),
                           ("json", pa.string())])  # fmt: skip
_SCHEMAS = {"findings": _FINDINGS, "consolidated": _CONSOLIDATED}


class _ReportRuns:
    """Findings and consolidated facts as sorted runs, their sort keys first."""

    def __init__(self, folder: Path, prefix: str, run_rows: int) -> None:
        self.run_rows = run_rows
        self.runs = {name: SortedRuns(folder, f"{prefix}{name}", schema)
                     for name, schema in _SCHEMAS.items()}  # fmt: skip
        self.rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _SCHEMAS}

    def write(self, f: _Findings) -> None:
        self.rows["findings"].extend(
            (_SEVERITY_ORDER[x.severity], x.kind, x.facts[0].article_id, x.facts[0].type,
             x.facts[0].index, x.message, x.model_dump_json())
            for x in f.findings
        )  # fmt: skip
        self.rows["consolidated"].extend(
            (-c.corroboration, c.type, c.facts[0].article_id, c.facts[0].index,
             c.model_dump_json())
            for c in f.consolidated
        )  # fmt: skip
        for name, buf in self.rows.items():
            if len(buf) >= self.run_rows:
                self.runs[name].add(buf)
                self.rows[name] = []

    def finish(self) -> dict[str, list[Path]]:
        for name, buf in self.rows.items():
            self.runs[name].add(buf)
            self.rows[name] = []
        return {name: r.runs for name, r in self.runs.items()}


# The checks, longest first (a 10M-fact check, 2026-12-02): a free worker takes the next,
# so the longest starts at once and the short ones fill in around it.
_LONGEST_FIRST = ("statements", "figures", "meetings", "treaties", "weekdays")
# A worker process keeps the folder it opened for its next check.
_OPEN: dict[tuple[Path, float, str, Path], _Check] = {}


def _run_checks(check: _Check, names: Sequence[str], folder: Path, run_rows: int,
                ) -> dict[str, list[Path]]:  # fmt: skip
    """The report rows of checks ``names`` written as sorted runs under ``folder`` (named
    after the checks, so no two processes' runs share a name)."""
    report = _ReportRuns(folder, "-".join(names) + "-", run_rows)
    for name in names:
        run_check(check, name, report.write)
    return report.finish()


def _check_task(out: Path, tolerance: float, memory_limit: str, name: str, folder: Path,
                run_rows: int) -> tuple[dict[str, list[Path]], list[EntityMerge]]:  # fmt: skip
    """One check in a worker process, on the folder it opened for its first (its DuckDB
    files lie under ``folder``, which the caller removes)."""
    key = (out, tolerance, memory_limit, folder)
    if key not in _OPEN:
        _OPEN[key] = open_check(out, tolerance, memory_limit, folder)
    check = _OPEN[key]
    return _run_checks(check, [name], folder, run_rows), entity_merges(check)


_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}  # DuckDB's size units


def _merge(name: str, runs: list[Path], tmp: Path, dest: Path) -> int:
    """The sorted runs of ``name`` merged into ``dest/{name}.parquet``; its row count."""
    merged = SortedRuns(tmp, name, _SCHEMAS[name], runs)
    return merged.write_payload(dest / f"{name}.parquet", "json")


def _memory_share(limit: str, n: int) -> str:
    """DuckDB's memory limit split among ``n`` processes: ``"2GB"`` over 2 is ``"1000MB"``."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", limit.lower())
    if not m or m[2] not in _UNITS:
        raise ValueError(f"not a memory size: {limit!r} (say 2GB or 1500MiB)")
    return f"{int(float(m[1]) * _UNITS[m[2]] / n / 10**6)}MB"


def check_parquet_to(
    out: Path | str, dest: Path | str, *, tolerance: float = 0.01, memory_limit: str = "2GB",
    workers: int = 1,
) -> dict[str, int]:  # fmt: skip
    """The cross-check of ``out`` written as ``dest/findings.parquet`` and
    ``dest/consolidated.parquet`` (one JSON ``Finding`` / ``ConsolidatedFact`` a row, in the
    report's order), without holding the report: for outputs of millions of facts.

    ``workers`` > 1 runs the checks in that many processes (each reads the folder and
    resolves the names itself, with its share of ``memory_limit``); the runs of their
    report rows are merged here."""
    if tolerance < 0:
        raise ValueError("tolerance must not be negative")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    out, dest = Path(out), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="factx-findings-", dir=dest))
    try:
        if workers == 1:
            check = open_check(out, tolerance, memory_limit, tmp)
            try:
                done = [(_run_checks(check, CHECKS, tmp, _RUN_ROWS), entity_merges(check))]
            finally:
                check.close()
            counts = {name: _merge(name, done[0][0][name], tmp, dest) for name in _SCHEMAS}
        else:
            # No more processes than checks: the memory limit is split among those that run.
            processes = min(workers, len(CHECKS))
            share = _memory_share(memory_limit, processes)
            ctx = multiprocessing.get_context("spawn")  # DuckDB's threads do not survive fork
            with ProcessPoolExecutor(processes, mp_context=ctx) as pool:
                futures = {name: pool.submit(_check_task, out, tolerance, share, name, tmp,
                                             _RUN_ROWS)
                           for name in _LONGEST_FIRST}  # fmt: skip
                # In the order one process runs them: rows with equal keys keep that order.
                done = [futures[name].result() for name in CHECKS]
            # A fresh pair of processes merges the two files at once: the checks' processes
            # are gone, with their memory.
            with ProcessPoolExecutor(len(_SCHEMAS), mp_context=ctx) as pool:
                merging = {name: pool.submit(_merge, name,
                                             [p for runs, _ in done for p in runs[name]],
                                             tmp, dest)
                           for name in _SCHEMAS}  # fmt: skip
                counts = {name: f.result() for name, f in merging.items()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # Each process resolved every name the checks meet; the union is the sequential list.
    merges = {(e.kind, e.text): e for _, entities in done for e in entities}
    entities = sorted(merges.values(), key=lambda e: (e.kind, e.canonical, e.text))
    (dest / "entities.jsonl").write_text(
        "".join(e.model_dump_json() + "\n" for e in entities), encoding="utf-8"
    )
    return counts
