"""Durable jobs: the service's queue in the SQLite store (``_engine`` drains it).

A job and all its articles are written in one transaction before the service answers
``202``. An article is ``pending``, ``running``, ``done`` (ok/partial, or served from the
cache), ``failed`` or ``cancelled``; the engine's workers claim one pending article at a
time (the synchronous ``/v1/extract`` first, then the oldest job) and write its result
back. An article still ``running`` after a kill -9 is ``pending`` again at the next start.

No FastAPI here: usable without the extra.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ._batch import Outcome
from ._errors import ConfigError, StoreError
from ._schemas import ArticleFacts
from ._store import Store

log = logging.getLogger("factx.service")
_LOCK_TIMEOUT_S = 30.0

JobState = Literal["queued", "running", "succeeded", "partial", "failed", "cancelled"]


def hash_key(key: str) -> str:
    """What the service keeps of an API key: its SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """How ``factx serve`` listens and what it accepts. Extraction itself takes ``Settings``."""

    host: str = "127.0.0.1"
    port: int = 8000
    # SHA-256 hex of each accepted API key (``hash_key``); empty: no keys, loopback only.
    key_hashes: frozenset[str] = field(default=frozenset(), repr=False)
    workers: int = 1  # articles extracted at once, over all jobs
    max_body_bytes: int = 8 * 1024 * 1024
    max_articles_per_job: int = 1000
    max_article_chars: int = 100_000
    max_jobs_in_flight: int = 8  # unfinished jobs per key
    retry_after_s: int = 5
    max_id_chars: int = 200

    def __post_init__(self) -> None:
        if not self.key_hashes and not is_loopback(self.host):
            raise ConfigError(
                f"refusing to listen on {self.host} without API keys: anyone who reaches it "
                "could spend the model; give --api-keys-file or FACTX_API_KEYS, or bind "
                "127.0.0.1"
            )
        for name in ("workers", "max_body_bytes", "max_articles_per_job", "max_article_chars"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1")
        if self.max_jobs_in_flight < 1:
            raise ConfigError("max_jobs_in_flight must be >= 1")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0..65535, got {self.port}")

    @staticmethod
    def keys_to_hashes(keys: Iterable[str]) -> frozenset[str]:
        return frozenset(hash_key(k.strip()) for k in keys if k.strip())


@dataclass(frozen=True)
class NewArticle:
    text: str
    published: str | None = None
    client_id: str | None = None


@dataclass(frozen=True)
class Claimed:
    job_id: str
    seq: int
    text: str
    published: str | None
    client_id: str | None


@dataclass
class JobStatus:
    id: str
    state: JobState
    total: int
    done: int = 0
    failed: int = 0
    pending: int = 0
    running: int = 0
    cancelled: int = 0
    cached: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    created_at: str = ""
    errors: list[dict[str, object]] = field(default_factory=list)


@dataclass
class _Create:
    """One job waiting to be written by the group commit."""

    job_id: str
    owner: str
    rows: list[tuple[str, int, str | None, str, str | None]]
    max_in_flight: int | None
    priority: int
    done: bool = False
    error: BaseException | None = None


class JobLimitError(Exception):
    """The key has too many unfinished jobs."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class JobStore:
    """The ``jobs`` and ``job_articles`` tables, on a connection of their own.

    The ``Store`` (opened first) has applied the migrations. A second connection keeps the
    status reads of the HTTP side off the lock that article writes hold.
    """

    def __init__(self, path: Path, *, eager_lock: bool = False) -> None:
        # eager_lock: take SQLite's write lock by short retries (the service, whose
        # requests should not sleep); otherwise SQLite's busy handler (the engine, whose
        # worker threads would steal the GIL from the one holding the lock by spinning).
        self.eager_lock = eager_lock
        try:
            self._db = self._connect(path)
            # Reads on a connection of their own: in WAL mode they never wait for a writer,
            # so a status request does not queue behind a job being written.
            self._rdb = self._connect(path)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the job tables at {path}: {e}") from None
        self._lock = threading.Lock()
        self._rlock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Create] = []
        self._own = True

    @classmethod
    def sharing(cls, store: Store) -> JobStore:
        """The job tables on the store's own connection and lock (the engine). Two
        connections in one process would contend for SQLite's write lock between an
        article's write and its job row's, and SQLite settles that by sleeping."""
        js = cls.__new__(cls)
        js.eager_lock = False
        js._db = js._rdb = store._db
        js._lock = js._rlock = store._lock
        js._queue_lock = threading.Lock()
        js._queue = []
        js._own = False
        return js

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=_LOCK_TIMEOUT_S
        )
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def close(self) -> None:
        if not self._own:  # the store closes its connection
            return
        with self._lock, self._rlock:
            self._db.close()
            self._rdb.close()

    def _tx(self) -> _Tx:
        return _Tx(self)

    def create(
        self,
        owner: str,
        articles: list[NewArticle],
        *,
        max_in_flight: int | None,
        priority: int = 0,
    ) -> str:
        """Write the job and its articles, all or nothing. Raises ``JobLimitError`` when the
        owner has ``max_in_flight`` unfinished jobs (``None``: no limit). Higher
        ``priority`` is claimed first (a synchronous request waits on it).

        Group commit: jobs submitted at the same moment are written in one transaction by
        whichever request takes the lock first, so a burst of submissions waits for one
        write lock, not for one each.
        """
        job_id = uuid.uuid4().hex
        rows = [(job_id, i, a.client_id, a.text, a.published) for i, a in enumerate(articles)]
        req = _Create(job_id, owner, rows, max_in_flight, priority)
        with self._queue_lock:
            self._queue.append(req)
        with self._lock:
            if not req.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                try:
                    with _Tx(self, locked=True) as db:
                        for r in batch:
                            r.error = self._insert(db, r)
                except BaseException as e:
                    for r in batch:
                        r.error = e
                for r in batch:
                    r.done = True
        if req.error is not None:
            raise req.error
        return job_id

    @staticmethod
    def _insert(db: sqlite3.Connection, r: _Create) -> BaseException | None:
        if r.max_in_flight is not None:
            (n,) = db.execute(
                "SELECT COUNT(*) FROM jobs j WHERE j.owner=? AND j.priority=0 "
                "AND j.cancelled_at IS NULL AND EXISTS (SELECT 1 FROM job_articles a "
                "WHERE a.job_id=j.id AND a.state IN ('pending','running'))",
                (r.owner,),
            ).fetchone()
            if n >= r.max_in_flight:
                return JobLimitError(f"{n} unfinished jobs (limit {r.max_in_flight})")
        db.execute(
            "INSERT INTO jobs (id, owner, created_at, total, priority) VALUES (?,?,?,?,?)",
            (r.job_id, r.owner, _now(), len(r.rows), r.priority),
        )
        db.executemany(
            "INSERT INTO job_articles (job_id, seq, client_id, text, published, state) "
            "VALUES (?,?,?,?,?,'pending')",
            r.rows,
        )
        return None

    def owner_of(self, job_id: str) -> str | None:
        with self._rlock:
            row = self._rdb.execute("SELECT owner FROM jobs WHERE id=?", (job_id,)).fetchone()
        return str(row[0]) if row else None

    def status(self, job_id: str) -> JobStatus | None:
        with self._rlock:
            self._rdb.execute("BEGIN")  # one snapshot for the three reads
            try:
                return self._status(job_id)
            finally:
                self._rdb.execute("COMMIT")

    def _status(self, job_id: str) -> JobStatus | None:
        job = self._rdb.execute(
            "SELECT total, created_at, cancelled_at FROM jobs WHERE id=?", (job_id,)
        ).fetchone()
        if job is None:
            return None
        rows = self._rdb.execute(
            "SELECT state, COUNT(*), SUM(outcome='cached'), SUM(calls), SUM(prompt_tokens), "
            "SUM(completion_tokens) FROM job_articles WHERE job_id=? GROUP BY state",
            (job_id,),
        ).fetchall()
        failed = self._rdb.execute(
            "SELECT seq, client_id, result_json FROM job_articles "
            "WHERE job_id=? AND state='failed' ORDER BY seq LIMIT 100",
            (job_id,),
        ).fetchall()
        st = JobStatus(id=job_id, state="queued", total=job[0], created_at=job[1])
        for state, n, cached, calls, pt, ct in rows:
            setattr(st, state, n)
            st.cached += cached or 0
            st.calls += calls or 0
            st.prompt_tokens += pt or 0
            st.completion_tokens += ct or 0
        for seq, client_id, raw in failed:
            errs = ArticleFacts.model_validate_json(raw).errors if raw else ()
            last = errs[-1] if errs else None
            st.errors.append(
                {
                    "seq": seq,
                    "id": client_id,
                    "error": last.error if last else "?",
                    "message": last.message if last else "",
                }
            )
        st.state = _state(st, cancelled=job[2] is not None)
        return st

    def claim(self) -> Claimed | None:
        """The oldest pending article of a job that is not cancelled, now ``running``."""
        # One statement: the write lock is held for no Python code at all.
        with self._tx() as db:
            row = db.execute(
                "UPDATE job_articles SET state='running' WHERE rowid = ("
                "SELECT a.rowid FROM job_articles a JOIN jobs j ON j.id=a.job_id "
                "WHERE a.state='pending' AND j.cancelled_at IS NULL "
                "ORDER BY j.priority DESC, j.rowid, a.seq LIMIT 1) "
                "RETURNING job_id, seq, text, published, client_id"
            ).fetchone()
        return Claimed(*row) if row is not None else None

    def finish(self, c: Claimed, result: ArticleFacts, outcome: Outcome) -> None:
        spent = outcome != "cached"  # a cached article cost this job nothing
        u = result.usage
        row = (
            "failed" if outcome == "failed" else "done",
            outcome,
            u.calls if spent else 0,
            u.prompt_tokens if spent else 0,
            u.completion_tokens if spent else 0,
            result.model_dump_json(),  # before the transaction: no work under the lock
            _now(),
            c.job_id,
            c.seq,
        )
        with self._tx() as db:
            db.execute(
                "UPDATE job_articles SET state=?, outcome=?, calls=?, prompt_tokens=?, "
                "completion_tokens=?, result_json=?, finished_at=? WHERE job_id=? AND seq=?",
                row,
            )

    def release(self, c: Claimed) -> None:
        """Give an article that was stopped mid-way back to the queue."""
        with self._tx() as db:
            db.execute(
                "UPDATE job_articles SET state='pending' WHERE job_id=? AND seq=? "
                "AND state='running'",
                (c.job_id, c.seq),
            )

    def recover(self) -> int:
        """At start: articles a dead service left ``running`` are pending again."""
        with self._tx() as db:
            cur = db.execute("UPDATE job_articles SET state='pending' WHERE state='running'")
            return cur.rowcount

    def cancel(self, job_id: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET cancelled_at=? WHERE id=? AND cancelled_at IS NULL",
                (_now(), job_id),
            )
            db.execute(
                "UPDATE job_articles SET state='cancelled' WHERE job_id=? AND state='pending'",
                (job_id,),
            )

    def results(
        self, job_id: str, *, offset: int = 0, limit: int | None = None
    ) -> list[ArticleFacts]:
        """Finished articles with ``offset <= seq < offset + limit``, in input order."""
        end = offset + limit if limit is not None else 1 << 62
        with self._rlock:
            rows = self._rdb.execute(
                "SELECT result_json FROM job_articles WHERE job_id=? AND seq>=? AND seq<? "
                "AND result_json IS NOT NULL ORDER BY seq",
                (job_id, offset, end),
            ).fetchall()
        return [ArticleFacts.model_validate_json(r[0]) for r in rows]

    def _articles_in(self, *states: str) -> int:
        marks = ",".join("?" * len(states))
        with self._rlock:
            row = self._rdb.execute(
                f"SELECT COUNT(*) FROM job_articles WHERE state IN ({marks})", states
            ).fetchone()
        return int(row[0])

    def pending_total(self) -> int:
        return self._articles_in("pending", "running")

    def running_total(self) -> int:
        """Articles a worker is extracting now."""
        return self._articles_in("running")

    def job_states(self) -> dict[str, int]:
        """How many jobs are in each state (for /metrics)."""
        with self._rlock:
            rows = self._rdb.execute(
                "SELECT j.cancelled_at IS NOT NULL, SUM(a.state='pending'), "
                "SUM(a.state='running'), SUM(a.state='done'), SUM(a.state='failed') "
                "FROM jobs j JOIN job_articles a ON a.job_id=j.id GROUP BY j.id"
            ).fetchall()
        counts: dict[str, int] = {}
        for cancelled, pending, running, done, failed in rows:
            st = JobStatus(id="", state="queued", total=0, done=done, failed=failed)
            st.pending, st.running = pending, running
            state = _state(st, cancelled=bool(cancelled))
            counts[state] = counts.get(state, 0) + 1
        return counts

    def calls_since(self, run_id: int, last_id: int) -> list[tuple[int, int, int, int, str | None]]:
        """The LLM calls of a run recorded after call ``last_id`` (for /metrics)."""
        with self._rlock:
            rows = self._rdb.execute(
                "SELECT id, latency_ms, prompt_tokens, completion_tokens, error FROM calls "
                "WHERE run_id=? AND id>? ORDER BY id",
                (run_id, last_id),
            ).fetchall()
        return [tuple(r) for r in rows]


class _Tx:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` under the connection's lock; rollback on error.

    With ``eager_lock`` the write lock is taken by retrying every half millisecond rather
    than through SQLite's busy handler, whose sleeps grow to 100 ms: the engine holds the
    lock often but briefly, and a request should not sleep past that.
    """

    def __init__(self, js: JobStore, *, locked: bool = False) -> None:
        self.js = js
        self.locked = locked  # the caller holds the connection's lock already

    def __enter__(self) -> sqlite3.Connection:
        if not self.locked:
            self.js._lock.acquire()
        db = self.js._db
        try:
            if not self.js.eager_lock:
                db.execute("BEGIN IMMEDIATE")
                return db
            deadline = time.monotonic() + _LOCK_TIMEOUT_S
            db.execute("PRAGMA busy_timeout=0")
            try:
                while True:
                    try:
                        db.execute("BEGIN IMMEDIATE")
                        break
                    except sqlite3.OperationalError as e:
                        if "locked" not in str(e) or time.monotonic() > deadline:
                            raise
                        time.sleep(0.0005)
            finally:
                db.execute(f"PRAGMA busy_timeout={int(_LOCK_TIMEOUT_S * 1000)}")
        except BaseException:
            if not self.locked:
                self.js._lock.release()
            raise
        return db

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        try:
            self.js._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            if not self.locked:
                self.js._lock.release()


def _state(st: JobStatus, *, cancelled: bool) -> JobState:
    if cancelled:
        return "cancelled"
    if st.pending + st.running:
        return "running" if st.done + st.failed + st.running else "queued"
    if st.failed == 0:
        return "succeeded"
    return "failed" if st.done == 0 else "partial"
