"""The cross-check of a Parquet output folder, out of core: DuckDB blocks, Python clusters.

The same checks as ``_crosscheck`` and the same report, for outputs too large to hold as
``ArticleFacts``. On the folder opened by ``_sqlfolder``, DuckDB sorts the facts into
blocks: meetings by their participants' keys, figures by their parties' keys (each fact's
keys written by Python into a table, a fact at a time), the treaties' components, and the
statements' repeat groups and MinHash LSH pairs (``_sqlquotes``). Python then runs
``_crosscheck``'s clustering on one block at a time, so only one block of facts is in
memory; the statements and treaties keep a few integers per fact (their union-find)
besides, and the name-to-key maps hold each distinct name once. ``_sqlreport`` runs these
checks in worker processes and writes the report as files.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ._crosscheck import (
    _SEVERITY_ORDER,
    _WEEKDAY_RE,
    WEEKDAY_LETTERS,
    _check_weekdays,
    _cyclic_gc_paused,
    _meetings,
    _treaty_name,
    treaty_components,
    treaty_group,
)
from ._crossfigures import _figures, metric_family
from ._crossitems import _Findings, _Item, _ref_order, parse_window
from ._schemas import (
    ConsolidatedFact,
    CrossCheckReport,
    EntityMerge,
    Finding,
)
from ._sqlfolder import Folder, _sql_str
from ._sqlquotes import statements

_KEY_SEP = "\x1f"  # between the keys of a block (below every character a key holds)


class _Check(Folder):
    """The checks of ``_crosscheck``, each over the blocks DuckDB sorts out of the folder."""

    def __init__(
        self, out: Path, tolerance: float, memory_limit: str, tmp_root: Path | None = None
    ) -> None:
        super().__init__(out, memory_limit, tmp_root)
        self.tolerance = tolerance

    # -- checks ----------------------------------------------------------------------

    def weekdays(self, drain: Callable[[], None]) -> None:
        # Only a date_text that names a weekday can conflict: the rule's own pattern, on the
        # letters the rule folds. A superset of Python's matches: RE2's ASCII \b lets more
        # through, not less.
        named = _sql_str(_WEEKDAY_RE.pattern)
        odd, plain = _sql_str("".join(WEEKDAY_LETTERS)), _sql_str("".join(WEEKDAY_LETTERS.values()))
        for table in ("meetings", "statements", "treaties"):
            items = [
                self.item(table, r)
                for r in self.rows(f"""
                    SELECT * FROM f_{table}
                    WHERE (date IS NOT NULL AND date_text IS NOT NULL
                           AND regexp_matches(translate(date_text, {odd}, {plain}),
                                              {named}, 'i'))
                       OR list_contains(flags, 'weekday_mismatch')
                """)
            ]
            _check_weekdays(items, self.findings)
            drain()

    def blocks(
        self, table: str, sql: str, key: Callable[[dict[str, Any]], Any],
        check: Callable[[list[_Item]], None], drain: Callable[[], None],
    ) -> None:  # fmt: skip
        for _, group in groupby(self.rows(sql), key=key):
            check([self.item(table, r) for r in group])
            drain()

    def block_keys(self, name: str, sql: str, column: str, keys: dict[str, str]) -> None:
        """Table ``name`` of (ord, idx, block): each fact's set of canonical keys of its
        ``column`` names, sorted and joined. Built here, a fact at a time, because
        DuckDB's ``list()`` aggregate cannot spill: grouped by fact, it ran out of a 2 GB
        limit at 10M facts."""
        self.con.execute(f"CREATE TABLE {name} (ord BIGINT, idx BIGINT, block VARCHAR)")
        buf: dict[str, list[Any]] = {"ord": [], "idx": [], "block": []}
        schema = pa.schema([("ord", pa.int64()), ("idx", pa.int64()), ("block", pa.string())])
        for r in self.rows(sql):
            buf["ord"].append(r["ord"])
            buf["idx"].append(r["idx"])
            buf["block"].append(_KEY_SEP.join(sorted({keys[n] for n in r[column]})))
            if len(buf["ord"]) >= self.batch:
                self.append(name, buf, schema)
        self.append(name, buf, schema)

    def meetings(self, drain: Callable[[], None]) -> None:
        self.block_keys(
            "mblocks", "SELECT ord, idx, participants FROM f_meetings", "participants",
            self.person_key,
        )  # fmt: skip
        sql = """
            SELECT m.*, b.block FROM f_meetings m JOIN mblocks b USING (ord, idx)
            ORDER BY b.block, ord, idx
        """
        self.blocks("meetings", sql, lambda r: r["block"],
                    lambda items: _meetings(items, self.names, self.findings), drain)  # fmt: skip

    def figures(self, drain: Callable[[], None]) -> None:
        self.block_keys(
            "fblocks", "SELECT ord, idx, parties FROM f_trade_figures", "parties",
            self.party_key,
        )  # fmt: skip
        metrics: dict[str, list[str]] = {"metric": [], "family": []}
        for r in self.rows("SELECT DISTINCT metric FROM f_trade_figures"):
            metrics["metric"].append(r["metric"])
            metrics["family"].append(metric_family(r["metric"]))
        self.put(
            "metrics",
            pa.table(metrics, schema=pa.schema([("metric", pa.string()), ("family", pa.string())])),
        )
        sql = """
            SELECT f.*, mt.family, b.block AS pk
            FROM f_trade_figures f JOIN metrics mt USING (metric) JOIN fblocks b USING (ord, idx)
            ORDER BY pk, family, ord, idx
        """
        # One block per party set and metric family: a target is set against the results
        # of its parties (target_met/missed); other metrics never meet.
        self.blocks(
            "trade_figures", sql, lambda r: (r["pk"], r["family"]),
            lambda items: _figures(items, self.names, self.findings, self.tolerance), drain,
        )  # fmt: skip

    def treaties(self, drain: Callable[[], None]) -> None:
        name_keys: list[str] = []
        parties: list[frozenset[str]] = []
        evidence: list[str] = []
        labels: dict[frozenset[str], str] = {}
        name_memo: dict[str, str] = {}
        interned: dict[frozenset[str], frozenset[str]] = {}
        self.numbered("tr", "treaties")
        for r in self.rows("SELECT name, parties, evidence FROM tr ORDER BY i"):
            resolved = [self.names.party(p) for p in r["parties"]]
            key = frozenset(x.key for x in resolved)
            key = interned.setdefault(key, key)
            labels.setdefault(key, "/".join(sorted({x.label for x in resolved})))
            nk = name_memo.get(r["name"])
            if nk is None:
                nk = name_memo[r["name"]] = _treaty_name(r["name"])
            name_keys.append(nk)
            parties.append(key)
            evidence.append(r["evidence"])
        uf = treaty_components(name_keys, parties, evidence)
        del evidence, name_keys
        roots = np.fromiter((uf.find(i) for i in range(len(parties))), np.int64, len(parties))
        for rows in self.groups("tr", roots):
            items = []
            for r in rows:
                item = self.item("treaties", r)
                for p in r["parties"]:
                    item.resolved(p, self.names.party(p))
                item.window = parse_window(r["date"])
                items.append(item)
            treaty_group(self.findings, items, labels[parties[int(roots[rows[0]["i"]])]])
            drain()

    def statements(self, drain: Callable[[], None]) -> None:
        statements(self, drain)


# The checks in the order a single process runs them.
CHECKS = ("weekdays", "meetings", "statements", "treaties", "figures")


def open_check(out: Path, tolerance: float, memory_limit: str,
               tmp_root: Path | None = None) -> _Check:  # fmt: skip
    """The folder loaded and its names resolved, ready for any of ``CHECKS``."""
    check = _Check(out, tolerance, memory_limit, tmp_root)
    try:
        with _cyclic_gc_paused():
            check.load()
            check.entities()
    except BaseException:
        check.close()
        raise
    return check


def run_check(check: _Check, name: str, drain_to: Callable[[_Findings], None]) -> None:
    """One of ``CHECKS``, its findings handed to ``drain_to`` a block at a time."""

    def drain() -> None:
        drain_to(check.findings)
        check.findings.findings.clear()
        check.findings.consolidated.clear()

    check.findings.spill = drain  # a block of many findings goes out before it ends
    try:
        with _cyclic_gc_paused():
            getattr(check, name)(drain)
            drain()
    finally:
        check.findings.spill = None


def entity_merges(check: _Check) -> list[EntityMerge]:
    return [
        EntityMerge(kind=r.kind, text=text, canonical=r.label, rule=r.rule)
        for text, r in check.names.merges()
    ]


def check_parquet(
    out: Path | str, *, tolerance: float = 0.01, memory_limit: str = "2GB"
) -> CrossCheckReport:
    """``cross_check`` of a Parquet output folder, blocked in DuckDB: the same report as
    ``cross_check(read_results(out))``. The report itself is held in memory; for outputs
    whose findings do not fit, use ``check_parquet_to``."""
    if tolerance < 0:
        raise ValueError("tolerance must not be negative")
    findings: list[Finding] = []
    consolidated: list[ConsolidatedFact] = []

    def keep(f: _Findings) -> None:
        findings.extend(f.findings)
        consolidated.extend(f.consolidated)

    check = open_check(Path(out), tolerance, memory_limit)
    try:
        for name in CHECKS:
            run_check(check, name, keep)
        article_ids, entities = check.article_ids(), entity_merges(check)
    finally:
        check.close()
    findings.sort(
        key=lambda f: (_SEVERITY_ORDER[f.severity], f.kind, _ref_order(f.facts[0]), f.message)
    )
    consolidated.sort(key=lambda c: (-c.corroboration, c.type, _ref_order(c.facts[0])))
    return CrossCheckReport(
        findings=tuple(findings),
        consolidated=tuple(consolidated),
        articles=tuple(dict.fromkeys(article_ids)),
        entities=tuple(entities),
    )
