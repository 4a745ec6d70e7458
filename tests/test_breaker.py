"""The endpoint's circuit breaker and the backoff every worker shares.

Stub endpoints are the fault proxy in front of the cassette replay: every request a 500,
a hang, or a few 500s before the endpoint recovers. Waits are real (short pauses set in
``Settings``) so that wall time is what is measured; the bounds are loose (several times
the expected figure), the request counts are the exact check.
"""

from __future__ import annotations

import functools
import threading
import time
from pathlib import Path

import httpx
import instructor
import openai
import pytest
from click.testing import CliRunner
from pydantic import BaseModel

import factx._batch
from factx import ArticleFacts, Pipeline, Settings
from factx._batch import Item
from factx._cli import cli
from factx._client import LLM
from factx._transport import SchemaFormatTransport

from .faults import (
    RECORD_MODEL,
    FaultProxy,
    RecordingSleep,
    ReplayServer,
    recorded_articles,
    require_replay_coverage,
    settings_for,
)
from .test_robustness import _fifty

PAUSING = "transport failures in a row"
GIVING_UP = "giving up: the remaining articles fail without a call"
BACK = "answers again; the batch goes on"


@pytest.fixture(autouse=True)
def _covered(tmp_path_factory: pytest.TempPathFactory) -> None:
    require_replay_coverage(tmp_path_factory.mktemp("coverage"))


def _run(
    proxy: FaultProxy, tmp: Path, paths: list[Path], **settings: object
) -> tuple[list[ArticleFacts], list[str], float]:
    notices: list[str] = []
    started = time.monotonic()
    with Pipeline(settings_for(proxy.base_url, tmp, **settings)) as pipe:
        results = list(pipe.run([Item(path=p) for p in paths], on_notice=notices.append))
    return results, notices, time.monotonic() - started


@pytest.mark.parametrize("kind", ["500", "429", "slow"], ids=["500s", "429-retry-after", "hang"])
def test_a_dead_endpoint_costs_a_bounded_time_not_minutes_per_article(
    kind: str, tmp_path: Path
) -> None:
    paths = _fifty(tmp_path)[:20]
    threshold, pauses, attempts, j = 3, (0.3, 0.3), 3, 2
    with (
        ReplayServer() as replay,
        # a hang is an answer 30 s away, against the 1 s timeout
        FaultProxy(replay.base_url, rate=1.0, kinds=[kind], slow_s=30, retry_after="1") as proxy,
    ):
        results, notices, took = _run(
            proxy, tmp_path, paths, breaker_threshold=threshold, breaker_pauses=pauses,
            max_transport_attempts=attempts, concurrency=j,
        )  # fmt: skip
    assert [r.status for r in results] == ["failed"] * len(paths)
    assert all(r.errors[-1].error == "TransportError" for r in results)
    # Without the breaker: 20 articles x 3 attempts = 60 requests (and with the hang,
    # 60 timeouts of 1 s over 2 workers). With it: the run up to the threshold, the
    # probes, and what the other worker had in flight.
    assert proxy.log.requests <= threshold + len(pauses) + 2 * j, proxy.log
    skipped = [r for r in results if r.errors[-1].message.startswith("not sent: ")]
    assert len(skipped) >= len(paths) - 2 * j
    assert [n for n in notices if PAUSING in n] == [notices[0]]  # said once
    assert sum(GIVING_UP in n for n in notices) == 1 and len(notices) == 2
    # Measured 8 s for the hang (three 1 s timeouts, their backoff, two pauses and two
    # probes, in series), 4 s for the 500s and 5 s for the 429s (each wait at least the
    # 1 s Retry-After): bounded by 15 s on a slow shared box.
    print(f"\n{kind}: {len(paths)} articles given up in {took:.1f} s")  # run with -s
    assert took < 15


def test_the_batch_goes_on_when_a_probe_gets_an_answer(tmp_path: Path) -> None:
    paths = recorded_articles()
    # Request 1 is the json_schema probe; then four 500s: three trip the breaker (and
    # lose the first question of the first article), the fourth fails the first probe.
    script = [None, "500", "500", "500", "500"]
    with ReplayServer() as replay, FaultProxy(replay.base_url, script=script) as proxy:
        results, notices, _ = _run(
            proxy, tmp_path, paths, breaker_threshold=3, breaker_pauses=(0.2, 0.2, 0.2),
            max_transport_attempts=3,
        )  # fmt: skip
    assert [r.status for r in results] == ["failed"] + ["ok"] * (len(paths) - 1)
    assert len(notices) == 2 and PAUSING in notices[0] and BACK in notices[1], notices


class _Answer(BaseModel):
    speaker: str


def test_retry_after_holds_every_worker() -> None:
    """Worker A gets a 429 with Retry-After: 1; worker B, asking a moment later, waits for
    the same second instead of hitting the endpoint at once."""
    arrivals: list[tuple[str, float]] = []
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        who = "A" if b"frage A" in request.content else "B"
        with lock:
            arrivals.append((who, time.monotonic()))
            first = len(arrivals) == 1
        if first:
            return httpx.Response(429, headers={"retry-after": "1"}, json={"error": "slow"})
        content = '{"speaker": "Lawrow"}'
        return httpx.Response(
            200,
            json={
                "id": "x", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )  # fmt: skip

    http = httpx.Client(transport=SchemaFormatTransport(httpx.MockTransport(handler)))
    client = openai.OpenAI(base_url="http://test/v1", api_key="k", max_retries=0, http_client=http)  # type: ignore[arg-type]
    llm = LLM(
        instructor.from_openai(client, mode=instructor.Mode.JSON_SCHEMA),
        Settings(base_url="http://test/v1", model="m"),
        stop=threading.Event(),
    )

    def ask(who: str) -> None:
        llm.ask(_Answer, [{"role": "user", "content": f"frage {who}"}])

    a = threading.Thread(target=ask, args=("A",))
    a.start()
    while not arrivals:
        time.sleep(0.005)
    time.sleep(0.1)
    b = threading.Thread(target=ask, args=("B",))
    b.start()
    a.join(10)
    b.join(10)
    first_429 = arrivals[0][1]
    b_at = next(t for who, t in arrivals if who == "B")
    assert [who for who, _ in arrivals].count("B") == 1
    assert b_at - first_429 >= 0.95  # B waited out A's Retry-After (a lower bound only)


def test_cli_prints_the_pause_and_the_give_up_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleep = RecordingSleep()  # the default pauses (10, 30, 60 s) are recorded, not slept
    monkeypatch.setattr(factx._batch, "LLM", functools.partial(LLM, sleep=sleep))
    _fifty(tmp_path)
    with ReplayServer() as replay, FaultProxy(replay.base_url, rate=1.0, kinds=["503"]) as p:
        res = CliRunner().invoke(
            cli,
            [
                "extract", str(tmp_path / "in"), "--store", str(tmp_path / "s.sqlite3"),
                "--base-url", p.base_url, "-m", RECORD_MODEL, "--timeout", "1", "-o",
                str(tmp_path / "facts.jsonl"),
            ],
        )  # fmt: skip
    assert res.exit_code == 1
    assert res.stderr.count(PAUSING) == 1 and res.stderr.count(GIVING_UP) == 1, res.stderr
    assert "pausing the batch for 10 s, then probing (up to 3 times)" in res.stderr
    assert {10, 30, 60} <= {round(w) for w in sleep.waits}
    assert "0 extracted, 0 cached, 50 failed" in res.stderr
    assert p.log.requests <= 5 + 3  # the threshold, then the probes
