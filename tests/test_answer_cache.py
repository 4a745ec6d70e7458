"""The answer cache: an LLM answer is kept in the store by its request and never paid twice."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import instructor
import openai
import pytest
from pydantic import BaseModel

from factx import Settings
from factx._client import LLM, answer_key
from factx._store import Store
from factx._transport import SchemaFormatTransport


class Yes(BaseModel):
    answer: bool


def _llm(store: Store | None, calls: list[str], usage: dict[str, object] | None = None) -> LLM:
    def handler(r: httpx.Request) -> httpx.Response:
        calls.append(json.loads(r.content)["messages"][-1]["content"])
        body = {
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": '{"answer": true}'}}],
            "usage": usage or {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
        }  # fmt: skip
        return httpx.Response(200, json=body)

    http = httpx.Client(transport=SchemaFormatTransport(httpx.MockTransport(handler)))
    client = openai.OpenAI(base_url="http://t/v1", api_key="k", max_retries=0, http_client=http)  # type: ignore[arg-type]
    settings = Settings(base_url="http://t/v1", model="m")
    return LLM(instructor.from_openai(client, mode=instructor.Mode.JSON_SCHEMA), settings,
               sleep=lambda _: None, answers=store)  # fmt: skip


def _msgs(q: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "s"}, {"role": "user", "content": q}]


def test_a_request_asked_before_is_answered_from_the_store(tmp_path: Path) -> None:
    calls: list[str] = []
    with Store(tmp_path / "s.sqlite3") as store:
        llm = _llm(store, calls)
        assert llm.ask(Yes, _msgs("a?")).answer is True
        assert llm.ask(Yes, _msgs("b?")).answer is True
        assert calls == ["a?", "b?"] and llm.stats.calls == 2
        # A second process on the same store (after a kill, say) asks nothing again.
        again = _llm(store, calls)
        assert again.ask(Yes, _msgs("a?")).answer is True
        assert calls == ["a?", "b?"]
        assert again.stats.calls == 0 and again.stats.cached_answers == 1
        assert store.count("answers") == 2


def test_a_stale_answer_is_asked_again_and_replaced(tmp_path: Path) -> None:
    calls: list[str] = []
    with Store(tmp_path / "s.sqlite3") as store:
        llm = _llm(store, calls)
        key = answer_key(llm.settings, Yes, _msgs("a?"), 256)
        store.put_answer(key, "q", '{"something": "else"}', 1, 1)
        assert llm.ask(Yes, _msgs("a?")).answer is True
        assert calls == ["a?"]
        assert store.get_answer(key) == '{"answer":true}'


def test_the_key_covers_model_schema_and_messages() -> None:
    s = Settings(base_url="http://t/v1", model="m")
    base = answer_key(s, Yes, _msgs("a?"), 256)
    assert base != answer_key(Settings(base_url="http://t/v1", model="n"), Yes, _msgs("a?"), 256)
    assert base != answer_key(s, Yes, _msgs("b?"), 256)
    assert base != answer_key(s, Yes, _msgs("a?"), 100)


def test_prompt_tokens_the_server_took_from_its_cache_are_counted_where_it_says_so() -> None:
    calls: list[str] = []
    # OpenAI's (and vLLM's, llama.cpp server's) usage names the cached part of the prompt.
    said = {"prompt_tokens": 1200, "completion_tokens": 3, "total_tokens": 1203,
            "prompt_tokens_details": {"cached_tokens": 1024}}  # fmt: skip
    llm = _llm(None, calls, said)
    llm.ask(Yes, _msgs("a?"))
    llm.ask(Yes, _msgs("b?"))
    assert (llm.stats.prompt_tokens, llm.stats.cached_prompt_tokens) == (2400, 2048)
    silent = _llm(None, calls)  # llama-cpp-python's server does not say
    silent.ask(Yes, _msgs("c?"))
    assert (silent.stats.prompt_tokens, silent.stats.cached_prompt_tokens) == (10, 0)


def test_new_code_extracts_again_from_the_answers_it_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An upgrade changes the rules, not the questions: the article is extracted again with
    # the new code, and every answer comes from the store.
    from factx import Item, Pipeline, _store

    from .faults import ReplayServer, recorded_articles, require_replay_coverage, settings_for

    require_replay_coverage(tmp_path / "coverage")
    article = recorded_articles()[0]
    with ReplayServer() as replay:
        settings = settings_for(replay.base_url, tmp_path)
        with Pipeline(settings) as pipe:
            (first,) = pipe.run([Item(path=article)])
        served = replay.served
        with Pipeline(settings) as pipe:
            list(pipe.run([Item(path=article)]))
            assert (pipe.stats.extracted, pipe.stats.cached) == (0, 1)
        monkeypatch.setattr(_store, "code_version", lambda: "a later factx")
        with Pipeline(settings) as pipe:
            (again,) = pipe.run([Item(path=article)])
            assert (pipe.stats.extracted, pipe.stats.cached, pipe.stats.calls) == (1, 0, 0)
        assert replay.served == served
    assert again.usage.cached_answers == first.usage.calls > 0
    assert again.meetings == first.meetings and again.statements == first.statements
