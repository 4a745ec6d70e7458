"""SQLite store: runs, articles, facts, failures and every LLM call. It is also the cache:
an article stored with status ``ok`` is a hit, a ``partial`` one is kept to be seen only.

WAL journal; one transaction per article, so an article is either wholly stored or not at
all (a kill -9 mid-write leaves the previous state). Migrations are append-only: a new
schema change is a new entry at the end of ``MIGRATIONS``, never an edit of an old one.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from ._errors import StoreError
from ._schemas import ArticleFacts

MIGRATIONS: tuple[str, ...] = (
    # 1: initial schema
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        model TEXT NOT NULL,
        strategy TEXT NOT NULL,
        prompt_version TEXT NOT NULL,
        articles_ok INTEGER NOT NULL DEFAULT 0,
        articles_cached INTEGER NOT NULL DEFAULT 0,
        articles_failed INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE articles (
        cache_key TEXT PRIMARY KEY,
        article_id TEXT NOT NULL,
        text_sha256 TEXT NOT NULL,
        model TEXT NOT NULL,
        strategy TEXT NOT NULL,
        prompt_version TEXT NOT NULL,
        schema_version TEXT NOT NULL,
        status TEXT NOT NULL,
        result_json TEXT NOT NULL,
        run_id INTEGER REFERENCES runs(id),
        created_at TEXT NOT NULL
    );
    CREATE INDEX articles_by_id ON articles(article_id);
    CREATE TABLE facts (
        cache_key TEXT NOT NULL REFERENCES articles(cache_key) ON DELETE CASCADE,
        type TEXT NOT NULL,
        idx INTEGER NOT NULL,
        alignment TEXT NOT NULL,
        flags TEXT NOT NULL,
        char_start INTEGER,
        char_end INTEGER,
        fact_json TEXT NOT NULL,
        PRIMARY KEY (cache_key, type, idx)
    );
    CREATE TABLE failures (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id),
        article_id TEXT NOT NULL,
        path TEXT,
        error TEXT NOT NULL,
        message TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id),
        cache_key TEXT,
        question TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        latency_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        error TEXT,
        created_at TEXT NOT NULL
    );
    """,
    # 2: one row per LLM answer, keyed by its request, so a rerun after a kill mid-article
    # asks only what was not yet answered (the article row stays the fast path)
    """
    CREATE TABLE answers (
        key TEXT PRIMARY KEY,
        question TEXT NOT NULL,
        response_json TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 3: the service's durable jobs. Keys are kept as SHA-256 hashes only; an article's
    # result is copied here when done, so a job reads back the same even if the cache moves.
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        created_at TEXT NOT NULL,
        cancelled_at TEXT,
        total INTEGER NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_by_owner ON jobs(owner, created_at);
    CREATE TABLE job_articles (
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        client_id TEXT,
        text TEXT NOT NULL,
        published TEXT,
        state TEXT NOT NULL,
        outcome TEXT,
        calls INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        result_json TEXT,
        finished_at TEXT,
        PRIMARY KEY (job_id, seq)
    );
    CREATE INDEX job_articles_by_state ON job_articles(state, job_id, seq);
    """,
)


def source_hash(folder: Path) -> str:
    """A hash of the Python sources in ``folder``, by name and content."""
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@functools.cache
def code_version() -> str:
    """factx's own code, hashed: an article's result depends on its rules as much as on the
    prompts. After an upgrade an article is extracted again, its answers from the cache."""
    return source_hash(Path(__file__).parent)


def cache_key(
    text_sha256: str,
    model: str,
    strategy: str,
    prompt_version: str,
    schema_version: str,
    *,
    published: str | None = None,
    code: str | None = None,
) -> str:
    """Everything an article's result depends on: its text, the model, the strategy, the
    prompts, the schema and factx's code (``code_version()`` unless given). The publication
    date is part of it when known, because relative dates ("am Donnerstag") resolve against
    it."""
    parts: tuple[str, ...] = (text_sha256, model, strategy, prompt_version, schema_version)
    parts += (code or code_version(),)
    if published:
        parts += (published,)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


# How long a writer waits for another process's lock before giving up.
_BUSY_S = 30.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _damaged(e: sqlite3.Error) -> bool:
    return getattr(e, "sqlite_errorname", "") in ("SQLITE_CORRUPT", "SQLITE_NOTADB")


class Store:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=_BUSY_S
            )
            self._wal()
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the store at {path}: {e}{self._hint(e)}") from None

    def _wal(self) -> None:
        """Switch to WAL. On a new file the switch needs the file to itself, and SQLite
        answers "database is locked" at once rather than wait (measured with 8 processes
        opening one new store on a loaded machine), so it is retried like a busy wait."""
        deadline = time.monotonic() + _BUSY_S
        delay = 0.005
        while True:
            try:
                row = self._db.execute("PRAGMA journal_mode=WAL").fetchone()
                if row and str(row[0]).lower() in ("wal", "memory"):  # memory: ":memory:"
                    return
                problem: sqlite3.Error = sqlite3.OperationalError(f"journal mode stayed {row}")
            except sqlite3.OperationalError as e:
                if not getattr(e, "sqlite_errorname", "").startswith("SQLITE_BUSY"):
                    raise
                problem = e
            if time.monotonic() > deadline:
                raise problem
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _hint(self, e: BaseException) -> str:
        if isinstance(e, sqlite3.Error) and _damaged(e):
            return (
                f" (the file is damaged: salvage it with `sqlite3 {self.path} .recover`, "
                "or move it away to start a new store)"
            )
        return ""

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Any SQLite failure after opening is a ``StoreError`` naming the file."""
        try:
            yield
        except sqlite3.Error as e:
            raise StoreError(f"the store at {self.path} failed: {e}{self._hint(e)}") from None

    # -- schema ------------------------------------------------------------------------

    def _migrate(self) -> None:
        db = self._db
        # Several processes may open a new store at once: the applied versions are read
        # inside the write transaction, so only the first one applies a migration.
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS migrations "
                "(version INTEGER PRIMARY KEY, applied_at TEXT)"
            )
            done = {row[0] for row in db.execute("SELECT version FROM migrations")}
            for version, sql in enumerate(MIGRATIONS, start=1):
                if version in done:
                    continue
                for stmt in sql.split(";"):
                    if stmt.strip():
                        db.execute(stmt)
                db.execute("INSERT INTO migrations VALUES (?, ?)", (version, _now()))
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        row = self._db.execute("SELECT MAX(version) FROM migrations").fetchone()
        return int(row[0] or 0)

    # -- runs --------------------------------------------------------------------------

    def start_run(self, *, model: str, strategy: str, prompt_version: str) -> int:
        with self._lock, self._guard():
            cur = self._db.execute(
                "INSERT INTO runs (started_at, model, strategy, prompt_version) VALUES (?,?,?,?)",
                (_now(), model, strategy, prompt_version),
            )
            return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, *, ok: int, cached: int, failed: int) -> None:
        with self._lock, self._guard():
            self._db.execute(
                "UPDATE runs SET finished_at=?, articles_ok=?, articles_cached=?, "
                "articles_failed=? WHERE id=?",
                (_now(), ok, cached, failed, run_id),
            )

    # -- articles ----------------------------------------------------------------------

    def get(self, key: str, *, complete: bool = True) -> ArticleFacts | None:
        """The stored result for ``key``. Only a complete one (status ``ok``) is a cache hit;
        ``complete=False`` also returns a ``partial`` one, which is stored to be seen."""
        sql = "SELECT result_json FROM articles WHERE cache_key=?"
        if complete:
            sql += " AND status='ok'"
        with self._lock, self._guard():
            row = self._db.execute(sql, (key,)).fetchone()
        return ArticleFacts.model_validate_json(row[0]) if row else None

    def put(
        self,
        key: str,
        result: ArticleFacts,
        *,
        run_id: int | None = None,
        calls: Iterable[tuple[str, int, int, float, int, str | None]] = (),
    ) -> None:
        """Store one article, its facts and its calls in one transaction."""
        # Every row is built before the transaction: SQLite's write lock, which the
        # service's requests wait for, is then held for the statements only, not for the
        # JSON dumps (that a thread holding the GIL of four busy workers makes long).
        article = (
            key,
            result.article_id,
            result.text_sha256,
            result.model,
            result.strategy,
            result.prompt_version,
            result.schema_version,
            result.status,
            result.model_dump_json(),
            run_id,
            _now(),
        )
        facts = [
            (key, kind, i, f.alignment, ",".join(f.flags), f.char_start, f.char_end,
             f.model_dump_json())
            for kind, items in (
                ("meeting", result.meetings),
                ("statement", result.statements),
                ("treaty", result.treaties),
                ("trade_figure", result.trade_figures),
            )
            for i, f in enumerate(items)
        ]  # fmt: skip
        call_rows = self._call_rows(run_id, key, calls)
        with self._transaction() as db:
            db.execute("DELETE FROM articles WHERE cache_key=?", (key,))
            db.execute("INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?)", article)
            db.executemany("INSERT INTO facts VALUES (?,?,?,?,?,?,?,?)", facts)
            self._insert_calls(call_rows)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing, also on KeyboardInterrupt: a kill leaves the previous state."""
        with self._lock, self._guard():
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise

    @staticmethod
    def _call_rows(
        run_id: int | None,
        key: str | None,
        calls: Iterable[tuple[str, int, int, float, int, str | None]],
    ) -> list[tuple[object, ...]]:
        now = _now()
        return [(run_id, key, q, p, c, int(lat * 1000), a, e, now) for q, p, c, lat, a, e in calls]

    def _insert_calls(self, rows: list[tuple[object, ...]]) -> None:
        self._db.executemany(
            "INSERT INTO calls (run_id, cache_key, question, prompt_tokens, completion_tokens, "
            "latency_ms, attempts, error, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            rows,
        )

    def record_failure(
        self,
        *,
        run_id: int | None,
        article_id: str,
        path: str | None,
        error: str,
        message: str,
        calls: Iterable[tuple[str, int, int, float, int, str | None]] = (),
    ) -> None:
        call_rows = self._call_rows(run_id, None, calls)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO failures (run_id, article_id, path, error, message, created_at) "
                "VALUES (?,?,?,?,?,?)",
                (run_id, article_id, path, error, message, _now()),
            )
            self._insert_calls(call_rows)

    # -- answers -----------------------------------------------------------------------

    def get_answer(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT response_json FROM answers WHERE key=?", (key,)
            ).fetchone()
        return str(row[0]) if row else None

    def put_answer(
        self,
        key: str,
        question: str,
        response_json: str,
        prompt_tokens: int,
        completion_tokens: int,
    ) -> None:
        # Outside the article's transaction on purpose: an answer outlives a killed article.
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?,?,?,?,?,?)",
                (key, question, response_json, prompt_tokens, completion_tokens, _now()),
            )

    def forget(self, *, keep_answers: int = 0) -> None:
        """Empty the cache but for the ``keep_answers`` newest answers: every article with
        its facts, every call and failure, the older answers; the runs stay. For a store in
        memory that must not grow with every article (a Ray actor's)."""
        with self._transaction() as db:
            for table in ("facts", "articles", "calls", "failures"):
                db.execute(f"DELETE FROM {table}")
            # A replaced answer gets a new rowid, so rowid order is the order of writing.
            db.execute(
                "DELETE FROM answers WHERE rowid NOT IN "
                "(SELECT rowid FROM answers ORDER BY rowid DESC LIMIT ?)",
                (keep_answers,),
            )

    # -- reading -----------------------------------------------------------------------

    def articles(self) -> Iterator[ArticleFacts]:
        with self._lock, self._guard():
            rows = self._db.execute(
                "SELECT result_json FROM articles ORDER BY article_id, created_at"
            ).fetchall()
        for (raw,) in rows:
            yield ArticleFacts.model_validate_json(raw)

    def run_stats(self, run_id: int) -> dict[str, int]:
        with self._lock, self._guard():
            row = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(prompt_tokens),0), "
                "COALESCE(SUM(completion_tokens),0) FROM calls WHERE run_id=?",
                (run_id,),
            ).fetchone()
        return {"calls": row[0], "prompt_tokens": row[1], "completion_tokens": row[2]}

    def count(self, table: str) -> int:
        if table not in {"runs", "articles", "facts", "failures", "calls", "answers"}:
            raise ValueError(table)
        with self._lock, self._guard():
            return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
