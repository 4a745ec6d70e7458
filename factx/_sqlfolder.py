"""A Parquet output folder opened in DuckDB for the out-of-core cross-check.

DuckDB reads the folder (one row per cache key, as ``_parquet`` reads it) and orders the
articles by id, then cache key: the order ``read_results`` gives the in-memory checker.
Rows come back in Arrow batches; Python's tables go in the same way; a row becomes the
``_Item`` the checks of ``_crosscheck`` take.

Entity resolution is the one step that depends on order (an unknown surname joins the first
spelling seen): the distinct names are resolved in the order of their first appearance in
the in-memory checker's walk, so every name gets the same canonical entity.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from ._crosscheck import text_window
from ._crossitems import _Findings, _Item, _ref, parse_window
from ._entities import EntityResolver
from ._parquet import FACT_TABLES, SCHEMAS, _files
from ._schemas import FactType, Meeting, Statement, TradeFigure, Treaty

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


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Folder:
    """A Parquet output folder in a DuckDB database of its own (spilling to a temporary
    folder): the articles, one row per cache key in the in-memory checker's order; a view
    per fact table; every distinct name resolved. What each check reads it through."""

    def __init__(self, out: Path, memory_limit: str, tmp_root: Path | None = None) -> None:
        self.out = out
        self.batch = _BATCH  # rows per Arrow batch, read or written
        self.tmp = Path(tempfile.mkdtemp(prefix="factx-check-", dir=tmp_root))
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
        self._from_python(f"INSERT INTO {name} SELECT * FROM _py", table)

    def put(self, name: str, table: pa.Table) -> None:
        self._from_python(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _py", table)

    def _from_python(self, sql: str, table: pa.Table) -> None:
        self.con.register("_py", table)
        self.con.execute(sql)
        self.con.unregister("_py")

    def numbered(self, name: str, facts: str) -> None:
        """Table ``name``: the facts of ``facts`` with column ``i`` counting them from 0 in
        the in-memory checker's order."""
        self.con.execute(f"""
            CREATE TABLE {name} AS
            SELECT (row_number() OVER (ORDER BY ord, idx) - 1)::BIGINT AS i, * FROM f_{facts}
        """)

    def groups(self, table: str, roots: np.ndarray) -> Iterator[list[dict[str, Any]]]:
        """The rows of ``table`` (whose column ``i`` counts them from 0) grouped by
        ``roots[i]``, their union-find roots, which are kept as table ``{table}_roots``. A
        row alone in its group comes unsorted (the report is sorted when it is built); the
        others are sorted by root, then ``i``."""
        n = len(roots)
        alone = np.bincount(roots, minlength=n)[roots] == 1
        self.put(f"{table}_roots", pa.table({"i": np.arange(n, dtype=np.int64), "root": roots,
                                              "alone": alone}))  # fmt: skip
        sql = f"SELECT t.* FROM {table} t JOIN {table}_roots r USING (i) WHERE r.alone"
        for r in self.rows(sql):
            yield [r]
        sql = f"""SELECT t.*, r.root FROM {table} t JOIN {table}_roots r USING (i)
                  WHERE NOT r.alone ORDER BY r.root, t.i"""
        for _, group in groupby(self.rows(sql), key=lambda r: r["root"]):
            yield list(group)

    def item(self, table: str, row: dict[str, Any]) -> _Item:
        model = FACT_TABLES[table]
        fields = {k: row[k] for k in _FIELDS[table]}
        for k in _LISTS[table]:
            # A list column is a tuple field; a null one stays None where None is allowed
            # (a trade figure's direction), else it is empty.
            fields[k] = tuple(fields[k]) if fields[k] is not None else _EMPTY.get(k, ())
        # Validated, as read_results gives them to the in-memory checker (and in Rust:
        # twice as fast as model_construct).
        fact = model.model_validate(fields)
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
        # Each name's first place (a struct compares field by field), then the names in
        # that order: cheaper than numbering each name's rows in a window.
        people = self.rows("""
            SELECT name FROM (
                SELECT name, min({'phase': phase, 'ord': ord, 'idx': idx, 'pos': pos}) AS first
                FROM (SELECT u.name, 0 AS phase, ord, idx, u.pos
                      FROM f_meetings, unnest(participants) WITH ORDINALITY AS u(name, pos)
                      UNION ALL
                      SELECT speaker, 1, ord, idx, 0 FROM f_statements)
                GROUP BY name)
            ORDER BY first
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

    def article_ids(self) -> list[str]:
        return [r["article_id"] for r in self.rows("SELECT article_id FROM art ORDER BY ord")]
