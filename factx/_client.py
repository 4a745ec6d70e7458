"""One instructor client factory, and the retrying, budget-keeping caller around it.

Two retry layers, never multiplied: instructor re-asks on validation errors (bounded by
``max_validation_retries``); tenacity retries transport errors (timeouts, resets, 429, 5xx)
with jittered exponential backoff that honours ``Retry-After``. The openai client's own
``max_retries`` is 0.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import httpx
import instructor
import openai
from instructor.core import InstructorRetryException
from pydantic import BaseModel, ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from ._errors import BadModelOutputError, BudgetExceededError, ModelError, TransportError
from ._settings import Settings

T = TypeVar("T", bound=BaseModel)

_BACKOFF = wait_exponential_jitter(multiplier=0.5, max=20.0)

# Local servers ignore the key but the openai client insists on one.
_PLACEHOLDER_KEY = "sk-no-key-required"


class SchemaFormatTransport(httpx.BaseTransport):
    """Sends ``response_format`` as OpenAI's ``json_schema``; falls back to the older
    ``{"type": "json_object", "schema": …}`` for servers that only know that form.

    llama-cpp-python's server rejects ``json_schema`` (with a 500 naming the allowed types),
    while OpenAI, vLLM, Ollama and llama.cpp's own server take it. The switch happens once
    per client, on that specific answer, so other 5xx still reach the retry layer.
    """

    def __init__(self, inner: httpx.BaseTransport | None = None, *, legacy: bool = False):
        self.inner = inner or httpx.HTTPTransport()
        self.legacy = legacy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = _json_body(request)
        rf = body.get("response_format") if body else None
        if body is None or not (isinstance(rf, dict) and rf.get("type") == "json_schema"):
            return self.inner.handle_request(request)
        if self.legacy:
            return self.inner.handle_request(_as_json_object(request, body))
        response = self.inner.handle_request(request)
        if response.status_code in (400, 422, 500):
            response.read()
            if "json_object" in response.text and "json_schema" in response.text:
                response.close()
                self.legacy = True
                return self.inner.handle_request(_as_json_object(request, body))
        return response

    def close(self) -> None:
        self.inner.close()


def _json_body(request: httpx.Request) -> dict[str, Any] | None:
    if "json" not in request.headers.get("content-type", ""):
        return None
    try:
        body = json.loads(request.content)
    except (ValueError, httpx.RequestNotRead):
        return None
    return body if isinstance(body, dict) else None


def _as_json_object(request: httpx.Request, body: dict[str, Any]) -> httpx.Request:
    schema = body["response_format"].get("json_schema", {}).get("schema", {})
    new = {**body, "response_format": {"type": "json_object", "schema": schema}}
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    return httpx.Request(request.method, request.url, headers=headers, json=new)


def make_client(settings: Settings, base_url: str) -> instructor.Instructor:
    """``instructor.from_openai(OpenAI(base_url=…, api_key=…), mode=…)`` for any endpoint."""
    client = openai.OpenAI(
        base_url=base_url,
        api_key=settings.api_key or _PLACEHOLDER_KEY,
        max_retries=0,
        timeout=settings.timeout,
        # openai accepts a plain httpx client; vcrpy records through it in the tests.
        http_client=cast(
            Any,
            httpx.Client(
                transport=SchemaFormatTransport(),
                timeout=httpx.Timeout(settings.timeout, connect=10.0),
            ),
        ),
    )
    mode = {
        "json_schema": instructor.Mode.JSON_SCHEMA,
        "tools": instructor.Mode.TOOLS,
        "json": instructor.Mode.JSON,
    }[settings.resolved_mode()]
    return instructor.from_openai(client, mode=mode)


def _transport_cause(exc: BaseException) -> BaseException | None:
    """The openai/httpx transport error behind ``exc``, if that is what it is."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, openai.APIStatusError):
            return cur if cur.status_code == 429 or cur.status_code >= 500 else None
        if isinstance(cur, openai.APIConnectionError | httpx.TransportError):
            return cur  # APITimeoutError is a subclass of APIConnectionError
        cur = cur.__cause__ or cur.__context__
    return None


def _rejection(exc: BaseException) -> openai.APIStatusError | None:
    cur: BaseException | None = exc
    while cur is not None:
        if isinstance(cur, openai.APIStatusError):
            return cur
        cur = cur.__cause__
    return None


def _retry_after(exc: BaseException | None) -> float | None:
    if isinstance(exc, openai.APIStatusError):
        value = exc.response.headers.get("retry-after")
        if value:
            try:
                return min(float(value), 60.0)
            except ValueError:
                return None
    return None


@dataclass
class CallStats:
    """Counters for one article; filled by the instructor hook on every raw response."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    latency_s: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class CallRecord:
    question: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    attempts: int
    error: str | None


class LLM:
    """Asks one structured question; keeps per-article token accounts and the budget."""

    def __init__(
        self,
        client: instructor.Instructor,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.settings = settings
        self._sleep = sleep
        self._local = threading.local()
        client.on("completion:response", self._on_response)

    # Per-thread, because the batch may run articles on several threads.
    @property
    def stats(self) -> CallStats:
        s: CallStats | None = getattr(self._local, "stats", None)
        if s is None:
            s = self._local.stats = CallStats()
        return s

    @property
    def records(self) -> list[CallRecord]:
        r: list[CallRecord] | None = getattr(self._local, "records", None)
        if r is None:
            r = self._local.records = []
        return r

    def reset(self) -> None:
        self._local.stats = CallStats()
        self._local.records = []

    def _on_response(self, response: Any) -> None:
        usage = getattr(response, "usage", None)
        st = self.stats
        st.calls += 1
        if usage is not None:
            st.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
            st.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)

    def ask(
        self,
        response_model: type[T],
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 256,
        label: str = "",
    ) -> T:
        st = self.stats
        remaining = self.settings.token_budget - st.tokens
        if remaining <= 0:
            raise BudgetExceededError(
                f"token budget of {self.settings.token_budget} per article is spent"
            )
        before = (st.prompt_tokens, st.completion_tokens)
        started = time.monotonic()
        attempts = 0

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            hinted = _retry_after(_transport_cause(exc) if exc else None)
            base = _BACKOFF(state)
            return max(hinted, base) if hinted is not None else base

        retrying = Retrying(
            stop=stop_after_attempt(self.settings.max_transport_attempts),
            wait=wait,
            retry=retry_if_exception(lambda e: _transport_cause(e) is not None),
            sleep=self._sleep,
            reraise=True,
        )
        error: str | None = None
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    if attempts > 1:
                        st.retries += 1
                    return self._create(response_model, messages, max_tokens)
        except BudgetExceededError as e:
            error = type(e).__name__
            raise
        except BadModelOutputError as e:
            error = type(e).__name__
            raise BadModelOutputError(
                f"{label or 'LLM call'}: model output stayed invalid: {_short(e)}"
            ) from None
        except Exception as e:
            cause = _transport_cause(e)
            error = type(cause or e).__name__
            if cause is None:
                raise
            raise TransportError(
                f"{label or 'LLM call'} failed after {attempts} attempts: "
                f"{type(cause).__name__}: {_short(cause)}"
            ) from None
        finally:
            self.records.append(
                CallRecord(
                    question=label,
                    prompt_tokens=st.prompt_tokens - before[0],
                    completion_tokens=st.completion_tokens - before[1],
                    latency_s=time.monotonic() - started,
                    attempts=attempts,
                    error=error,
                )
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _create(
        self, response_model: type[T], messages: list[dict[str, str]], max_tokens: int
    ) -> T:
        remaining = self.settings.token_budget - self.stats.tokens
        if remaining <= 0:
            raise BudgetExceededError(
                f"token budget of {self.settings.token_budget} per article is spent"
            )
        try:
            result = self.client.chat.completions.create(
                model=self.settings.model,
                response_model=response_model,
                messages=messages,  # type: ignore[arg-type]
                max_retries=self.settings.max_validation_retries,
                max_tokens=max_tokens,
                temperature=self.settings.temperature,
                seed=self.settings.seed,
            )
        except InstructorRetryException as e:
            if _transport_cause(e) is not None:
                raise
            rejected = _rejection(e)
            if rejected is not None:
                # 4xx: the endpoint refuses the request itself (key, model name, size).
                raise ModelError(
                    f"the endpoint rejected the request: HTTP {rejected.status_code} "
                    f"{type(rejected).__name__}: {_short(rejected)}"
                ) from None
            raise BadModelOutputError(_short(e)) from e
        except (ValidationError, json.JSONDecodeError) as e:
            raise BadModelOutputError(_short(e)) from e
        if self.stats.tokens > self.settings.token_budget:
            raise BudgetExceededError(
                f"token budget of {self.settings.token_budget} per article exceeded"
            )
        return result


_KEYLIKE = re.compile(r"\b(sk-|Bearer\s+)[A-Za-z0-9._*-]{6,}")


def _short(e: BaseException, limit: int = 200) -> str:
    # Error texts of some endpoints echo part of the key; never pass that on.
    text = _KEYLIKE.sub(r"\1***", " ".join(str(e).split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"
