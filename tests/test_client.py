"""The client layer against scripted HTTP transports (no model): retries, Retry-After,
schema-format fallback, output errors and the token budget."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import instructor
import openai
import pytest
from pydantic import BaseModel

from factx import BadModelOutputError, BudgetExceededError, ModelError, Settings, TransportError
from factx._client import LLM
from factx._transport import FormatMemory, SchemaFormatTransport


class Answer(BaseModel):
    speaker: str


def _completion(
    content: str, prompt_tokens: int = 10, completion_tokens: int = 5
) -> dict[str, object]:
    return {
        "id": "x", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }  # fmt: skip


Handler = Callable[[httpx.Request], httpx.Response]


def _llm(handler: Handler, **settings: object) -> tuple[LLM, list[float], SchemaFormatTransport]:
    transport = SchemaFormatTransport(httpx.MockTransport(handler))
    http = httpx.Client(transport=transport)
    client = openai.OpenAI(base_url="http://test/v1", api_key="k", max_retries=0, http_client=http)  # type: ignore[arg-type]
    s = Settings(base_url="http://test/v1", model="m", **settings)  # type: ignore[arg-type]
    sleeps: list[float] = []
    llm = LLM(
        instructor.from_openai(client, mode=instructor.Mode.JSON_SCHEMA), s, sleep=sleeps.append
    )
    return llm, sleeps, transport


MSG = [{"role": "user", "content": "wer?"}]


def test_retries_5xx_and_429_honouring_retry_after() -> None:
    answers = iter([
        httpx.Response(503, json={"error": "busy"}),
        httpx.Response(429, headers={"retry-after": "7"}, json={"error": "slow down"}),
        httpx.Response(200, json=_completion('{"speaker": "Lawrow"}')),
    ])  # fmt: skip
    llm, sleeps, _ = _llm(lambda r: next(answers))
    assert llm.ask(Answer, MSG).speaker == "Lawrow"
    assert len(sleeps) == 2 and sleeps[1] >= 7.0
    assert llm.stats.retries == 2
    assert (llm.stats.prompt_tokens, llm.stats.completion_tokens) == (10, 5)


def test_transport_errors_give_up_after_max_attempts() -> None:
    calls = []

    def handler(r: httpx.Request) -> httpx.Response:
        calls.append(r)
        raise httpx.ConnectError("refused", request=r)

    llm, sleeps, _ = _llm(handler, max_transport_attempts=3)
    with pytest.raises(TransportError, match=r"failed after 3 attempts: APIConnectionError"):
        llm.ask(Answer, MSG, label="speaker")
    assert len(calls) == 3 and len(sleeps) == 2
    assert llm.records[-1].error == "APIConnectionError"


def test_client_errors_are_not_retried() -> None:
    calls = []

    def handler(r: httpx.Request) -> httpx.Response:
        calls.append(r)
        return httpx.Response(401, json={"error": {"message": "bad key"}})

    llm, _, _ = _llm(handler)
    with pytest.raises(ModelError, match=r"rejected the request: HTTP 401 AuthenticationError"):
        llm.ask(Answer, MSG)
    assert len(calls) == 1


def test_invalid_output_is_reasked_once_then_reported() -> None:
    bodies = []

    def handler(r: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(r.content))
        return httpx.Response(200, json=_completion('{"name": 3}'))

    llm, _, _ = _llm(handler, max_validation_retries=1)
    with pytest.raises(BadModelOutputError, match="speaker: model output stayed invalid"):
        llm.ask(Answer, MSG, label="speaker")
    assert len(bodies) == 2
    # The re-ask carries the bad answer and the error: two messages more, not more.
    assert len(bodies[1]["messages"]) == len(bodies[0]["messages"]) + 2
    assert llm.stats.calls == 2


def test_token_budget_stops_an_article() -> None:
    handler = lambda r: httpx.Response(200, json=_completion('{"speaker": "Xi"}', 600, 100))  # noqa: E731
    llm, _, _ = _llm(handler, token_budget=1000)
    llm.ask(Answer, MSG)
    with pytest.raises(BudgetExceededError):
        llm.ask(Answer, MSG)  # 1400 tokens spent > 1000
    with pytest.raises(BudgetExceededError, match="is spent"):
        llm.ask(Answer, MSG)  # refused before any request
    assert llm.stats.calls == 2
    llm.reset()
    assert llm.stats.tokens == 0


def test_schema_format_falls_back_once_for_llama_cpp_python() -> None:
    seen = []

    def handler(r: httpx.Request) -> httpx.Response:
        rf = json.loads(r.content)["response_format"]
        seen.append(rf["type"])
        if rf["type"] == "json_schema":
            msg = "Input should be 'text' or 'json_object' ... 'input': 'json_schema'"
            return httpx.Response(500, json={"error": {"message": msg}})
        assert rf["schema"]["properties"]["speaker"]["type"] == "string"
        return httpx.Response(200, json=_completion('{"speaker": "Wang"}'))

    llm, sleeps, transport = _llm(handler)
    assert llm.ask(Answer, MSG).speaker == "Wang"
    assert llm.ask(Answer, MSG).speaker == "Wang"
    assert seen == ["json_schema", "json_object", "json_object"]
    assert transport.legacy and sleeps == []


def test_schema_format_keeps_json_schema_where_it_works() -> None:
    seen = []

    def handler(r: httpx.Request) -> httpx.Response:
        seen.append(json.loads(r.content)["response_format"]["type"])
        return httpx.Response(200, json=_completion('{"speaker": "Wang"}'))

    llm, _, transport = _llm(handler)
    llm.ask(Answer, MSG)
    assert seen == ["json_schema"] and not transport.legacy


def test_settings_pick_mode_and_strategy_by_endpoint() -> None:
    assert Settings().resolved_mode() == "json_schema"
    assert Settings().resolved_strategy() == "questions"
    openai_settings = Settings(base_url="https://api.openai.com/v1", model="gpt-4o-mini")
    assert openai_settings.resolved_mode() == "tools"
    assert openai_settings.resolved_strategy() == "whole"
    assert Settings(base_url="http://127.0.0.1:11434/v1", strategy="whole").resolved_mode() == (
        "json_schema"
    )
    assert "sk-secret" not in repr(Settings(api_key="sk-secret"))


@pytest.mark.parametrize(
    "bad", [{"concurrency": 0}, {"timeout": 0}, {"token_budget": 0}, {"chunk_overlap": 20_000}]
)
def test_settings_refuse_nonsense(bad: dict[str, int]) -> None:
    from factx import ConfigError

    with pytest.raises(ConfigError):
        Settings(**bad)  # type: ignore[arg-type]


def test_make_client_sends_through_a_given_transport() -> None:
    from factx._transport import make_client

    seen: list[dict[str, object]] = []

    def handler(r: httpx.Request) -> httpx.Response:
        seen.append(json.loads(r.content))
        return httpx.Response(200, json=_completion('{"speaker": "Wang Yi"}'))

    s = Settings(base_url="http://test/v1", model="m")
    llm = LLM(make_client(s, "http://test/v1", transport=httpx.MockTransport(handler)), s)
    assert llm.ask(Answer, MSG).speaker == "Wang Yi"
    # The schema-format layer still sits above the given transport.
    assert len(seen) == 1 and seen[0]["model"] == "m"


def test_concurrent_workers_pay_one_refused_json_schema_per_endpoint() -> None:
    refused: list[int] = []
    lock = threading.Lock()

    def handler(r: httpx.Request) -> httpx.Response:
        body = json.loads(r.content)
        if body["response_format"]["type"] == "json_schema":
            time.sleep(0.2)  # the probe is in flight while the other workers arrive
            with lock:
                refused.append(1)
            return httpx.Response(500, text="Input should be 'text' or 'json_object' (json_schema)")
        return httpx.Response(200, json=_completion('{"answer": true}'))

    memory = FormatMemory()
    inner = httpx.MockTransport(handler)
    transports = [SchemaFormatTransport(inner, memory=memory) for _ in range(4)]
    schema = {"name": "A", "schema": {"type": "object"}}
    fmt = {"type": "json_schema", "json_schema": schema}
    request = {"model": "m", "messages": [], "response_format": fmt}

    def one(t: SchemaFormatTransport) -> int:
        with httpx.Client(transport=t) as c:
            return c.post("http://127.0.0.1:9/v1/chat/completions", json=request).status_code

    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(one, transports))
    assert codes == [200, 200, 200, 200]
    assert len(refused) == 1
    # Another endpoint is probed on its own.
    with httpx.Client(transport=SchemaFormatTransport(inner, memory=memory)) as c:
        c.post("http://127.0.0.1:10/v1/chat/completions", json=request)
    assert len(refused) == 2


def test_no_retry_is_announced_after_the_last_attempt(caplog: pytest.LogCaptureFixture) -> None:
    llm, sleeps, _ = _llm(
        lambda r: httpx.Response(503, json={"error": "busy"}), max_transport_attempts=3
    )
    with caplog.at_level("INFO", logger="factx"), pytest.raises(TransportError):
        llm.ask(Answer, MSG, label="speaker")
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) == len(sleeps) == 2
    assert [m.split(";")[0] for m in retries] == [
        "speaker: attempt 1 failed (InternalServerError)",
        "speaker: attempt 2 failed (InternalServerError)",
    ]


@pytest.mark.parametrize(
    ("ctype", "detail"),
    [
        ("text/html", "text/html, 21 bytes"),
        ("application/json", "application/json, 21 bytes, truncated?"),
    ],
)
def test_a_body_that_is_not_json_is_named_as_such(ctype: str, detail: str) -> None:
    body = "<html>Gateway</html>\n"
    llm, _, _ = _llm(
        lambda r: httpx.Response(200, text=body, headers={"content-type": ctype}),
        max_transport_attempts=2,
    )
    with pytest.raises(TransportError) as info:
        llm.ask(Answer, MSG, label="speaker")
    assert str(info.value) == (
        "speaker failed after 2 attempts: MalformedResponseError: "
        f"malformed chat completion: body is not JSON ({detail})"
    )
