"""The retrying, budget-keeping caller around an instructor client (``_transport`` makes it).

Two retry layers, never multiplied: instructor re-asks on validation errors (bounded by
``max_validation_retries``); tenacity retries transport errors (timeouts, resets, 429, 5xx)
with jittered exponential backoff that honours ``Retry-After``. The openai client's own
``max_retries`` is 0. Above them, one ``_breaker.Breaker`` per endpoint shares the waits
across workers and pauses, probes or gives up when the endpoint keeps failing. Given the
batch's stop event, a wait or a call in flight is abandoned as soon as it is set.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from ._breaker import POLL_S, Breaker, Interrupted, retry_after_of, short_error
from ._errors import (
    BadModelOutputError,
    BudgetExceededError,
    FactxError,
    ModelError,
    TransportError,
)
from ._settings import Settings
from ._transport import MalformedResponseError

if TYPE_CHECKING:
    import instructor
    import openai

T = TypeVar("T", bound=BaseModel)

log = logging.getLogger("factx")

_BACKOFF = wait_exponential_jitter(multiplier=0.5, max=20.0)


def _transport_cause(exc: BaseException) -> BaseException | None:
    """The openai/httpx transport error behind ``exc``, if that is what it is."""
    import openai

    seen: set[int] = set()
    cur: BaseException | None = exc
    found: BaseException | None = None
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, MalformedResponseError):
            return cur  # says more than the "Connection error." openai wraps it in
        if found is None and isinstance(cur, openai.APIStatusError):
            if not (cur.status_code == 429 or cur.status_code >= 500):
                return None
            found = cur
        elif found is None and isinstance(cur, openai.APIConnectionError | httpx.TransportError):
            found = cur  # APITimeoutError is a subclass of APIConnectionError
        cur = cur.__cause__ or cur.__context__
    return found


def _rejection(exc: BaseException) -> openai.APIStatusError | None:
    import openai

    cur: BaseException | None = exc
    while cur is not None:
        if isinstance(cur, openai.APIStatusError):
            return cur
        cur = cur.__cause__
    return None


class _RedactKey(logging.Filter):
    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if self.secret in msg:
            record.msg, record.args = msg.replace(self.secret, "***"), None
        return True


_REDACTED: set[str] = set()


def redact_in_logs(secret: str) -> None:
    """Blank ``secret`` in what factx, instructor, openai and httpx log: instructor logs
    every failed call with the server's error text, which a careless server fills with
    the request's key."""
    if secret in _REDACTED:
        return
    _REDACTED.add(secret)
    import instructor.v2.core.retry  # noqa: F401  (its loggers exist from here on)

    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in _LOGGERS]
    for name in {*_LOGGERS, *names}:
        logging.getLogger(name).addFilter(_RedactKey(secret))


_LOGGERS = ("factx", "instructor", "openai", "httpx", "httpcore")


class AnswerCache(Protocol):
    """Where answers are kept by their request (the store implements it)."""

    def get_answer(self, key: str) -> str | None: ...

    def put_answer(
        self,
        key: str,
        question: str,
        response_json: str,
        prompt_tokens: int,
        completion_tokens: int,
    ) -> None: ...


@functools.lru_cache(maxsize=512)
def _schema_of(model: type[BaseModel]) -> str:
    # Answer models are themselves cached per article, so this is computed once per shape.
    return json.dumps(model.model_json_schema(), sort_keys=True)


def answer_key(
    settings: Settings, model: type[BaseModel], messages: list[dict[str, str]], max_tokens: int
) -> str:
    """Everything an answer depends on: endpoint model, sampling, messages and schema."""
    request = {
        "model": settings.model,
        "temperature": settings.temperature,
        "seed": settings.seed,
        "max_tokens": max_tokens,
        "messages": messages,
        "schema": _schema_of(model),
    }
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


@dataclass
class CallStats:
    """Counters for one article; filled by the instructor hook on every raw response."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    latency_s: float = 0.0
    cached_answers: int = 0
    # Prompt tokens the server took from its prefix cache, where it says so (OpenAI, vLLM,
    # llama.cpp's server: usage.prompt_tokens_details.cached_tokens).
    cached_prompt_tokens: int = 0

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
        answers: AnswerCache | None = None,
        stop: threading.Event | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        """``stop``: when set, waits and calls in flight are abandoned (``Interrupted``)
        within ``POLL_S``; ``notify`` hears the breaker's changes of state."""
        self.client = client
        self.settings = settings
        self.answers = answers
        # True: ask again and overwrite what the answer cache holds (--refresh).
        self.refresh = False
        self._sleep = sleep
        self._stop = stop
        self._local = threading.local()
        endpoint = getattr(getattr(client, "client", None), "base_url", None)
        self.breaker = Breaker(
            str(endpoint or "the endpoint").rstrip("/"),
            threshold=settings.breaker_threshold,
            pauses=settings.breaker_pauses,
            sleep_for=self._sleep_for,
            stopped=lambda: stop is not None and stop.is_set(),
            notify=notify,
            secret=settings.api_key,
        )
        client.on("completion:response", self._on_response)
        if settings.api_key:
            redact_in_logs(settings.api_key)

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
            details = getattr(usage, "prompt_tokens_details", None)
            st.cached_prompt_tokens += int(getattr(details, "cached_tokens", 0) or 0)

    def ask(
        self,
        response_model: type[T],
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 256,
        label: str = "",
    ) -> T:
        """One structured answer. Raises ``TransportError`` after ``max_transport_attempts``,
        ``BadModelOutputError`` after ``max_validation_retries`` re-asks, and
        ``BudgetExceededError`` once the article's ``token_budget`` is spent.

        With an answer cache, a request asked before is answered from it, without a call."""
        key = None
        if self.answers is not None:
            key = answer_key(self.settings, response_model, messages, max_tokens)
            hit = None if self.refresh else self.answers.get_answer(key)
            if hit is not None:
                try:
                    answer = response_model.model_validate_json(hit)
                except ValidationError:
                    pass  # a stale shape: ask again and overwrite it
                else:
                    self.stats.cached_answers += 1
                    return answer
        try:
            st = self.stats
            before = (st.prompt_tokens, st.completion_tokens)
            answer = self._ask(response_model, messages, max_tokens=max_tokens, label=label)
            if self.answers is not None and key is not None:
                self.answers.put_answer(
                    key,
                    label,
                    answer.model_dump_json(),
                    st.prompt_tokens - before[0],
                    st.completion_tokens - before[1],
                )
            return answer
        except FactxError as e:
            # A careless endpoint may quote the request's key back in its error text.
            key = self.settings.api_key
            if key and key in str(e):
                raise type(e)(str(e).replace(key, "***")) from None
            raise

    def _ask(
        self,
        response_model: type[T],
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        label: str,
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
            hinted = retry_after_of(_transport_cause(exc) if exc else None)
            base = _BACKOFF(state)
            return max(hinted, base) if hinted is not None else base

        def before_sleep(state: RetryCallState) -> None:
            # Here, not in ``wait``: tenacity computes a wait after the last attempt too.
            exc = state.outcome.exception() if state.outcome else None
            log.info(
                "%s: attempt %d failed (%s); retrying in %.1f s",
                label or "LLM call",
                state.attempt_number,
                type(_transport_cause(exc) if exc else exc).__name__,
                state.upcoming_sleep,
            )

        retrying = Retrying(
            stop=stop_after_attempt(self.settings.max_transport_attempts),
            wait=wait,
            retry=retry_if_exception(lambda e: _transport_cause(e) is not None),
            sleep=self.breaker.wait,  # one backoff for all workers, cut short by stop
            before_sleep=before_sleep,
            reraise=True,
        )
        error: str | None = None
        try:
            for attempt in retrying:
                with attempt:
                    self.breaker.before_call()
                    attempts += 1
                    if attempts > 1:
                        st.retries += 1
                    return self._call(response_model, messages, max_tokens)
        except BudgetExceededError as e:
            error = type(e).__name__
            raise
        except BadModelOutputError as e:
            error = type(e).__name__
            raise BadModelOutputError(
                f"{label or 'LLM call'}: model output stayed invalid: {short_error(e)}"
            ) from None
        except Exception as e:
            cause = _transport_cause(e)
            error = type(cause or e).__name__
            if cause is None:
                raise
            raise TransportError(
                f"{label or 'LLM call'} failed after {attempts} attempts: "
                f"{type(cause).__name__}: {short_error(cause)}"
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
            rec = self.records[-1]
            log.debug(
                "%s: %d attempt(s), %d+%d tokens, %.2f s%s",
                label or "LLM call",
                attempts,
                rec.prompt_tokens,
                rec.completion_tokens,
                rec.latency_s,
                f", {error}" if error else "",
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _sleep_for(self, seconds: float) -> None:
        stop = self._stop
        if stop is not None and stop.is_set():
            raise Interrupted()
        if seconds > 0:
            if stop is not None and self._sleep is time.sleep:
                stop.wait(seconds)
            else:
                self._sleep(seconds)
        if stop is not None and stop.is_set():
            raise Interrupted()

    def _call(self, response_model: type[T], messages: list[dict[str, str]], max_tokens: int) -> T:
        """``_create``, with the breaker told whether the endpoint answered."""
        answered: bool | None = None
        cause: BaseException | None = None
        try:
            result = self._abandonable(lambda: self._create(response_model, messages, max_tokens))
            answered = True
            return result
        except Exception as e:
            cause = _transport_cause(e)
            if cause is not None:
                answered = False
            elif isinstance(e, ModelError) and not isinstance(e, BudgetExceededError):
                answered = True  # a rejection or a bad answer is still an answer
            raise
        finally:
            self.breaker.record(answered, cause)

    def _abandonable(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on a daemon thread and wait for it, or for the stop event: a hanging
        endpoint must not keep Ctrl-C waiting for the timeout (and all its retries)."""
        stop = self._stop
        if stop is None:
            return fn()
        if stop.is_set():
            raise Interrupted()
        box: dict[str, Any] = {}
        done = threading.Event()
        stats, records = self.stats, self.records

        def run() -> None:
            # The instructor hook counts tokens into the caller's per-thread accounts.
            self._local.stats, self._local.records = stats, records
            try:
                box["value"] = fn()
            except BaseException as e:  # handed to the caller, never lost in the thread
                box["error"] = e
            finally:
                done.set()

        threading.Thread(target=run, name="factx-llm-call", daemon=True).start()
        while not done.wait(POLL_S):
            if stop.is_set():
                raise Interrupted()  # the thread ends with its own timeout; unused
        if "error" in box:
            raise box["error"]
        return cast(T, box["value"])

    def _create(
        self, response_model: type[T], messages: list[dict[str, str]], max_tokens: int
    ) -> T:
        from instructor.core import InstructorRetryException

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
                    f"{type(rejected).__name__}: {short_error(rejected)}"
                ) from None
            # The last attempt's own error, not instructor's XML dump of every attempt.
            failed = getattr(e, "failed_attempts", None) or []
            last = getattr(failed[-1], "exception", None) if failed else None
            n = getattr(e, "n_attempts", None) or len(failed)
            raise BadModelOutputError(f"{n} attempt(s); last: {short_error(last or e)}") from e
        except (ValidationError, json.JSONDecodeError) as e:
            raise BadModelOutputError(short_error(e)) from e
        if self.stats.tokens > self.settings.token_budget:
            raise BudgetExceededError(
                f"token budget of {self.settings.token_budget} per article exceeded"
            )
        return result
