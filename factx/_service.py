"""The HTTP face (``factx serve``): FastAPI over the durable job queue of ``_jobs``.

Like the CLI it only parses, checks keys and limits, and hands articles on, here through
the store's job tables to the engine process (``_engine.Engine``), whose one ``Pipeline``
(one LLM endpoint, started lazily, stopped with the service) serves the synchronous
``/v1/extract`` and the jobs alike. Needs the ``serve`` extra (fastapi, uvicorn).

No ``from __future__ import annotations`` here: FastAPI reads the annotations at runtime.
"""

import asyncio
import contextlib
import dataclasses
import gc
import hmac
import json
import logging
import pathlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._crosscheck import cross_check
from ._engine import Engine
from ._html import render_html
from ._jobs import JobLimitError, JobStatus, JobStore, NewArticle, ServiceSettings
from ._jobs import hash_key as _hash_key
from ._metrics import Metrics
from ._schemas import ArticleFacts, CrossCheckReport
from ._settings import Settings
from ._store import Store

log = logging.getLogger("factx.service")

_JOB_ID = re.compile(r"[0-9a-f]{32}")
_NDJSON = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# -- wire models ------------------------------------------------------------------------


class ArticleIn(BaseModel):
    """One article to extract. ``id`` is the client's own; it comes back as ``article_id``."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    published: date | None = Field(default=None, description="Publication date, YYYY-MM-DD.")
    id: str | None = Field(default=None, min_length=1)


class JobAccepted(BaseModel):
    job_id: str
    status_url: str
    results_url: str
    total: int


class JobError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq: int
    id: str | None
    error: str
    message: str


class JobOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    state: str = Field(description="queued, running, succeeded, partial, failed or cancelled")
    total: int
    done: int
    failed: int
    pending: int
    running: int
    cancelled: int
    cached: int
    calls: int
    prompt_tokens: int
    completion_tokens: int
    created_at: str
    errors: list[JobError]


# -- metrics ----------------------------------------------------------------------------


class _Instrument:
    """Counts every request by its route template (never the raw path: ids, traversal)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "other")
            self.metrics.request(scope["method"], route, status, time.perf_counter() - t0)


class _BodyLimit:
    """413 before reading a body whose declared length is over the limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope.get("headers", ()):
                if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                    await _too_large(self.limit)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"detail": f"request body is larger than {limit} bytes"},
        status_code=413,
        headers={"Connection": "close"},
    )


# -- the service ------------------------------------------------------------------------


class Service:
    """The HTTP side's state: job tables, the engine process, metrics."""

    def __init__(
        self, settings: Settings, config: ServiceSettings, *, server_log: pathlib.Path | None = None
    ) -> None:
        self.settings = settings
        self.config = config
        Store(settings.resolved_store_path).close()  # creates the store, applies migrations
        self.jobs = JobStore(settings.resolved_store_path, eager_lock=True)
        self.metrics = Metrics()
        self.engine = Engine(
            settings, workers=config.workers, server_log=server_log, on_message=self._on_message
        )
        self._waiters: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}

    def start(self) -> None:
        self.engine.start()

    def stop(self) -> None:
        self.engine.stop()
        self.jobs.close()

    def _on_message(self, msg: tuple[object, ...]) -> None:
        if msg[0] != "article":
            return
        _, job_id, outcome, seconds = msg
        self.metrics.article(outcome, float(seconds))  # type: ignore[arg-type]
        waiter = self._waiters.get(str(job_id))
        if waiter is not None:
            loop, event = waiter
            loop.call_soon_threadsafe(event.set)

    def authenticate(self, header: str | None) -> str:
        """The owner of a request: the hash of its key, ``-`` when no keys are configured."""
        if not self.config.key_hashes:
            return "-"
        scheme, _, key = (header or "").partition(" ")
        digest = _hash_key(key.strip()) if scheme.lower() == "bearer" and key.strip() else ""
        ok = False
        for known in self.config.key_hashes:  # no early exit: same time whichever matches
            ok |= hmac.compare_digest(digest.encode(), known.encode())
        if not ok:
            raise HTTPException(
                401, "missing or wrong API key", headers={"WWW-Authenticate": "Bearer"}
            )
        return digest

    async def extract_one(self, owner: str, a: ArticleIn) -> ArticleFacts:
        """A one-article job ahead of the queue; waits for the engine to finish it."""
        if not self.engine.alive:
            raise HTTPException(503, "the extraction engine is not running")
        new = NewArticle(a.text, a.published.isoformat() if a.published else None, a.id)
        job_id = await run_in_threadpool(
            self.jobs.create, owner, [new], max_in_flight=None, priority=1
        )
        event = asyncio.Event()
        self._waiters[job_id] = (asyncio.get_running_loop(), event)
        try:
            self.engine.wake()
            while True:
                # The engine tells us when it is done; the poll is a fallback.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), 1.0)
                event.clear()
                rows = await run_in_threadpool(self.jobs.results, job_id)
                if rows:
                    return rows[0]
                if not self.engine.alive:
                    raise HTTPException(503, "the extraction engine stopped")
        finally:
            del self._waiters[job_id]

    def scrape(self) -> str:
        if self.engine.run_id:
            rows = self.jobs.calls_since(self.engine.run_id, self.metrics.last_call_id)
            self.metrics.calls(rows)
        return self.metrics.render(self.jobs.job_states(), self.jobs.pending_total())


def _job_json(st: JobStatus) -> Response:
    """``JobOut`` as JSON, without validating what the job tables just gave (hot path)."""
    return Response(json.dumps(dataclasses.asdict(st)), media_type="application/json")


def _service(request: Request) -> Service:
    svc: Service = request.app.state.factx
    return svc


# The light handlers and their dependencies are ``async``: they run on the event loop
# (one SQLite read of a few rows, on its own connection) instead of each taking a thread
# of the pool. Under load, a crowd of pool threads would also take CPU from the engine.


async def _owner(request: Request) -> str:
    return _service(request).authenticate(request.headers.get("authorization"))


Owner = Annotated[str, Depends(_owner)]


async def _job(
    request: Request,
    owner: Owner,
    job_id: Annotated[str, PathParam(max_length=64, description="The id POST /v1/jobs gave.")],
) -> str:
    """The job, if it exists and belongs to this key; 404 otherwise (never says which)."""
    if not _JOB_ID.fullmatch(job_id) or _service(request).jobs.owner_of(job_id) != owner:
        raise HTTPException(404, "no such job")
    return job_id


JobId = Annotated[str, Depends(_job)]


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, read up to ``limit`` bytes (a chunked upload has no declared length)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _invalid(errors: list[dict[str, Any]]) -> RequestValidationError:
    return RequestValidationError(errors)


def _parse_article(raw: Any, loc: tuple[str | int, ...], config: ServiceSettings) -> ArticleIn:
    try:
        a = ArticleIn.model_validate(raw)
    except ValidationError as e:
        raise _invalid(
            [
                {"loc": (*loc, *err["loc"]), "msg": err["msg"], "type": err["type"]}
                for err in e.errors(include_url=False, include_input=False)
            ]
        ) from None
    where = ".".join(str(p) for p in loc)
    if len(a.text) > config.max_article_chars:
        raise HTTPException(
            413, f"{where}.text: {len(a.text)} characters, limit {config.max_article_chars}"
        )
    if a.id is not None and len(a.id) > config.max_id_chars:
        raise _invalid(
            [
                {
                    "loc": (*loc, "id"),
                    "msg": f"at most {config.max_id_chars} characters",
                    "type": "string_too_long",
                }
            ]
        )
    return a


def _json(body: bytes, loc: tuple[str | int, ...]) -> Any:
    try:
        return json.loads(body)
    except ValueError as e:
        raise _invalid([{"loc": loc, "msg": f"not JSON: {e}", "type": "json_invalid"}]) from None


def _parse_articles(body: bytes, content_type: str, config: ServiceSettings) -> list[ArticleIn]:
    if content_type.split(";")[0].strip().lower() in _NDJSON:
        lines = [(n, line) for n, line in enumerate(body.split(b"\n")) if line.strip()]
        raws = [(n, _json(line, ("body", n))) for n, line in lines]
    else:
        data = _json(body, ("body",))
        if not isinstance(data, list):
            raise _invalid(
                [{"loc": ("body",), "msg": "expected a JSON list of articles", "type": "list_type"}]
            )
        raws = list(enumerate(data))
    if not raws:
        raise _invalid([{"loc": ("body",), "msg": "no articles", "type": "too_short"}])
    if len(raws) > config.max_articles_per_job:
        raise HTTPException(
            413, f"body: {len(raws)} articles, limit {config.max_articles_per_job} per job"
        )
    return [_parse_article(raw, ("body", n), config) for n, raw in raws]


def _article_schema() -> dict[str, Any]:
    return ArticleIn.model_json_schema()


def create_app(
    settings: Settings, config: ServiceSettings, *, server_log: pathlib.Path | None = None
) -> FastAPI:
    """The ASGI app. Its lifespan starts and stops the engine process (and so the model)."""
    service = Service(settings, config, server_log=server_log)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # In the event loop's thread, which lives as long as the service: the engine is
        # killed when the thread that started it ends.
        service.start()
        try:
            yield
        finally:
            await run_in_threadpool(service.stop)

    app = FastAPI(
        title="factx",
        summary="Grounded facts from German news: meetings, statements, treaties, trade.",
        version="1",
        lifespan=lifespan,
    )
    app.state.factx = service
    add_routes(app)
    app.add_middleware(_BodyLimit, limit=config.max_body_bytes)
    app.add_middleware(_Instrument, metrics=service.metrics)
    return app


def add_routes(app: FastAPI) -> None:
    one_body = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _article_schema()}},
        }
    }
    many_body = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": _article_schema()}},
                "application/x-ndjson": {
                    "schema": {"type": "string", "description": "one article object a line"}
                },
            },
        }
    }

    @app.post("/v1/extract", response_model=ArticleFacts, openapi_extra=one_body)
    async def extract(request: Request, owner: Owner, include_flagged: bool = False) -> Response:
        """Extract one article and answer with its facts (synchronously)."""
        svc = _service(request)
        body = await _read_body(request, svc.config.max_body_bytes)
        article = _parse_article(_json(body, ("body",)), ("body",), svc.config)
        result = await svc.extract_one(owner, article)
        out = result if include_flagged else result.validated()
        return Response(out.model_dump_json(), media_type="application/json")

    @app.post("/v1/jobs", status_code=202, response_model=JobAccepted, openapi_extra=many_body)
    async def submit(request: Request, owner: Owner) -> JSONResponse:
        """Queue many articles (a JSON list, or NDJSON). The job is stored before 202."""
        svc = _service(request)
        body = await _read_body(request, svc.config.max_body_bytes)
        articles = _parse_articles(body, request.headers.get("content-type", ""), svc.config)
        new = [
            NewArticle(a.text, a.published.isoformat() if a.published else None, a.id)
            for a in articles
        ]
        try:
            job_id = await run_in_threadpool(
                svc.jobs.create, owner, new, max_in_flight=svc.config.max_jobs_in_flight
            )
        except JobLimitError as e:
            raise HTTPException(
                429,
                f"too many unfinished jobs for this key: {e}",
                headers={"Retry-After": str(svc.config.retry_after_s)},
            ) from None
        svc.engine.wake()
        status_url = f"/v1/jobs/{job_id}"
        accepted = JobAccepted(
            job_id=job_id, status_url=status_url, results_url=status_url + "/results",
            total=len(new),
        )  # fmt: skip
        return JSONResponse(
            accepted.model_dump(), status_code=202, headers={"Location": status_url}
        )

    @app.get("/v1/jobs/{job_id}", response_model=JobOut)
    async def status(request: Request, job_id: JobId) -> Response:
        """State, articles done/failed/total, tokens and calls so far, errors."""
        st = _service(request).jobs.status(job_id)
        if st is None:
            raise HTTPException(404, "no such job")
        return _job_json(st)

    @app.get(
        "/v1/jobs/{job_id}/results",
        responses={200: {"content": {"application/x-ndjson": {}}}},
        response_class=Response,
    )
    def results(
        request: Request,
        job_id: JobId,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        include_flagged: bool = False,
    ) -> Response:
        """Finished articles whose input position is in [offset, offset + limit), as NDJSON
        of ArticleFacts in input order. ``X-Next-Offset`` is the next page's offset."""
        svc = _service(request)
        st = svc.jobs.status(job_id)
        rows = svc.jobs.results(job_id, offset=offset, limit=limit)
        body = "".join(
            (r if include_flagged else r.validated()).model_dump_json() + "\n" for r in rows
        )
        headers = {"X-Total-Count": str(st.total if st else 0)}
        if st is not None and offset + limit < st.total:
            headers["X-Next-Offset"] = str(offset + limit)
        return Response(body, media_type="application/x-ndjson", headers=headers)

    @app.post("/v1/jobs/{job_id}/cancel", response_model=JobOut)
    def cancel(request: Request, job_id: JobId) -> Response:
        """Cancel the articles not yet started; those in flight finish."""
        svc = _service(request)
        svc.jobs.cancel(job_id)
        st = svc.jobs.status(job_id)
        assert st is not None
        return _job_json(st)

    def _checked(svc: Service, job_id: str) -> tuple[list[ArticleFacts], CrossCheckReport]:
        results = [r.validated() for r in svc.jobs.results(job_id) if r.status != "failed"]
        return results, cross_check(results)

    @app.get("/v1/jobs/{job_id}/check", response_model=CrossCheckReport)
    def check(request: Request, job_id: JobId) -> Response:
        """Cross-check the verified facts of the job's finished articles."""
        _, report = _checked(_service(request), job_id)
        return Response(report.model_dump_json(), media_type="application/json")

    @app.get("/v1/jobs/{job_id}/report", response_class=HTMLResponse)
    def report(request: Request, job_id: JobId) -> HTMLResponse:
        """The HTML review page: evidence highlighted, findings linked to their spans."""
        results, rep = _checked(_service(request), job_id)
        return HTMLResponse(render_html(results, rep, title=f"factx job {job_id}"))

    @app.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        """The process answers and its extraction engine runs."""
        engine = _service(request).engine
        if not engine.alive:
            return JSONResponse({"status": "engine stopped"}, status_code=503)
        return JSONResponse({"status": "ok", "engine_pid": engine.pid})

    @app.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        """Ready once the model endpoint answers; asking starts the embedded model."""
        svc = _service(request)
        if not svc.engine.alive:
            return JSONResponse({"ready": False, "reason": "engine stopped"}, status_code=503)
        if not svc.engine.ready.is_set():
            return JSONResponse({"ready": False, "reason": "engine starting"}, status_code=503)
        endpoint = svc.engine.endpoint
        if endpoint is None:
            svc.engine.start_model()
            reason = svc.engine.start_error or "starting the embedded model"
            return JSONResponse({"ready": False, "reason": reason}, status_code=503)
        headers = {}
        if svc.settings.api_key:
            headers["Authorization"] = f"Bearer {svc.settings.api_key}"
        try:
            async with httpx.AsyncClient(timeout=3.0) as client:
                r = await client.get(endpoint.rstrip("/") + "/models", headers=headers)
        except httpx.ReadTimeout:
            # Connected, no answer in time. A llama.cpp server answers nothing while it
            # generates, so with our articles in flight that is the model at work (seen
            # with the embedded model: not ready for as long as a job ran). Idle, it is not.
            if await run_in_threadpool(svc.jobs.running_total):
                return JSONResponse({"ready": True, "model": "busy"})
            reason = "model endpoint accepted the connection but did not answer in 3 s"
            return JSONResponse({"ready": False, "reason": reason}, status_code=503)
        except httpx.HTTPError as e:
            reason = f"model endpoint unreachable: {type(e).__name__}"
            return JSONResponse({"ready": False, "reason": reason}, status_code=503)
        if r.status_code != 200:
            reason = f"model endpoint answered {r.status_code}"
            return JSONResponse({"ready": False, "reason": reason}, status_code=503)
        return JSONResponse({"ready": True})

    @app.get("/metrics", response_class=Response)
    def metrics(request: Request) -> Response:
        """Prometheus text format: requests, articles, LLM calls, tokens, latencies."""
        text = _service(request).scrape()
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")


def serve(
    settings: Settings,
    config: ServiceSettings,
    *,
    server_log: pathlib.Path | None = None,
    log_level: str = "info",
) -> None:
    """Run the service until SIGINT/SIGTERM; unfinished jobs resume at the next start."""
    import uvicorn

    app = create_app(settings, config, server_log=server_log)
    # The process is the service's own: its ~160k objects of imported modules are frozen
    # out of the cyclic collector, whose full passes over them stopped every request for
    # some 100 ms (measured in a burst of 100 POSTs). A library that embeds create_app
    # keeps its own collector settings.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app, host=config.host, port=config.port, log_level=log_level, access_log=False,
        timeout_graceful_shutdown=10,
    )  # fmt: skip
