"""Durable jobs: the service's queue in the SQLite store, and the engine that drains it.

A job and all its articles are written in one transaction before the service answers
``202``. The engine is a child process of the service (so that its CPU-bound extraction
never holds the GIL the HTTP side needs): ``workers`` threads there claim one pending
article at a time (the synchronous ``/v1/extract`` first, then the oldest job), run it
through one shared ``Pipeline`` and write its result back. An article is ``pending``,
``running``, ``done`` (ok/partial, or served from the cache), ``failed`` or ``cancelled``.

Nothing is lost on a kill -9: the engine dies with the service (``PR_SET_PDEATHSIG``), an
article still ``running`` is ``pending`` again at the next start, and the store's cache
answers it with zero LLM calls if its result was written before the kill, so no accepted
article is extracted twice. One service per store: two would take each other's work back.

No FastAPI here: this module is the engine side of the service, usable without the extra.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ._batch import Item, Outcome, Pipeline, failed_result
from ._errors import ConfigError, StoreError
from ._schemas import ArticleFacts, Source
from ._settings import Settings
from ._store import Store

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

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


class Workers:
    """``workers`` threads that drain the job queue through one shared ``Pipeline``.

    ``on_article(job_id, outcome, seconds)`` is told of every article finished.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        jobs: JobStore,
        *,
        workers: int,
        run_id: int,
        on_article: Callable[[str, Outcome, float], None] | None = None,
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
        while not self._stopping.is_set():
            try:
                if not self._step():
                    with self._wake:
                        self._wake.wait(self.idle_wait_s)
            except Exception:  # a worker that dies would stall the queue: log, go on
                log.exception("worker error")
                self._stopping.wait(self.idle_wait_s)

    def _step(self) -> bool:
        """One article claimed and finished; False when there was none to claim."""
        claimed = self.jobs.claim()
        if claimed is None:
            return False
        t0 = time.perf_counter()
        done = self._run(claimed)
        if done is None:  # stopped mid-way: back to the queue
            self.jobs.release(claimed)
            return True
        self.jobs.finish(claimed, *done)
        if self.on_article is not None:
            self.on_article(claimed.job_id, done[1], time.perf_counter() - t0)
        return True

    def _run(self, c: Claimed) -> tuple[ArticleFacts, Outcome] | None:
        item = Item(text=c.text, article_id=c.client_id, published=c.published)
        try:
            return self.pipeline.one(item, run_id=self.run_id, prompt_version=self.prompt_version)
        except Exception as e:  # endpoint could not start, store error: this article failed
            log.warning("article %s/%d failed: %s", c.job_id, c.seq, type(e).__name__)
            aid = c.client_id or f"{c.job_id}-{c.seq}"
            return failed_result(aid, e, stage="extract", source=Source()), "failed"


# -- the engine process -----------------------------------------------------------------

Message = tuple[object, ...]


def _die_with_parent(parent_pid: int) -> None:
    """The engine must not outlive a service killed with -9: it would go on writing
    while the restarted service hands its articles to a new engine. Nor may the embedded
    llama.cpp server (in a session of its own) outlive the engine: on SIGTERM, which the
    kernel sends when the service dies, the engine kills it and exits at once. What was
    in flight is not stored and is resumed by the next start."""
    import signal

    def on_term(signum: int, frame: object) -> None:
        _kill_own_children()
        os._exit(1)

    signal.signal(signal.SIGTERM, on_term)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))
    if os.getppid() != parent_pid:  # the parent died before prctl
        on_term(0, None)


def _kill_own_children() -> None:
    """SIGKILL this process's children, and the process groups of those leading one."""
    import signal

    me = os.getpid()
    try:
        names = os.listdir("/proc")
    except OSError:
        return
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != me:
                continue
            pid = int(name)
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            continue


def engine_main(
    settings: Settings,
    workers: int,
    conn: Connection,
    parent_pid: int,
    server_log: Path | None = None,
) -> None:
    """The engine process: drain the queue until the service says stop or goes away.

    To the service: ``("ready", run_id)``, ``("endpoint", url)``, ``("start_error", msg)``,
    ``("article", job_id, outcome, seconds)``. From it: ``("wake",)``, ``("start",)``,
    ``("stop",)``.
    """
    import signal

    _die_with_parent(parent_pid)
    # The service decides when the engine stops (see Engine.start), not a Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("instructor").setLevel(logging.CRITICAL)
    lock = threading.Lock()
    told: list[str] = []

    def send(msg: Message) -> None:
        with lock:
            try:
                conn.send(msg)
            except OSError:  # the service is gone; the recv loop below ends too
                pass

    def tell_endpoint(pipe: Pipeline) -> None:
        if pipe.endpoint is not None and not told:
            told.append(pipe.endpoint)
            send(("endpoint", pipe.endpoint))

    def start_model(pipe: Pipeline) -> None:
        try:
            pipe.start()
        except Exception as e:
            send(("start_error", f"{type(e).__name__}: {e}"))
            return
        tell_endpoint(pipe)

    with Pipeline(settings, server_log=server_log) as pipe:
        jobs = JobStore.sharing(pipe.store)
        run_id = pipe.store.start_run(
            model=settings.model, strategy=pipe.strategy, prompt_version=pipe.prompt_version
        )

        def on_article(job_id: str, outcome: Outcome, seconds: float) -> None:
            send(("article", job_id, outcome, seconds))
            tell_endpoint(pipe)

        w = Workers(pipe, jobs, workers=workers, run_id=run_id, on_article=on_article)
        w.start()
        send(("ready", run_id))
        tell_endpoint(pipe)
        try:
            while True:
                try:
                    msg = conn.recv()
                except (EOFError, OSError):
                    break
                if msg[0] == "wake":
                    w.notify()
                elif msg[0] == "start":
                    threading.Thread(target=start_model, args=(pipe,), daemon=True).start()
                elif msg[0] == "stop":
                    break
        finally:
            w.stop()
            pipe.store.finish_run(run_id, ok=0, cached=0, failed=0)
            jobs.close()
    conn.close()


class Engine:
    """The engine process seen from the service: start, messages both ways, stop."""

    def __init__(
        self,
        settings: Settings,
        *,
        workers: int,
        server_log: Path | None = None,
        on_message: Callable[[Message], None] | None = None,
    ) -> None:
        self.settings = settings
        self.workers = workers
        self.server_log = server_log
        self.on_message = on_message
        self.run_id = 0
        self.endpoint: str | None = settings.base_url
        self.start_error: str | None = None
        self._asked_start = False
        self._lock = threading.Lock()
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._reader: threading.Thread | None = None
        self.ready = threading.Event()

    def start(self) -> None:
        """Spawn the engine. Call it from a thread that lives as long as the service:
        the engine is killed when the thread that started it ends."""
        import multiprocessing
        import signal

        ctx = multiprocessing.get_context("spawn")  # no fork of a threaded process
        ours, theirs = ctx.Pipe()
        self._proc = ctx.Process(
            target=engine_main,
            args=(self.settings, self.workers, theirs, os.getpid(), self.server_log),
            name="factx-engine",
            daemon=True,
        )
        # Ctrl-C reaches the whole process group, the engine included, even while it is
        # still importing. An ignored SIGINT survives exec and Python keeps it ignored,
        # so the engine is born deaf to it; the service tells it when to stop.
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            self._proc.start()
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)
        theirs.close()
        self._conn = ours
        self._reader = threading.Thread(target=self._read, name="factx-engine-reader")
        self._reader.daemon = True
        self._reader.start()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def _read(self) -> None:
        assert self._conn is not None
        while True:
            try:
                msg = self._conn.recv()
            except (EOFError, OSError):
                return
            if msg[0] == "ready":
                self.run_id = int(msg[1])
                self.ready.set()
            elif msg[0] == "endpoint":
                self.endpoint = str(msg[1])
            elif msg[0] == "start_error":
                self.start_error = str(msg[1])
            if self.on_message is not None:
                self.on_message(msg)

    def send(self, msg: Message) -> None:
        with self._lock:
            if self._conn is None:
                return
            try:
                self._conn.send(msg)
            except OSError:
                log.warning("the engine process is gone")

    def wake(self) -> None:
        self.send(("wake",))

    def start_model(self) -> None:
        """Ask the engine to start the model endpoint now (once)."""
        if not self._asked_start:
            self._asked_start = True
            self.send(("start",))

    def stop(self, timeout: float = 60.0) -> None:
        """Articles in flight stop at their next LLM call and go back to the queue."""
        if self._proc is None:
            return
        self.send(("stop",))
        self._proc.join(timeout)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        if self._reader is not None:
            self._reader.join(5)
        self._proc.close()
        self._proc = None
