"""``factx.Client``: a small Python client of ``factx serve`` over httpx.

    >>> with factx.Client("http://127.0.0.1:8000", api_key=key) as c:   # doctest: +SKIP
    ...     job = c.submit([{"text": text, "published": "2024-05-16", "id": "a1"}])
    ...     c.wait(job, progress=print)
    ...     facts = c.results(job)

Every error answer becomes a ``ServiceError`` subclass (see ``_errors``); a service that
cannot be reached is ``ServiceUnavailableError``. Imports only ``_schemas`` and ``_errors``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from types import TracebackType
from typing import Any

import httpx

from ._errors import (
    AuthenticationError,
    InvalidRequestError,
    LimitExceededError,
    NotFoundError,
    ServiceError,
    ServiceUnavailableError,
)
from ._schemas import ArticleFacts, CrossCheckReport

FINAL_STATES = frozenset({"succeeded", "partial", "failed", "cancelled"})
Article = str | Mapping[str, Any]


def _article(a: Article) -> dict[str, Any]:
    if isinstance(a, str):
        return {"text": a}
    out = dict(a)
    if isinstance(out.get("published"), date):
        out["published"] = out["published"].isoformat()
    return out


class Client:
    """``base_url`` is the service's root (``http://127.0.0.1:8000``), not ``/v1``."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        timeout: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- HTTP ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            r = self._http.request(method, path, **kwargs)
        except httpx.TransportError as e:
            raise ServiceUnavailableError(
                f"cannot reach the factx service at {self._http.base_url}: {type(e).__name__}"
            ) from None
        if r.status_code < 400:
            return r
        message = f"{method} {path}: {r.status_code} {_detail(r)}"
        status = r.status_code
        if status == 401:
            raise AuthenticationError(message, status=status)
        if status == 404:
            raise NotFoundError(message, status=status)
        if status == 422:
            raise InvalidRequestError(message, status=status)
        if status in (413, 429):
            retry = r.headers.get("retry-after")
            raise LimitExceededError(
                message,
                status=status,
                retry_after=float(retry) if retry and retry.isdigit() else None,
            )
        if status >= 500:
            raise ServiceUnavailableError(message, status=status)
        raise ServiceError(message, status=status)

    # -- API -------------------------------------------------------------------------------

    def extract(
        self,
        text: str,
        *,
        published: date | str | None = None,
        id: str | None = None,
        include_flagged: bool = False,
    ) -> ArticleFacts:
        """One article, answered synchronously."""
        body = _article({"text": text, "published": published, "id": id})
        body = {k: v for k, v in body.items() if v is not None}
        r = self._request(
            "POST", "/v1/extract", json=body, params={"include_flagged": include_flagged}
        )
        return ArticleFacts.model_validate_json(r.content)

    def submit(self, articles: Iterable[Article]) -> str:
        """Queue many articles (texts, or dicts with ``text``, ``published``, ``id``);
        returns the job id once the service has stored the job."""
        lines = "".join(json.dumps(_article(a), ensure_ascii=False) + "\n" for a in articles)
        r = self._request(
            "POST",
            "/v1/jobs",
            content=lines.encode("utf-8"),
            headers={"Content-Type": "application/x-ndjson"},
        )
        return str(r.json()["job_id"])

    def status(self, job_id: str) -> dict[str, Any]:
        """``state``, ``done``, ``failed``, ``total``, ``calls``, tokens, ``errors``."""
        data: dict[str, Any] = self._request("GET", f"/v1/jobs/{job_id}").json()
        return data

    def wait(
        self,
        job_id: str,
        *,
        poll_s: float = 0.5,
        timeout: float | None = None,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the job is finished; ``progress`` sees every status read."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            st = self.status(job_id)
            if progress is not None:
                progress(st)
            if st["state"] in FINAL_STATES:
                return st
            if deadline is not None and time.monotonic() > deadline:
                raise ServiceError(f"job {job_id} is still {st['state']} after {timeout} s")
            time.sleep(poll_s)

    def results(
        self, job_id: str, *, include_flagged: bool = False, page_size: int = 500
    ) -> list[ArticleFacts]:
        """The finished articles, in input order (all pages)."""
        out: list[ArticleFacts] = []
        offset: int | None = 0
        while offset is not None:
            r = self._request(
                "GET",
                f"/v1/jobs/{job_id}/results",
                params={"offset": offset, "limit": page_size, "include_flagged": include_flagged},
            )
            out.extend(
                ArticleFacts.model_validate_json(line) for line in r.text.splitlines() if line
            )
            nxt = r.headers.get("x-next-offset")
            offset = int(nxt) if nxt else None
        return out

    def check(self, job_id: str) -> CrossCheckReport:
        r = self._request("GET", f"/v1/jobs/{job_id}/check")
        return CrossCheckReport.model_validate_json(r.content)

    def report(self, job_id: str) -> str:
        """The HTML review page."""
        return self._request("GET", f"/v1/jobs/{job_id}/report").text

    def cancel(self, job_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self._request("POST", f"/v1/jobs/{job_id}/cancel").json()
        return data


def _detail(r: httpx.Response) -> str:
    try:
        detail = r.json().get("detail")
    except ValueError:
        return r.text[:200]
    if isinstance(detail, list):  # FastAPI's validation errors: name the field
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in detail
        )
    return str(detail)
