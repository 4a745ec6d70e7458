"""Batch extraction: the embedded server's lifetime, the cache, concurrency and resume.

``Pipeline`` owns one LLM endpoint (the embedded llama.cpp server, or ``base_url``) and one
store. An article whose cache key (text hash, publication date, model, strategy, prompt and
schema version) has a complete result in the store is answered from it with zero LLM
calls; that is also how a killed run resumes. A ``partial`` result is stored but asked
again next time. Results come back in input order whatever the concurrency.

Nothing one article does stops the batch: bad input, a failing endpoint or an unexpected
exception become that article's ``failed`` result with the error class and message, stored
in ``failures``. Only a store that cannot be written stops it (``StoreError``), since
nothing after that would be kept; the results finished until then are still yielded.
Two inputs with the same text are extracted once: the second waits for the first and is
then served from the store. ``stop()`` (Ctrl-C, SIGTERM) abandons the waits and calls in
flight at once, storing nothing half-done.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from ._breaker import Interrupted
from ._client import LLM
from ._errors import InputError, MetadataError, ServerStartError, StoreError
from ._extract import Extractor
from ._local import LocalServer, assemble_default_gguf
from ._read import read_document, read_text_document
from ._schemas import SCHEMA_VERSION, ArticleError, ArticleFacts, Document, Source
from ._settings import Settings
from ._store import Store, cache_key
from ._transport import make_client

if TYPE_CHECKING:
    import instructor

Outcome = Literal["extracted", "partial", "cached", "failed"]


@dataclass
class BatchStats:
    extracted: int = 0
    cached: int = 0
    failed: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    # Articles with lost questions (counted in ``extracted`` or ``cached``):
    # (label, questions lost, last error, its message); asked again on the next run.
    partial: list[tuple[str, int, str, str]] = field(default_factory=list)
    # Problems that did not stop an article, e.g. a malformed .meta.json: (label, error, msg)
    warnings: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.extracted + self.cached


@dataclass(frozen=True)
class Item:
    """One input: a path, or a text with its own id and publication date."""

    path: Path | None = None
    text: str | None = None
    article_id: str | None = None
    published: date | str | None = None

    @property
    def label(self) -> str:
        return str(self.path) if self.path else (self.article_id or "<text>")


def failed_result(
    article_id: str, err: BaseException, *, stage: str, source: Source
) -> ArticleFacts:
    """The JSON line for an article that could not be extracted: no text, one error."""
    return ArticleFacts(
        article_id=article_id,
        text_sha256="",
        text="",
        source=source,
        status="failed",
        errors=(
            ArticleError(stage=stage, error=type(err).__name__, message=_message(err)),  # type: ignore[arg-type]
        ),
    )


def _message(err: BaseException) -> str:
    text = " ".join(str(err).split()) or repr(err)
    return text if len(text) <= 500 else text[:499] + "…"


def _rebind(cached: ArticleFacts, doc: Document) -> ArticleFacts:
    """A stored result for the same text, told as this document's: its id, source and
    read warnings. Everything else depends only on what the cache key covers."""
    return cached.model_copy(
        update={
            "article_id": doc.id,
            "source": doc.source,
            "errors": (*doc.warnings, *(e for e in cached.errors if e.stage != "read")),
        }
    )


class Pipeline:
    """``with Pipeline(settings) as p: p.extract_many(paths)``."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: Store | None = None,
        client: instructor.Instructor | None = None,
        server_log: Path | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._sleep = sleep
        self._own_store = store is None
        self.store = store or Store(self.settings.resolved_store_path)
        self._client = client
        self._server: LocalServer | None = None
        self._server_log = server_log
        self._extractor: Extractor | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._keys_lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._refresh = False
        self._fresh: set[str] = set()  # keys extracted in the current run
        self._on_notice: Callable[[str], None] | None = None
        self._present: set[Path] = set()  # input paths that existed when the run started

    # -- lifecycle ---------------------------------------------------------------------

    def _ensure_extractor(self) -> Extractor:
        """Start the endpoint lazily: a fully cached batch never starts the server."""
        with self._lock:
            if self._extractor is not None:
                return self._extractor
            settings = self.settings
            client = self._client
            if client is None:
                base_url = settings.base_url
                if base_url is None:
                    gguf = settings.gguf or assemble_default_gguf(settings.cache_dir)
                    self._server = LocalServer(
                        gguf,
                        model_alias=settings.model,
                        n_ctx=settings.n_ctx,
                        n_threads=settings.n_threads,
                        log_path=self._server_log,
                    )
                    self._server.start()
                    base_url = self._server.base_url
                client = make_client(settings, base_url)
            llm = LLM(
                client,
                settings,
                answers=self.store if settings.answer_cache else None,
                stop=self._stop,
                notify=self._notice,
                **({"sleep": self._sleep} if self._sleep else {}),
            )
            self._extractor = Extractor(llm, settings)
            return self._extractor

    def close(self) -> None:
        if self._extractor is not None and self._client is None:
            # We made this client: close its connection pool.
            with contextlib.suppress(Exception):
                openai_client: Any = self._extractor.llm.client.client
                openai_client.close()
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._own_store:
            self.store.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def stop(self) -> None:
        """Start no new article; abandon the waits and calls in flight (nothing half-done
        is stored); finished writes complete."""
        self._stop.set()

    def _notice(self, message: str) -> None:
        if self._on_notice is not None:
            self._on_notice(message)

    # -- keys --------------------------------------------------------------------------

    @property
    def strategy(self) -> str:
        return self.settings.resolved_strategy()

    @property
    def prompt_version(self) -> str:
        from ._prompts import load_prompts

        return load_prompts().version_for(self.strategy)

    def key_for(self, doc: Document, prompt_version: str) -> str:
        return cache_key(
            doc.sha256,
            self.settings.model,
            self.strategy,
            prompt_version,
            SCHEMA_VERSION,
            published=doc.source.published,
        )

    def _key_lock(self, key: str) -> threading.Lock:
        with self._keys_lock:
            return self._key_locks.setdefault(key, threading.Lock())

    # -- work --------------------------------------------------------------------------

    def _read(self, item: Item) -> Document:
        pub: date | None = None
        if item.published:
            try:
                pub = date.fromisoformat(str(item.published))
            except ValueError:
                raise MetadataError(
                    f"{item.label}: impossible publication date {item.published!r}"
                ) from None
        if item.path is not None:
            return read_document(item.path, published=pub, existed=item.path in self._present)
        return read_text_document(item.text or "", doc_id=item.article_id, published=pub)

    def _fail(
        self, run_id: int, article_id: str, source: Source, err: BaseException, stage: str
    ) -> tuple[ArticleFacts, Outcome]:
        result = failed_result(article_id, err, stage=stage, source=source)
        e = result.errors[0]
        self.store.record_failure(
            run_id=run_id, article_id=article_id, path=source.path, error=e.error,
            message=e.message,
        )  # fmt: skip
        return result, "failed"

    def _one(
        self,
        item: Item,
        run_id: int,
        prompt_version: str,
        stats: BatchStats,
        on_call: Callable[[], None] | None,
    ) -> tuple[ArticleFacts, Outcome]:
        source = Source(path=str(item.path) if item.path else None)
        article_id = item.article_id or (item.path.stem if item.path else "<text>")
        try:
            doc = self._read(item)
        except InputError as e:
            return self._fail(run_id, article_id, source, e, "read")
        except Exception as e:  # a bug must not stop the batch: record it, go on
            return self._fail(run_id, article_id, source, e, "read")
        key = self.key_for(doc, prompt_version)
        # One extraction per key at a time: a copy of an article in flight waits for it.
        with self._key_lock(key):
            # A copy of an article extracted in this run is served whatever its status;
            # otherwise only a complete result is a cache hit (and none with --refresh).
            cached = None
            if key in self._fresh:
                cached = self.store.get(key, complete=False)
            elif not self._refresh:
                cached = self.store.get(key)
            if cached is not None:
                return _rebind(cached, doc), "cached"
            if self._stop.is_set():
                raise _Stopped()
            # An endpoint that cannot start stops the batch: every article would need it.
            extractor = self._ensure_extractor()
            try:
                return self._extract(extractor, doc, key, run_id, stats, on_call)
            except (_Stopped, _Unstored, StoreError, ServerStartError):
                raise
            except Interrupted:
                raise _Stopped() from None
            except Exception as e:
                return self._fail(run_id, doc.id, doc.source, e, "extract")

    def _extract(
        self,
        extractor: Extractor,
        doc: Document,
        key: str,
        run_id: int,
        stats: BatchStats,
        on_call: Callable[[], None] | None,
    ) -> tuple[ArticleFacts, Outcome]:
        def call_done() -> None:
            if on_call:
                on_call()
            if self._stop.is_set():
                raise _Stopped()  # abandon this article; nothing of it is stored

        try:
            extractor.llm.refresh = self._refresh  # --refresh asks the model again too
            outcome = extractor.extract(doc, on_call=call_done)
        except Interrupted:
            raise _Stopped() from None
        records = [
            (r.question, r.prompt_tokens, r.completion_tokens, r.latency_s, r.attempts, r.error)
            for r in extractor.llm.records
        ]
        with self._lock:
            stats.calls += len(records)
            stats.prompt_tokens += outcome.facts.usage.prompt_tokens
            stats.completion_tokens += outcome.facts.usage.completion_tokens
        facts = outcome.facts
        if not outcome.cacheable and self._server is not None:
            self._server.check_alive()  # a dead server stops the batch, with its reason
        asked = extractor.llm.records
        if outcome.cacheable and asked and all(r.error for r in asked):
            facts = facts.model_copy(update={"status": "failed"})  # no question was answered
        try:
            if not outcome.cacheable or facts.status == "failed":
                err = facts.errors[-1]
                self.store.record_failure(
                    run_id=run_id, article_id=doc.id, path=doc.source.path,
                    error=err.error, message=err.message, calls=records,
                )  # fmt: skip
                return facts, "failed"
            # A partial result is stored to be seen, but it is no cache hit: the next run
            # asks again (and --refresh does for complete ones too).
            self.store.put(key, facts, run_id=run_id, calls=records)
        except StoreError as e:
            raise _Unstored(facts, e) from None  # paid for: still emit it
        self._fresh.add(key)
        return facts, "partial" if facts.status == "partial" else "extracted"

    def run(
        self,
        items: Iterable[Item],
        *,
        on_result: Callable[[ArticleFacts, Outcome, BatchStats], None] | None = None,
        on_call: Callable[[], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
        refresh: bool = False,
    ) -> Iterator[ArticleFacts]:
        """Extract every item; yield results in input order as they become ready.

        ``on_notice`` hears batch-wide events (the endpoint's breaker opens, gives up,
        recovers); ``refresh`` extracts again what the store holds (replacing it)."""
        items = list(items)
        self._stop.clear()  # stop() ends one run, not the pipeline
        self._refresh, self._fresh, self._on_notice = refresh, set(), on_notice
        self._present = {it.path for it in items if it.path is not None and it.path.exists()}
        if self._extractor is not None:
            self._extractor.llm.breaker.reset()
        prompt_version = self.prompt_version
        run_id = self.store.start_run(
            model=self.settings.model, strategy=self.strategy, prompt_version=prompt_version
        )
        self.run_id = run_id
        stats = self.stats = BatchStats()

        def work(item: Item) -> tuple[ArticleFacts, Outcome]:
            try:
                result, outcome = self._one(item, run_id, prompt_version, stats, on_call)
            except (StoreError, _Unstored):
                self._stop.set()  # nothing more can be kept: start no other article
                raise
            with self._lock:
                if outcome == "failed":
                    stats.failed += 1
                    err = result.errors[-1] if result.errors else None
                    stats.failures.append(
                        (item.label, err.error if err else "?", err.message if err else "")
                    )
                else:
                    if outcome == "cached":
                        stats.cached += 1
                    else:
                        stats.extracted += 1
                    if result.status == "partial":
                        lost = [e for e in result.errors if e.stage == "extract"]
                        last = lost[-1] if lost else None
                        stats.partial.append(
                            (
                                item.label,
                                len(lost),
                                last.error if last else "?",
                                last.message if last else "",
                            )
                        )
                    stats.warnings.extend(
                        (item.label, e.error, e.message) for e in result.errors if e.stage == "read"
                    )
            if on_result:
                on_result(result, outcome, stats)
            return result, outcome

        store_error: StoreError | None = None
        try:
            with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
                futures: list[Future[tuple[ArticleFacts, Outcome]]] = [
                    pool.submit(work, it) for it in items
                ]
                try:
                    for fut in futures:
                        # A store that fails stops the batch; what finished still comes out.
                        try:
                            yield fut.result()[0]
                        except _Stopped:
                            continue
                        except _Unstored as e:
                            store_error = store_error or e.error
                            self._stop.set()
                            yield e.result
                        except StoreError as e:
                            store_error = store_error or e
                            self._stop.set()
                finally:
                    # On Ctrl-C or an early exit: abandon the calls in flight; a write that
                    # has begun finishes (the pool waits for its worker).
                    self._stop.set()
                    for fut in futures:
                        fut.cancel()
        finally:
            with contextlib.suppress(Exception):
                self.store.finish_run(
                    run_id, ok=stats.extracted, cached=stats.cached, failed=stats.failed
                )
        if store_error is not None:
            raise store_error

    # -- for engines with their own queue (the service's workers) -------------------------

    @property
    def endpoint(self) -> str | None:
        """The LLM endpoint's base URL: ``base_url``, or the embedded server's once started."""
        if self.settings.base_url is not None:
            return self.settings.base_url
        return self._server.base_url if self._server is not None else None

    def start(self) -> None:
        """Start the endpoint now rather than at the first uncached article."""
        self._ensure_extractor()

    def one(
        self,
        item: Item,
        *,
        run_id: int,
        prompt_version: str,
        on_call: Callable[[], None] | None = None,
    ) -> tuple[ArticleFacts, Outcome] | None:
        """One item outside ``run()``, safe to call from many threads. ``None`` when
        ``stop()`` came first: nothing of the article was stored."""
        try:
            return self._one(item, run_id, prompt_version, BatchStats(), on_call)
        except _Stopped:
            return None

    # -- conveniences --------------------------------------------------------------------

    def extract(self, text: str, *, published: date | str | None = None) -> ArticleFacts:
        return next(iter(self.run([Item(text=text, published=published)])))


class _Stopped(Exception):
    """An article skipped because the batch is stopping."""


class _Unstored(Exception):
    """An article extracted (and paid for) whose result the store could not take."""

    def __init__(self, result: ArticleFacts, error: StoreError) -> None:
        super().__init__(str(error))
        self.result, self.error = result, error


def extract(
    text: str, *, published: date | str | None = None, settings: Settings | None = None
) -> ArticleFacts:
    """Extract the facts of one article text. Starts (and stops) the embedded model if needed."""
    with Pipeline(settings) as p:
        return p.extract(text, published=published)


def extract_many(
    inputs: Iterable[str | Path],
    *,
    settings: Settings | None = None,
    published: date | str | None = None,
) -> list[ArticleFacts]:
    """Extract many articles: ``Path`` items are files, ``str`` items are article texts."""
    items = [
        Item(path=x, published=published)
        if isinstance(x, Path)
        else Item(text=x, published=published)
        for x in inputs
    ]
    with Pipeline(settings) as p:
        return list(p.run(items))
