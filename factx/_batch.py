"""Batch extraction: the embedded server's lifetime, the cache, concurrency and resume.

``Pipeline`` owns one LLM endpoint (the embedded llama.cpp server, or ``base_url``) and one
store. An article whose cache key (text hash, model, strategy, prompt and schema version)
is in the store is answered from it with zero LLM calls; that is also how a killed run
resumes. Results come back in input order whatever the concurrency.
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
from typing import Any, Literal

import instructor

from ._client import LLM, make_client
from ._errors import FactxError, InputError
from ._extract import Extractor
from ._local import LocalServer, assemble_default_gguf
from ._read import read_document, read_text_document
from ._schemas import SCHEMA_VERSION, ArticleError, ArticleFacts, Document, Source
from ._settings import Settings
from ._store import Store, cache_key

Outcome = Literal["extracted", "cached", "failed"]


@dataclass
class BatchStats:
    extracted: int = 0
    cached: int = 0
    failed: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)

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


def failed_result(article_id: str, err: FactxError, *, stage: str, source: Source) -> ArticleFacts:
    """The JSON line for an article that could not be extracted: no text, one error."""
    return ArticleFacts(
        article_id=article_id,
        text_sha256="",
        text="",
        source=source,
        status="failed",
        errors=(
            ArticleError(stage=stage, error=type(err).__name__, message=str(err)),  # type: ignore[arg-type]
        ),
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
    ) -> None:
        self.settings = settings or Settings()
        self._own_store = store is None
        self.store = store or Store(self.settings.resolved_store_path)
        self._client = client
        self._server: LocalServer | None = None
        self._server_log = server_log
        self._extractor: Extractor | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

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
            self._extractor = Extractor(LLM(client, settings), settings)
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
        """Finish the articles in flight, start no new ones."""
        self._stop.set()

    # -- keys --------------------------------------------------------------------------

    @property
    def strategy(self) -> str:
        return self.settings.resolved_strategy()

    @property
    def prompt_version(self) -> str:
        from ._extract import load_prompts

        return load_prompts().version_for(self.strategy)

    def key_for(self, doc: Document, prompt_version: str) -> str:
        return cache_key(
            doc.sha256, self.settings.model, self.strategy, prompt_version, SCHEMA_VERSION
        )

    # -- work --------------------------------------------------------------------------

    def _read(self, item: Item) -> Document:
        if item.path is not None:
            pub = date.fromisoformat(str(item.published)) if item.published else None
            return read_document(item.path, published=pub)
        return read_text_document(item.text or "", doc_id=item.article_id, published=item.published)

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
            self.store.record_failure(
                run_id=run_id, article_id=article_id, path=source.path,
                error=type(e).__name__, message=str(e),
            )  # fmt: skip
            return failed_result(article_id, e, stage="read", source=source), "failed"
        key = self.key_for(doc, prompt_version)
        cached = self.store.get(key)
        if cached is not None:
            return cached, "cached"
        if self._stop.is_set():
            raise _Stopped()
        extractor = self._ensure_extractor()
        outcome = extractor.extract(doc, on_call=on_call)
        records = [
            (r.question, r.prompt_tokens, r.completion_tokens, r.latency_s, r.attempts, r.error)
            for r in extractor.llm.records
        ]
        with self._lock:
            stats.calls += len(records)
            stats.prompt_tokens += outcome.facts.usage.prompt_tokens
            stats.completion_tokens += outcome.facts.usage.completion_tokens
        if not outcome.cacheable:
            err = outcome.facts.errors[-1]
            self.store.record_failure(
                run_id=run_id, article_id=doc.id, path=doc.source.path,
                error=err.error, message=err.message, calls=records,
            )  # fmt: skip
            return outcome.facts, "failed"
        self.store.put(key, outcome.facts, run_id=run_id, calls=records)
        return outcome.facts, "extracted"

    def run(
        self,
        items: Iterable[Item],
        *,
        on_result: Callable[[ArticleFacts, Outcome, BatchStats], None] | None = None,
        on_call: Callable[[], None] | None = None,
    ) -> Iterator[ArticleFacts]:
        """Extract every item; yield results in input order as they become ready."""
        items = list(items)
        prompt_version = self.prompt_version
        run_id = self.store.start_run(
            model=self.settings.model, strategy=self.strategy, prompt_version=prompt_version
        )
        self.run_id = run_id
        stats = self.stats = BatchStats()

        def work(item: Item) -> tuple[ArticleFacts, Outcome]:
            result, outcome = self._one(item, run_id, prompt_version, stats, on_call)
            with self._lock:
                if outcome == "failed":
                    stats.failed += 1
                    err = result.errors[-1] if result.errors else None
                    stats.failures.append(
                        (item.label, err.error if err else "?", err.message if err else "")
                    )
                else:
                    setattr(stats, outcome, getattr(stats, outcome) + 1)
            if on_result:
                on_result(result, outcome, stats)
            return result, outcome

        try:
            with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
                futures: list[Future[tuple[ArticleFacts, Outcome]]] = [
                    pool.submit(work, it) for it in items
                ]
                try:
                    for fut in futures:
                        try:
                            yield fut.result()[0]
                        except _Stopped:
                            continue
                finally:
                    # On Ctrl-C or an early exit: let running articles finish their write.
                    self._stop.set()
                    for fut in futures:
                        fut.cancel()
        finally:
            with contextlib.suppress(Exception):
                self.store.finish_run(
                    run_id, ok=stats.extracted, cached=stats.cached, failed=stats.failed
                )

    # -- conveniences --------------------------------------------------------------------

    def extract(self, text: str, *, published: date | str | None = None) -> ArticleFacts:
        return next(iter(self.run([Item(text=text, published=published)])))


class _Stopped(Exception):
    """An article skipped because the batch is stopping."""


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
