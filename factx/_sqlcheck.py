"""The cross-check of a Parquet output folder, out of core: DuckDB blocks, Python clusters.

The same checks as ``_crosscheck`` and the same report, for outputs too large to hold as
``ArticleFacts``. DuckDB reads the folder (one row per cache key, as ``_parquet`` reads it),
orders the articles (by id, then cache key: the order ``read_results`` gives the in-memory
checker), and does the blocking in SQL: meetings sorted by their participants' keys,
figures by metric and parties' keys (each fact's keys written by Python into a table, a
fact at a time), the statements' exact-repeat groups, stem frequencies and MinHash LSH
buckets and their candidate pairs, the treaties' components. Python then runs
``_crosscheck``'s clustering on one block at a time, so only one block of facts is in
memory; the statements and treaties keep a few integers per fact (their union-find)
besides, and the name-to-key maps hold each distinct name once.

Entity resolution is the one step that depends on order (an unknown surname joins the first
spelling seen): the distinct names are resolved in the order of their first appearance in
the in-memory checker's walk, so every name gets the same canonical entity.
"""

from __future__ import annotations

import shutil
import tempfile
from array import array
from collections.abc import Callable, Collection, Iterator
from itertools import groupby
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ._crosscheck import (
    _SEVERITY_ORDER,
    _check_weekdays,
    _cyclic_gc_paused,
    _meetings,
    _treaty_name,
    text_window,
    treaty_components,
    treaty_group,
)
from ._crossfigures import _figures
from ._crossitems import _Findings, _Item, _ref, _ref_order, parse_window
from ._entities import EntityResolver, fold
from ._parquet import FACT_TABLES, SCHEMAS, _files
from ._schemas import (
    ConsolidatedFact,
    CrossCheckReport,
    EntityMerge,
    FactType,
    Finding,
    Meeting,
    Statement,
    TradeFigure,
    Treaty,
)
from ._sqlquotes import statements

AnyFact = Meeting | Statement | Treaty | TradeFigure
_TYPE: dict[str, FactType] = {
    "meetings": "meeting", "statements": "statement", "treaties": "treaty",
    "trade_figures": "trade_figure",
}  # fmt: skip
_FIELDS = {t: [k for k in m.model_fields if k != "type"] for t, m in FACT_TABLES.items()}
_LISTS = {
    t: [f.name for f in SCHEMAS[t] if pa.types.is_list(f.type) and f.name in _FIELDS[t]]
    for t in FACT_TABLES
}
_EMPTY: dict[str, tuple[()] | None] = {"direction": None}
_BATCH = 50_000
_KEY_SEP = "\x1f"  # between the keys of a block (below every character a key holds)


def _pair(a: str, b: str) -> pa.Schema:
    return pa.schema([(a, pa.string()), (b, pa.string())])


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Check:
    def __init__(self, out: Path, tolerance: float, memory_limit: str) -> None:
        self.out, self.tolerance = out, tolerance
        self.batch = _BATCH  # rows per Arrow batch, read or written
        self.tmp = Path(tempfile.mkdtemp(prefix="factx-check-"))
        # A database file, not memory: its tables spill to disk under the memory limit.
        self.con = duckdb.connect(str(self.tmp / "check.duckdb"))
        self.con.execute(f"SET memory_limit = {_sql_str(memory_limit)}")
        self.con.execute(f"SET temp_directory = {_sql_str(str(self.tmp / 'spill'))}")
        self.con.execute("SET preserve_insertion_order = false")
        self.names = EntityResolver()
        self.findings = _Findings()
        # Each distinct name's canonical key (a few per entity: they fit in memory).
        self.person_key: dict[str, str] = {}
        self.party_key: dict[str, str] = {}

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- reading ---------------------------------------------------------------------

    def _source(self, name: str) -> str:
        files = _files(self.out, name)
        if files:
            return "read_parquet([" + ", ".join(_sql_str(f) for f in files) + "])"
        self.put(f"empty_{name}", SCHEMAS[name].empty_table())
        return f"empty_{name}"

    def load(self) -> None:
        self.con.execute(f"""
            CREATE TABLE art AS
            SELECT cache_key, part, article_id, published, outlet,
                   CASE WHEN published IS NULL THEN text END AS undated_text,
                   coalesce(nullif(text_sha256, ''), article_id) AS source,
                   (row_number() OVER (ORDER BY article_id, cache_key) - 1)::BIGINT AS ord
            FROM (SELECT cache_key, part, article_id, published, outlet, text, text_sha256,
                         row_number() OVER (PARTITION BY cache_key ORDER BY status = 'ok' DESC,
                                            written_at DESC, part DESC) AS rn
                  FROM {self._source("articles")})
            WHERE rn = 1
        """)  # fmt: skip
        for table in FACT_TABLES:
            self.con.execute(f"""
                CREATE VIEW f_{table} AS
                SELECT a.ord, a.article_id, a.source, a.published, a.outlet, a.undated_text,
                       f.* EXCLUDE (cache_key, part, article_id)
                FROM {self._source(table)} f JOIN art a USING (cache_key, part)
            """)  # fmt: skip

    def rows(self, sql: str) -> Iterator[dict[str, Any]]:
        # A cursor of its own: the caller may write to the database while it reads.
        cursor = self.con.cursor()
        try:
            for batch in cursor.sql(sql).to_arrow_reader(_BATCH):
                yield from batch.to_pylist()
        finally:
            cursor.close()

    def append(self, name: str, buf: dict[str, list[Any]], schema: pa.Schema) -> None:
        """Insert the buffered columns into table ``name`` and empty the buffer."""
        if next(iter(buf.values())):
            self.insert(name, pa.table(buf, schema=schema))
            for v in buf.values():
                v.clear()

    def insert(self, name: str, table: pa.Table) -> None:
        self.con.register("_py", table)
        self.con.execute(f"INSERT INTO {name} SELECT * FROM _py")
        self.con.unregister("_py")

    def put(self, name: str, table: pa.Table) -> None:
        self.con.register("_py", table)
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _py")
        self.con.unregister("_py")

    def item(self, table: str, row: dict[str, Any]) -> _Item:
        model = FACT_TABLES[table]
        fields = {k: row[k] for k in _FIELDS[table]}
        for k in _LISTS[table]:
            # A list column is a tuple field; a null one stays None where None is allowed
            # (a trade figure's direction), else it is empty.
            fields[k] = tuple(fields[k]) if fields[k] is not None else _EMPTY.get(k, ())
        fact = model.model_construct(None, **fields)
        w = parse_window(row["published"])
        ref = _ref(row["article_id"], _TYPE[table], row["idx"], fact)
        pub = w[0] if w else None
        # As the in-memory checker: an undated article's meetings are placed by its text.
        undated = row["undated_text"]
        pubwin = (
            (pub, pub) if pub else text_window(undated) if undated and table == "meetings" else None
        )
        return _Item(ref, fact, row["source"], pub, None, row["outlet"], pubwin)

    # -- entities --------------------------------------------------------------------

    def entities(self) -> None:
        """Every distinct name resolved once, people in the in-memory walk's order."""
        people = self.rows("""
            SELECT name FROM (
                SELECT name, phase, ord, idx, pos, row_number() OVER (
                    PARTITION BY name ORDER BY phase, ord, idx, pos) AS rn
                FROM (SELECT u.name, 0 AS phase, ord, idx, u.pos
                      FROM f_meetings, unnest(participants) WITH ORDINALITY AS u(name, pos)
                      UNION ALL
                      SELECT speaker, 1, ord, idx, 0 FROM f_statements))
            WHERE rn = 1 ORDER BY phase, ord, idx, pos
        """)
        for r in people:
            self.person_key[r["name"]] = self.names.person(r["name"]).key
        for r in self.rows("SELECT DISTINCT location FROM f_meetings WHERE location <> ''"):
            self.names.place(r["location"])
        for r in self.rows("""
            SELECT DISTINCT name FROM (
                SELECT unnest(parties) AS name FROM f_treaties
                UNION ALL SELECT unnest(parties) FROM f_trade_figures)
        """):
            self.party_key[r["name"]] = self.names.party(r["name"]).key
        metrics: dict[str, list[str]] = {"metric": [], "mkey": []}
        for r in self.rows("SELECT DISTINCT metric FROM f_trade_figures"):
            metrics["metric"].append(r["metric"])
            metrics["mkey"].append(fold(r["metric"]))
        self.put("metrics", pa.table(metrics, schema=_pair("metric", "mkey")))

    # -- checks ----------------------------------------------------------------------

    def weekdays(self, drain: Callable[[], None]) -> None:
        for table in ("meetings", "statements", "treaties"):
            items = [
                self.item(table, r)
                for r in self.rows(f"""
                    SELECT * FROM f_{table}
                    WHERE (date IS NOT NULL AND date_text IS NOT NULL)
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
            if len(buf["ord"]) >= _BATCH:
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
        sql = """
            SELECT f.*, mt.mkey, b.block AS pk
            FROM f_trade_figures f JOIN metrics mt USING (metric) JOIN fblocks b USING (ord, idx)
            ORDER BY pk, ord, idx
        """
        # One block per party set, all metrics together: a target is set against the
        # results of its parties (target_met/missed), and _figures splits by metric itself.
        self.blocks(
            "trade_figures", sql, lambda r: r["pk"],
            lambda items: _figures(items, self.names, self.findings, self.tolerance), drain,
        )  # fmt: skip

    def treaties(self, drain: Callable[[], None]) -> None:
        name_keys: list[str] = []
        parties: list[frozenset[str]] = []
        evidence: list[str] = []
        labels: dict[frozenset[str], str] = {}
        name_memo: dict[str, str] = {}
        interned: dict[frozenset[str], frozenset[str]] = {}
        for r in self.rows("SELECT name, parties, evidence FROM f_treaties ORDER BY ord, idx"):
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
        roots = array("q", (uf.find(i) for i in range(len(parties))))
        self.put("treaty_roots", pa.table({"i": pa.array(range(len(roots)), pa.int64()),
                                           "root": pa.array(roots, pa.int64())}))  # fmt: skip
        sql = """
            SELECT t.*, r.root FROM
              (SELECT *, row_number() OVER (ORDER BY ord, idx) - 1 AS i FROM f_treaties) t
              JOIN treaty_roots r USING (i)
            ORDER BY r.root, t.i
        """
        for root, group in groupby(self.rows(sql), key=lambda r: r["root"]):
            items = []
            for r in group:
                item = self.item("treaties", r)
                for p in r["parties"]:
                    item.resolved(p, self.names.party(p))
                item.window = parse_window(r["date"])
                items.append(item)
            treaty_group(self.findings, items, labels[parties[root]])
            drain()

    def statements(self, drain: Callable[[], None]) -> None:
        statements(self, drain)

    def article_ids(self) -> list[str]:
        return [r["article_id"] for r in self.rows("SELECT article_id FROM art ORDER BY ord")]


# The checks in the order a single process runs them, each with its share of the time of
# a 1M-fact check (py-spy, 2026-12-02): the shares split them among worker processes.
_CHECKS: dict[str, float] = {
    "weekdays": 0.03, "meetings": 0.17, "statements": 0.47, "treaties": 0.08, "figures": 0.20,
}  # fmt: skip


def _run(
    out: Path, tolerance: float, memory_limit: str, drain_to: Callable[[_Findings], None],
    checks: Collection[str] = tuple(_CHECKS),
) -> tuple[list[str], list[EntityMerge]]:  # fmt: skip
    check = _Check(out, tolerance, memory_limit)
    try:
        with _cyclic_gc_paused():
            check.load()
            check.entities()

            def drain() -> None:
                drain_to(check.findings)
                check.findings.findings.clear()
                check.findings.consolidated.clear()

            for name in _CHECKS:
                if name in checks:
                    getattr(check, name)(drain)
            entities = [
                EntityMerge(kind=r.kind, text=text, canonical=r.label, rule=r.rule)
                for text, r in check.names.merges()
            ]
            return check.article_ids(), entities
    finally:
        check.close()


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

    article_ids, entities = _run(Path(out), tolerance, memory_limit, keep)
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
