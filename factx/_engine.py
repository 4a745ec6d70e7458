"""The engine: a child process of the service that drains the job queue (``_jobs``).

The engine is a process of its own so that its CPU-bound extraction never holds the GIL
the HTTP side needs: ``workers`` threads there claim one pending article at a time, run it
through one shared ``Pipeline`` and write its result back.

Nothing is lost on a kill -9: the engine dies with the service (``PR_SET_PDEATHSIG``), an
article still ``running`` is ``pending`` again at the next start, and the store's cache
answers it with zero LLM calls if its result was written before the kill, so no accepted
article is extracted twice. One service per store: two would take each other's work back.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ._batch import Item, Outcome, Pipeline, failed_result
from ._jobs import Claimed, JobStore
from ._schemas import ArticleFacts, Source
from ._settings import Settings

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

log = logging.getLogger("factx.service")


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
