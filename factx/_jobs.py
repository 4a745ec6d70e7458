"""Durable jobs: the service's queue in the SQLite store, and the workers that drain it.

A job and all its articles are written in one transaction before the service answers
``202``. Workers claim one pending article at a time (oldest job first), run it through the
shared ``Pipeline`` and write its result back. An article is ``pending``, ``running``,
``done`` (ok/partial, or served from the cache), ``failed`` or ``cancelled``.

Nothing here is lost on a kill -9: an article still ``running`` when the service died is
``pending`` again at the next start, and the store's cache answers it with zero LLM calls
if its result was written before the kill, so no accepted article is extracted twice.
One service process per store: two would each take the other's running articles back.

No FastAPI here: this module is the engine side of the service, usable without the extra.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ._batch import Item, Outcome, Pipeline, failed_result
from ._errors import ConfigError, StoreError
from ._schemas import ArticleFacts, Source

log = logging.getLogger("factx.service")

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


class JobLimitError(Exception):
    """The key has too many unfinished jobs."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class JobStore:
    """The ``jobs`` and ``job_articles`` tables, on a connection of their own.

    The ``Store`` (opened first) has applied the migrations. A second connection keeps the
    status reads of the HTTP side off the lock that article writes hold.
    """

    def __init__(self, path: Path) -> None:
        try:
            self._db = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=30.0
            )
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the job tables at {path}: {e}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _tx(self) -> _Tx:
        return _Tx(self)

    def create(self, owner: str, articles: list[NewArticle], *, max_in_flight: int) -> str:
        """Write the job and its articles, all or nothing. Raises ``JobLimitError``."""
        job_id = uuid.uuid4().hex
        with self._tx() as db:
            (n,) = db.execute(
                "SELECT COUNT(*) FROM jobs j WHERE j.owner=? AND j.cancelled_at IS NULL "
                "AND EXISTS (SELECT 1 FROM job_articles a WHERE a.job_id=j.id "
                "AND a.state IN ('pending','running'))",
                (owner,),
            ).fetchone()
            if n >= max_in_flight:
                raise JobLimitError(f"{n} unfinished jobs (limit {max_in_flight})")
            db.execute(
                "INSERT INTO jobs (id, owner, created_at, total) VALUES (?,?,?,?)",
                (job_id, owner, _now(), len(articles)),
            )
            db.executemany(
                "INSERT INTO job_articles (job_id, seq, client_id, text, published, state) "
                "VALUES (?,?,?,?,?,'pending')",
                [(job_id, i, a.client_id, a.text, a.published) for i, a in enumerate(articles)],
            )
        return job_id

    def owner_of(self, job_id: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT owner FROM jobs WHERE id=?", (job_id,)).fetchone()
        return str(row[0]) if row else None

    def status(self, job_id: str) -> JobStatus | None:
        with self._lock:
            job = self._db.execute(
                "SELECT total, created_at, cancelled_at FROM jobs WHERE id=?", (job_id,)
            ).fetchone()
            if job is None:
                return None
            rows = self._db.execute(
                "SELECT state, COUNT(*), SUM(outcome='cached'), SUM(calls), SUM(prompt_tokens), "
                "SUM(completion_tokens) FROM job_articles WHERE job_id=? GROUP BY state",
                (job_id,),
            ).fetchall()
            failed = self._db.execute(
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
        with self._tx() as db:
            row = db.execute(
                "SELECT a.job_id, a.seq, a.text, a.published, a.client_id "
                "FROM job_articles a JOIN jobs j ON j.id=a.job_id "
                "WHERE a.state='pending' AND j.cancelled_at IS NULL "
                "ORDER BY j.rowid, a.seq LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE job_articles SET state='running' WHERE job_id=? AND seq=?",
                (row[0], row[1]),
            )
        return Claimed(*row)

    def finish(self, c: Claimed, result: ArticleFacts, outcome: Outcome) -> None:
        spent = outcome != "cached"  # a cached article cost this job nothing
        u = result.usage
        with self._tx() as db:
            db.execute(
                "UPDATE job_articles SET state=?, outcome=?, calls=?, prompt_tokens=?, "
                "completion_tokens=?, result_json=?, finished_at=? WHERE job_id=? AND seq=?",
                (
                    "failed" if outcome == "failed" else "done",
                    outcome,
                    u.calls if spent else 0,
                    u.prompt_tokens if spent else 0,
                    u.completion_tokens if spent else 0,
                    result.model_dump_json(),
                    _now(),
                    c.job_id,
                    c.seq,
                ),
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
        with self._lock:
            rows = self._db.execute(
                "SELECT result_json FROM job_articles WHERE job_id=? AND seq>=? AND seq<? "
                "AND result_json IS NOT NULL ORDER BY seq",
                (job_id, offset, end),
            ).fetchall()
        return [ArticleFacts.model_validate_json(r[0]) for r in rows]

    def pending_total(self) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM job_articles WHERE state IN ('pending','running')"
            ).fetchone()
        return int(row[0])

    def job_states(self) -> dict[str, int]:
        """How many jobs are in each state (for /metrics)."""
        with self._lock:
            rows = self._db.execute(
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
        with self._lock:
            rows = self._db.execute(
                "SELECT id, latency_ms, prompt_tokens, completion_tokens, error FROM calls "
                "WHERE run_id=? AND id>? ORDER BY id",
                (run_id, last_id),
            ).fetchall()
        return [tuple(r) for r in rows]


class _Tx:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` under the store's lock; rollback on any exception."""

    def __init__(self, js: JobStore) -> None:
        self.js = js

    def __enter__(self) -> sqlite3.Connection:
        self.js._lock.acquire()
        try:
            self.js._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.js._lock.release()
            raise
        return self.js._db

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        try:
            self.js._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self.js._lock.release()


def _state(st: JobStatus, *, cancelled: bool) -> JobState:
    if cancelled:
        return "cancelled"
    if st.pending + st.running:
        return "running" if st.done + st.failed + st.running else "queued"
    if st.failed == 0:
        return "succeeded"
    return "failed" if st.done == 0 else "partial"


class Workers:
    """``workers`` threads that drain the job queue through one shared ``Pipeline``.

    ``on_article(outcome, seconds)`` is told of every article finished (for /metrics).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        jobs: JobStore,
        *,
        workers: int,
        run_id: int,
        on_article: Callable[[Outcome, float], None] | None = None,
        idle_wait_s: float = 1.0,
    ) -> None:
        self.pipeline = pipeline
        self.jobs = jobs
        self.n = workers
        self.run_id = run_id
        self.prompt_version = pipeline.prompt_version
        self.on_article = on_article
        self.idle_wait_s = idle_wait_s
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        n = self.jobs.recover()
        if n:
            log.info("resuming %d articles left running by an earlier service", n)
        for i in range(self.n):
            t = threading.Thread(target=self._loop, name=f"factx-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def notify(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def stop(self, timeout: float = 30.0) -> None:
        """Start no new article; those in flight stop at their next LLM call and go back to
        the queue, to be resumed by the next start."""
        self._stopping.set()
        self.pipeline.stop()
        self.notify()
        for t in self._threads:
            t.join(timeout)

    def _loop(self) -> None:
        import time

        while not self._stopping.is_set():
            try:
                claimed = self.jobs.claim()
            except (StoreError, sqlite3.Error):
                log.exception("cannot claim an article")
                claimed = None
            if claimed is None:
                with self._wake:
                    self._wake.wait(self.idle_wait_s)
                continue
            t0 = time.perf_counter()
            done = self._run(claimed)
            if done is None:  # stopped mid-way: back to the queue
                self.jobs.release(claimed)
                return
            self.jobs.finish(claimed, *done)
            if self.on_article is not None:
                self.on_article(done[1], time.perf_counter() - t0)

    def _run(self, c: Claimed) -> tuple[ArticleFacts, Outcome] | None:
        item = Item(text=c.text, article_id=c.client_id, published=c.published)
        try:
            return self.pipeline.one(item, run_id=self.run_id, prompt_version=self.prompt_version)
        except Exception as e:  # endpoint could not start, store error: this article failed
            log.warning("article %s/%d failed: %s", c.job_id, c.seq, type(e).__name__)
            aid = c.client_id or f"{c.job_id}-{c.seq}"
            return failed_result(aid, e, stage="extract", source=Source()), "failed"
