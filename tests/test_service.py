"""``factx serve`` over real HTTP: a uvicorn on a free port, the cassette replay as the LLM.

Most tests run the app in a thread; the kill -9 test runs ``factx serve`` as a subprocess.
They talk HTTP through httpx or ``factx.Client``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import factx
from factx import ArticleFacts, Client, ServiceSettings, cross_check
from factx._cli import cli
from factx._errors import ConfigError
from factx._local import free_port
from factx._service import JobOut, create_app

from .faults import (
    RECORD_MODEL,
    FaultProxy,
    ReplayServer,
    recorded_articles,
    require_replay_coverage,
    settings_for,
)

KEY1, KEY2 = "test-key-one-7f3a9c", "test-key-two-1b8e4d"


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplayServer]:
    require_replay_coverage(tmp_path_factory.mktemp("coverage"))
    with ReplayServer() as r:
        yield r


def articles(n: int, *, first: int = 0) -> list[dict[str, Any]]:
    """``n`` recorded articles with distinct dates (distinct cache keys, recorded questions)."""
    out = []
    sources = recorded_articles()
    for i in range(first, first + n):
        src = sources[i % len(sources)]
        meta = json.loads(src.with_name(src.stem + ".meta.json").read_text(encoding="utf-8"))
        published = date.fromisoformat(meta["published"]) + timedelta(days=i)
        out.append(
            {"text": src.read_text(encoding="utf-8"), "published": published.isoformat(),
             "id": f"{i:03d}_{src.stem}"}
        )  # fmt: skip
    return out


@contextlib.contextmanager
def serving(
    base_url: str,
    tmp: Path,
    *,
    keys: tuple[str, ...] = (),
    answer_cache: bool = True,
    **config: Any,
) -> Iterator[str]:
    """The app under uvicorn in a thread; yields its root URL; stops it (and its workers)."""
    import uvicorn

    settings = settings_for(base_url, tmp, timeout=10.0, answer_cache=answer_cache)
    cfg = ServiceSettings(key_hashes=ServiceSettings.keys_to_hashes(keys), **config)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, cfg), host="127.0.0.1", port=port, log_level="warning",
            access_log=False, ws="none", lifespan="on",
        )
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        assert not thread.is_alive()


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _reference(replay: ReplayServer, tmp: Path, items: list[dict[str, Any]]) -> list[str]:
    """What the library itself says for these articles (validated, as the service serves).
    Without usage: which of two workers asks a question two copies share, and which takes
    it from the answer cache, is a matter of timing."""
    with factx.Pipeline(settings_for(replay.base_url, tmp, timeout=10.0)) as pipe:
        got = pipe.run(
            [
                factx.Item(text=a["text"], article_id=a["id"], published=a["published"])
                for a in items
            ]
        )
        return [r.validated().model_dump_json(exclude={"usage"}) for r in got]


# -- endpoints --------------------------------------------------------------------------


def test_extract_answers_one_article_like_the_library(replay: ReplayServer, tmp_path: Path) -> None:
    [a] = articles(1)
    want = _reference(replay, tmp_path / "ref", [a])
    with serving(replay.base_url, tmp_path) as url:
        r = httpx.post(url + "/v1/extract", json=a, timeout=30)
        assert r.status_code == 200, r.text
        assert {k: v for k, v in r.json().items() if k != "usage"} == json.loads(want[0])
        with Client(url) as c:
            got = c.extract(a["text"], published=a["published"], id=a["id"])
    assert got.model_dump_json(exclude={"usage"}) == want[0]
    assert got.article_id == a["id"] and got.facts()


def test_job_lifecycle_through_the_client(replay: ReplayServer, tmp_path: Path) -> None:
    items = articles(5)
    want = _reference(replay, tmp_path / "ref", items)
    seen: list[dict[str, Any]] = []
    with serving(replay.base_url, tmp_path, keys=(KEY1,), workers=2) as url:
        with Client(url, api_key=KEY1) as c:
            job = c.submit(items)  # NDJSON
            final = c.wait(job, poll_s=0.05, progress=seen.append)
            assert final["state"] == "succeeded"
            JobOut.model_validate(final)  # the documented schema is what comes out
            assert (final["done"], final["failed"], final["total"]) == (5, 0, 5)
            assert final["calls"] > 0 and final["prompt_tokens"] > 0
            done_counts = [s["done"] for s in seen]
            assert done_counts == sorted(done_counts)  # progress never goes back
            results = c.results(job, page_size=2)  # three pages
            assert [r.model_dump_json(exclude={"usage"}) for r in results] == want
            assert [r.article_id for r in results] == [a["id"] for a in items]
            assert c.results(job) == results  # readable again and again
            report = c.check(job)
            assert report == cross_check(results)
            assert report.consolidated  # the same events told twice: corroboration
            page = c.report(job)
            assert all(a["id"] in page for a in items)
            assert '<mark class="ev' in page
        # The JSON list form, and raw pagination.
        h = _auth(KEY1)
        r = httpx.post(url + "/v1/jobs", json=items[:3], headers=h)
        assert r.status_code == 202
        body = r.json()
        assert r.headers["location"] == body["status_url"] == f"/v1/jobs/{body['job_id']}"
        with Client(url, api_key=KEY1) as c:
            st = c.wait(body["job_id"], poll_s=0.05)
        assert st["cached"] == 3 and st["calls"] == 0  # the store answered them all
        page = httpx.get(url + body["results_url"], params={"offset": 1, "limit": 1}, headers=h)
        assert page.headers["content-type"].startswith("application/x-ndjson")
        assert page.headers["x-next-offset"] == "2" and page.headers["x-total-count"] == "3"
        assert [json.loads(x)["article_id"] for x in page.text.splitlines()] == [items[1]["id"]]
        last = httpx.get(url + body["results_url"], params={"offset": 2, "limit": 1}, headers=h)
        assert "x-next-offset" not in last.headers


def test_failed_and_partial_jobs_name_their_errors(replay: ReplayServer, tmp_path: Path) -> None:
    with serving(replay.base_url, tmp_path) as url, Client(url) as c:
        partial = c.submit([*articles(1), {"text": "   \n ", "id": "leer"}])
        st = c.wait(partial, poll_s=0.05)
        assert st["state"] == "partial" and (st["done"], st["failed"]) == (1, 1)
        assert st["errors"] == [
            {"seq": 1, "id": "leer", "error": "EmptyArticleError",
             "message": "article is empty or whitespace only"}
        ]  # fmt: skip
        failed = c.wait(c.submit([" "]), poll_s=0.05)
        assert failed["state"] == "failed" and failed["failed"] == 1
        # A failed article's line is still there, with its error.
        [line] = c.results(partial, include_flagged=True)[1:]
        assert line.status == "failed" and line.errors[0].error == "EmptyArticleError"


def test_cancel_stops_what_has_not_started(replay: ReplayServer, tmp_path: Path) -> None:
    with FaultProxy(replay.base_url, latency_s=0.2) as slow:
        with serving(slow.base_url, tmp_path) as url, Client(url) as c:
            job = c.submit(articles(12))
            deadline = time.monotonic() + 30
            while c.status(job)["running"] == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            st = c.cancel(job)
            assert st["state"] == "cancelled" and st["cancelled"] >= 10
            final = c.wait(job, poll_s=0.05)
            time.sleep(0.5)
            after = c.status(job)
    assert final["state"] == after["state"] == "cancelled"
    assert after["done"] + after["failed"] <= 2  # only what was in flight finished
    assert after["pending"] == 0 and after["cancelled"] == st["cancelled"]


def test_health_ready_docs_and_openapi(replay: ReplayServer, tmp_path: Path) -> None:
    with serving(replay.base_url, tmp_path) as url:
        health = httpx.get(url + "/healthz").json()
        assert health["status"] == "ok" and isinstance(health["engine_pid"], int)
        deadline = time.monotonic() + 60
        while (ready := httpx.get(url + "/readyz")).status_code == 503:
            assert ready.json()["reason"] == "engine starting"  # the engine is spawned
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert ready.json() == {"ready": True}
        spec = httpx.get(url + "/openapi.json").json()
        assert {
            "/v1/extract", "/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/results",
            "/v1/jobs/{job_id}/cancel", "/v1/jobs/{job_id}/check", "/v1/jobs/{job_id}/report",
            "/healthz", "/readyz", "/metrics",
        } <= set(spec["paths"])  # fmt: skip
        body = spec["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]
        assert {"application/json", "application/x-ndjson"} <= set(body)
        docs = httpx.get(url + "/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
    # A model endpoint that does not answer: alive, not ready.
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with serving(dead, tmp_path / "dead") as url:
        assert httpx.get(url + "/healthz").status_code == 200
        deadline = time.monotonic() + 60
        while (r := httpx.get(url + "/readyz")).json()["reason"] == "engine starting":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert r.status_code == 503 and "unreachable" in r.json()["reason"]


def test_ready_while_a_slow_model_works_for_us(replay: ReplayServer, tmp_path: Path) -> None:
    # A model that takes 4 s for every request (a llama.cpp server answers nothing while it
    # generates): idle, its silence is not readiness; with our article in flight, it is.
    with (
        FaultProxy(replay.base_url, latency_s=4.0) as slow,
        serving(slow.base_url, tmp_path, answer_cache=False) as url,
    ):
        deadline = time.monotonic() + 60
        while (r := httpx.get(url + "/readyz", timeout=10)).json().get("reason") == (
            "engine starting"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert r.status_code == 503 and "did not answer" in r.json()["reason"]
        with Client(url) as c:
            job = c.submit(articles(1))
            while c.status(job)["running"] == 0:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            r = httpx.get(url + "/readyz", timeout=10)
        assert r.status_code == 200 and r.json() == {"ready": True, "model": "busy"}


def _gone(pid: int, within_s: float = 10.0) -> bool:
    """The process has exited (a zombie counts as gone: it runs nothing)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_a_dead_engine_makes_the_service_unhealthy(replay: ReplayServer, tmp_path: Path) -> None:
    with serving(replay.base_url, tmp_path) as url:
        pid = httpx.get(url + "/healthz").json()["engine_pid"]
        os.kill(pid, signal.SIGKILL)
        assert _gone(pid)
        deadline = time.monotonic() + 10
        while httpx.get(url + "/healthz").status_code != 503:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert httpx.get(url + "/readyz").status_code == 503
        assert httpx.post(url + "/v1/extract", json=articles(1)[0]).status_code == 503


def _metric(text: str, name: str, labels: str = "") -> float:
    m = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
    assert m, f"{name}{labels} missing"
    return float(m.group(1))


def test_metrics_count_requests_calls_tokens_and_latency(
    replay: ReplayServer, tmp_path: Path
) -> None:
    with serving(replay.base_url, tmp_path) as url, Client(url) as c:
        job = c.submit(articles(2))
        st = c.wait(job, poll_s=0.05)
        httpx.get(url + "/v1/jobs/" + "0" * 32)
        text = httpx.get(url + "/metrics").text
    assert _metric(text, "factx_llm_calls_total") == st["calls"] > 0
    assert _metric(text, "factx_llm_tokens_total", '{kind="prompt"}') == st["prompt_tokens"]
    assert _metric(text, "factx_llm_tokens_total", '{kind="completion"}') == st["completion_tokens"]
    assert _metric(text, "factx_llm_call_duration_seconds_count") == st["calls"]
    assert _metric(text, "factx_articles_total", '{outcome="extracted"}') == 2
    assert _metric(text, "factx_jobs", '{state="succeeded"}') == 1
    # Routes by template, never the raw path.
    assert 'route="/v1/jobs/{job_id}",status="404"' in text
    assert "0" * 32 not in text
    # Histogram buckets are cumulative and end at the count.
    bucket = r'^factx_http_request_duration_seconds_bucket\{route="/v1/jobs/\{job_id\}",le='
    buckets = [float(v) for v in re.findall(bucket + r'"[^"]+"\} (\S+)$', text, re.M)]
    assert buckets == sorted(buckets) and buckets[-1] == _metric(
        text, "factx_http_request_duration_seconds_count", '{route="/v1/jobs/{job_id}"}'
    )
    for line in text.splitlines():  # the exposition format, line by line
        assert line.startswith(("# HELP ", "# TYPE ")) or re.fullmatch(
            r'[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+', line
        ), line


# -- keys -------------------------------------------------------------------------------


def test_keys_guard_every_job_and_are_kept_only_as_hashes(
    replay: ReplayServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    with serving(replay.base_url, tmp_path, keys=(KEY1, KEY2)) as url:
        assert httpx.post(url + "/v1/jobs", json=articles(1)).status_code == 401
        wrong = httpx.post(url + "/v1/jobs", json=articles(1), headers=_auth("nope"))
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert httpx.post(url + "/v1/extract", json=articles(1)[0]).status_code == 401
        r = httpx.post(url + "/v1/jobs", json=articles(1), headers=_auth(KEY1))
        assert r.status_code == 202
        job = r.json()["job_id"]
        with Client(url, api_key=KEY1) as c:
            c.wait(job, poll_s=0.05)
        for method, path in [
            ("GET", ""), ("GET", "/results"), ("GET", "/check"), ("GET", "/report"),
            ("POST", "/cancel"),
        ]:  # fmt: skip
            other = httpx.request(method, f"{url}/v1/jobs/{job}{path}", headers=_auth(KEY2))
            assert other.status_code == 404, (path, other.text)
            assert httpx.request(method, f"{url}/v1/jobs/{job}{path}").status_code == 401
            mine = httpx.request(method, f"{url}/v1/jobs/{job}{path}", headers=_auth(KEY1))
            assert mine.status_code == 200, (path, mine.text)
        with Client(url, api_key=KEY2) as c, pytest.raises(factx.NotFoundError):
            c.status(job)
        with Client(url) as c, pytest.raises(factx.AuthenticationError):
            c.status(job)
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("store.sqlite3*"))
    for key in (KEY1, KEY2):
        assert key.encode() not in raw
        assert key not in caplog.text
    assert factx._jobs.hash_key(KEY1).encode() in raw  # the owner is the key's hash


def test_no_keys_means_loopback_only() -> None:
    with pytest.raises(ConfigError, match="refusing to listen on 0.0.0.0 without API keys"):
        ServiceSettings(host="0.0.0.0")
    ServiceSettings(host="::1")
    ServiceSettings(host="0.0.0.0", key_hashes=ServiceSettings.keys_to_hashes(["k"]))
    res = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--base-url", "http://x/v1"])
    assert res.exit_code == 2
    assert "refusing to listen on 0.0.0.0 without API keys" in res.output


def test_cli_reads_keys_from_file_and_environment(tmp_path: Path, monkeypatch: Any) -> None:
    """The keys reach the service as hashes (``serve`` itself is replaced here)."""
    import factx._service

    got: list[ServiceSettings] = []
    monkeypatch.setattr(factx._service, "serve", lambda s, c, **kw: got.append(c))
    keys = tmp_path / "keys"
    keys.write_text("# ours\nfile-key\n\n", encoding="utf-8")
    monkeypatch.setenv("FACTX_API_KEYS", "env-a, env-b")
    res = CliRunner().invoke(
        cli, ["serve", "--api-keys-file", str(keys), "--host", "0.0.0.0", "--base-url", "http://x"]
    )
    assert res.exit_code == 0, res.output
    assert got[0].key_hashes == ServiceSettings.keys_to_hashes(["file-key", "env-a", "env-b"])
    assert "file-key" not in res.output and "env-a" not in res.output
    assert "3 API keys" in res.output


# -- limits and bad input -----------------------------------------------------------------


def test_limits(replay: ReplayServer, tmp_path: Path) -> None:
    with FaultProxy(replay.base_url, latency_s=0.3) as slow:
        with serving(
            slow.base_url, tmp_path, keys=(KEY1, KEY2), max_body_bytes=5000,
            max_articles_per_job=3, max_article_chars=900, max_jobs_in_flight=1, retry_after_s=7,
        ) as url:  # fmt: skip
            h = _auth(KEY1)
            big = httpx.post(url + "/v1/jobs", content=b"[" + b" " * 6000 + b"]", headers=h)
            assert big.status_code == 413
            # Chunked: no declared length, counted while read.
            chunks = (b" " * 1000 for _ in range(10))
            chunked = httpx.post(url + "/v1/jobs", content=chunks, headers=h)
            assert chunked.status_code == 413
            many = httpx.post(url + "/v1/jobs", json=[{"text": "x"}] * 4, headers=h)
            assert many.status_code == 413 and "limit 3" in many.json()["detail"]
            long = httpx.post(
                url + "/v1/jobs", json=[{"text": "x"}, {"text": "y" * 901}], headers=h
            )
            assert long.status_code == 413 and long.json()["detail"].startswith("body.1.text")
            one = httpx.post(url + "/v1/extract", json={"text": "y" * 901}, headers=h)
            assert one.status_code == 413
            first = httpx.post(url + "/v1/jobs", json=articles(2), headers=h)
            assert first.status_code == 202
            busy = httpx.post(url + "/v1/jobs", json=articles(1), headers=h)
            assert busy.status_code == 429 and busy.headers["retry-after"] == "7"
            # The limit is per key.
            assert (
                httpx.post(url + "/v1/jobs", json=[{"text": " "}], headers=_auth(KEY2)).status_code
                == 202
            )
            with Client(url, api_key=KEY1) as c:
                with pytest.raises(factx.LimitExceededError) as exc:
                    c.submit(articles(1))
                assert exc.value.status == 429 and exc.value.retry_after == 7
                with pytest.raises(factx.LimitExceededError):
                    c.submit([{"text": "x"}] * 4)
                c.wait(first.json()["job_id"], poll_s=0.05)
                assert c.submit(articles(1))  # accepted again once the first is done


@pytest.mark.parametrize(
    ("body", "ctype", "loc"),
    [
        (b"not json", "application/json", ["body"]),
        (b'{"text": "x"}', "application/json", ["body"]),
        (b'[{"text": "x"}, {"published": "2024-01-01"}]', "application/json", ["body", 1, "text"]),
        (
            b'[{"text": "x", "published": "2024-13-45"}]',
            "application/json",
            ["body", 0, "published"],
        ),
        (b'[{"text": "x", "colour": "red"}]', "application/json", ["body", 0, "colour"]),
        (b'[{"text": ""}]', "application/json", ["body", 0, "text"]),
        (b'[{"text": 7}]', "application/json", ["body", 0, "text"]),
        (b"[]", "application/json", ["body"]),
        (b'{"text": "x"}\n{"text": 1}\n', "application/x-ndjson", ["body", 1, "text"]),
        (b'{"text": "x"}\n{oops\n', "application/x-ndjson", ["body", 1]),
        (b'[{"text": "x", "id": "' + b"i" * 201 + b'"}]', "application/json", ["body", 0, "id"]),
    ],
)
def test_malformed_jobs_get_422_naming_the_field(
    replay: ReplayServer, tmp_path: Path, body: bytes, ctype: str, loc: list[Any]
) -> None:
    with serving(replay.base_url, tmp_path) as url:
        r = httpx.post(url + "/v1/jobs", content=body, headers={"Content-Type": ctype})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == loc
        with Client(url) as c, pytest.raises(factx.InvalidRequestError, match="body"):
            c.extract("")
        # Nothing was queued.
        assert "factx_jobs{" not in httpx.get(url + "/metrics").text


def test_unknown_traversal_and_oversized_ids(replay: ReplayServer, tmp_path: Path) -> None:
    with serving(replay.base_url, tmp_path) as url:
        job = httpx.post(url + "/v1/jobs", json=[{"text": " "}]).json()["job_id"]
        for bad in [
            "0" * 32, job.upper(), job[:-1], "..", "..%2F..%2Fetc%2Fpasswd",
            "%2E%2E%2F%2E%2E%2Fstore.sqlite3", "store.sqlite3", "..%5C..%5Cwin.ini",
        ]:  # fmt: skip
            for tail in ("", "/results", "/check", "/report"):
                r = httpx.get(f"{url}/v1/jobs/{bad}{tail}")
                assert r.status_code == 404, (bad, tail, r.status_code)
                assert "sqlite" not in r.text.lower() and "root:" not in r.text
        raw = httpx.Client(base_url=url)
        r = raw.send(raw.build_request("GET", url + "/v1/jobs/../../../etc/passwd"))
        assert r.status_code == 404
        raw.close()
        long = httpx.get(f"{url}/v1/jobs/{'a' * 65}")
        assert long.status_code == 422 and long.json()["detail"][0]["loc"] == ["path", "job_id"]
        huge = httpx.get(f"{url}/v1/jobs/{'a' * 5000}/results")
        assert huge.status_code in (404, 414, 422)
        assert httpx.get(f"{url}/v1/jobs/{job}").status_code == 200


def test_a_burst_of_submissions_is_written_together_and_keeps_the_limit(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from factx._jobs import JobLimitError, JobStore, NewArticle
    from factx._store import Store

    Store(tmp_path / "s.sqlite3").close()
    jobs = JobStore(tmp_path / "s.sqlite3")
    start = threading.Barrier(20)

    def submit(i: int) -> str | None:
        start.wait()
        try:
            owner = "a" if i % 2 else "b"
            return jobs.create(owner, [NewArticle(f"t{i}", None, str(i))], max_in_flight=5)
        except JobLimitError:
            return None

    with ThreadPoolExecutor(20) as pool:
        got = list(pool.map(submit, range(20)))
    accepted = [j for j in got if j is not None]
    assert len(accepted) == 10  # five per owner, however the burst was batched
    assert all(jobs.status(j) is not None for j in accepted)
    assert jobs.pending_total() == 10
    jobs.close()


def test_a_worker_survives_an_error_and_drains_the_rest(tmp_path: Path) -> None:
    from factx._engine import Workers
    from factx._jobs import JobStore, NewArticle
    from factx._store import Store

    Store(tmp_path / "s.sqlite3").close()
    jobs = JobStore(tmp_path / "s.sqlite3")

    class Stub:  # a Pipeline that answers at once
        prompt_version = "v"

        def one(self, item: factx.Item, **kw: Any) -> tuple[ArticleFacts, str]:
            text = item.text or ""
            return ArticleFacts(article_id=item.article_id or "", text_sha256="", text=text), (
                "extracted"
            )

        def stop(self) -> None:
            pass

    real_finish, calls = jobs.finish, []

    def finish_failing_once(*args: Any) -> None:
        calls.append(args)
        if len(calls) == 1:
            raise sqlite3.OperationalError("disk I/O error")
        real_finish(*args)

    jobs.finish = finish_failing_once  # type: ignore[method-assign]
    job = jobs.create(
        "o", [NewArticle(f"t{i}", None, str(i)) for i in range(3)], max_in_flight=None
    )
    w = Workers(Stub(), jobs, workers=1, run_id=1, idle_wait_s=0.05)  # type: ignore[arg-type]
    w.start()
    try:
        deadline = time.monotonic() + 10
        while (st := jobs.status(job)) is not None and st.done < 2:
            assert time.monotonic() < deadline, st
            time.sleep(0.02)
    finally:
        w.stop()
    assert (st.done, st.running) == (2, 1)  # the failed write left one for the next start
    jobs.close()


def test_client_maps_an_unreachable_service() -> None:
    with Client(f"http://127.0.0.1:{free_port()}") as c:
        with pytest.raises(factx.ServiceUnavailableError, match="cannot reach"):
            c.status("0" * 32)
    assert issubclass(factx.ServiceUnavailableError, factx.ServiceError)
    assert issubclass(factx.ServiceError, factx.FactxError)


# -- durability -----------------------------------------------------------------------------


def _serve_cmd(base_url: str, store: Path, port: int) -> list[str]:
    return [
        sys.executable, "-c", "from factx._cli import main; main()", "serve",
        "--port", str(port), "--base-url", base_url, "-m", RECORD_MODEL,
        "--store", str(store), "--timeout", "10", "-j", "2",
        # The test articles are copies that ask the same questions: without this the answer
        # cache serves them at once, and a kill or a Ctrl-C would not land mid-job.
        "--no-answer-cache",
    ]  # fmt: skip


def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "factx serve exited"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise AssertionError("factx serve did not come up")


def _rows(store: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        return db.execute(sql).fetchall()


def test_kill_9_mid_job_then_restart_loses_and_duplicates_nothing(
    replay: ReplayServer, tmp_path: Path
) -> None:
    n = 16
    items = [*articles(n), {"text": "  ", "id": "leer"}]
    # The undisturbed run, as the disturbed one without the answer cache (see _serve_cmd).
    with serving(replay.base_url, tmp_path / "ref", answer_cache=False) as url, Client(url) as c:
        ref_job = c.submit(items)
        assert c.wait(ref_job, poll_s=0.05)["state"] == "partial"
        # Usage differs by design: the reference may answer copies from the answer cache.
        want = [r.model_dump_json() for r in c.results(ref_job, include_flagged=True)]
    store, log = tmp_path / "store.sqlite3", tmp_path / "serve.log"
    with FaultProxy(replay.base_url, latency_s=0.1) as slow, log.open("ab") as err:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(_serve_cmd(slow.base_url, store, port), stderr=err)
        try:
            _wait_up(url, proc)
            engine = httpx.get(url + "/healthz").json()["engine_pid"]
            with Client(url) as c:
                job = c.submit(items)
                deadline = time.monotonic() + 60
                while c.status(job)["done"] < 3 and time.monotonic() < deadline:
                    time.sleep(0.01)
                before = c.status(job)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert 3 <= before["done"] < n, before
        assert _gone(engine)  # the engine died with the service: nothing writes behind us
        assert _rows(store, "SELECT COUNT(*) FROM job_articles WHERE state='running'")[0][0] >= 1
        # Restart on the same store: the job resumes by itself.
        proc = subprocess.Popen(_serve_cmd(slow.base_url, store, port), stderr=err)
        try:
            _wait_up(url, proc)
            with Client(url) as c:
                final = c.wait(job, poll_s=0.05, timeout=120)
                got = [r.model_dump_json() for r in c.results(job, include_flagged=True)]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    assert final["state"] == "partial" and (final["done"], final["failed"]) == (n, 1)
    assert got == want  # nothing lost, same results
    # Nothing extracted twice: one stored article and one set of calls per cache key.
    assert _rows(store, "SELECT COUNT(*), COUNT(DISTINCT cache_key) FROM articles") == [(n, n)]
    per_key = "SELECT cache_key, COUNT(*) FROM calls WHERE cache_key IS NOT NULL GROUP BY 1"
    assert _rows(store, per_key) == _rows(tmp_path / "ref" / "store.sqlite3", per_key)
    assert "Traceback" not in log.read_text("utf-8")


def test_ctrl_c_mid_job_stops_cleanly_and_the_job_resumes(
    replay: ReplayServer, tmp_path: Path
) -> None:
    items = articles(8)
    store, log = tmp_path / "store.sqlite3", tmp_path / "serve.log"
    with FaultProxy(replay.base_url, latency_s=0.1) as slow, log.open("ab") as err:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        cmd = _serve_cmd(slow.base_url, store, port)
        # Its own session: a Ctrl-C in a terminal goes to the whole process group.
        proc = subprocess.Popen(cmd, stderr=err, start_new_session=True)
        try:
            _wait_up(url, proc)
            with Client(url) as c:
                job = c.submit(items)
                while c.status(job)["done"] < 1:
                    time.sleep(0.01)
            os.killpg(proc.pid, signal.SIGINT)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        # Articles in flight went back to the queue, none is left running.
        states = dict(_rows(store, "SELECT state, COUNT(*) FROM job_articles GROUP BY 1"))
        assert "running" not in states and states.get("pending", 0) >= 1, states
        proc = subprocess.Popen(cmd, stderr=err, start_new_session=True)
        try:
            _wait_up(url, proc)
            with Client(url) as c:
                final = c.wait(job, poll_s=0.05, timeout=120)
                got = c.results(job)
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=60)
    assert final["state"] == "succeeded" and [r.article_id for r in got] == [a["id"] for a in items]
    assert _rows(store, "SELECT COUNT(*), COUNT(DISTINCT cache_key) FROM articles") == [(8, 8)]
    assert "Traceback" not in log.read_text("utf-8")


def test_the_engine_takes_its_own_children_down() -> None:
    """What the engine does when the service dies: its children's process groups go too
    (the embedded llama.cpp server runs in a session of its own)."""
    code = (
        "import subprocess, sys, time\n"
        "from factx._engine import _kill_own_children\n"
        "p = subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
        "q = subprocess.Popen(['sleep', '60'])\n"
        "_kill_own_children()\n"
        "print(p.wait(10), q.wait(10))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.split() == ["-9", "-9"], out.stderr


def test_cli_and_service_share_one_store(replay: ReplayServer, tmp_path: Path) -> None:
    items = articles(2)
    with serving(replay.base_url, tmp_path) as url, Client(url) as c:
        c.wait(c.submit(items), poll_s=0.05)
    folder = tmp_path / "in"
    folder.mkdir()
    for a in items:
        (folder / f"{a['id']}.txt").write_text(a["text"], encoding="utf-8")
        (folder / f"{a['id']}.meta.json").write_text(
            json.dumps({"published": a["published"]}), encoding="utf-8"
        )
    res = CliRunner().invoke(
        cli,
        ["extract", str(folder), "--base-url", replay.base_url, "-m", RECORD_MODEL,
         "--store", str(tmp_path / "store.sqlite3"), "--stats"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "0 extracted, 2 cached" in res.stderr and "llm_calls=0 " in res.stderr


# -- the review page in Chromium -------------------------------------------------------------


def test_review_page_renders_from_the_service_in_chromium(
    replay: ReplayServer, tmp_path: Path
) -> None:
    from .test_report import _run_chromium

    with serving(replay.base_url, tmp_path) as url, Client(url) as c:
        job = c.submit(articles(4))
        c.wait(job, poll_s=0.05)
        results = c.results(job)
        grounded = sum(1 for r in results for f in r.facts() if f.char_start is not None)
        report = c.check(job)
        dom = _run_chromium(tmp_path, "--dump-dom", f"{url}/v1/jobs/{job}/report")
    assert grounded > 0
    # The page's script ran and highlighted every grounded fact at its offsets.
    assert f'data-ready="{grounded}"' in dom
    ids = set()
    for m in re.finditer(r'<mark class="ev [^"]*" data-facts="([^"]+)"', dom):
        ids.update(m.group(1).split())
    assert len(ids) == grounded
    # Each finding is on the page, linked to the highlighted spans of its facts.
    assert report.findings
    linked = dict(
        re.findall(r'<li class="finding [^"]*" id="finding-(\d+)"[^>]*data-facts="([^"]*)"', dom)
    )
    assert sorted(map(int, linked)) == list(range(len(report.findings)))
    for fids in linked.values():
        assert fids and set(fids.split()) <= ids


def test_article_facts_round_trip_through_ndjson(replay: ReplayServer, tmp_path: Path) -> None:
    with serving(replay.base_url, tmp_path) as url, Client(url) as c:
        job = c.submit(articles(2))
        c.wait(job, poll_s=0.05)
        r = httpx.get(f"{url}/v1/jobs/{job}/results", params={"include_flagged": True})
    lines = r.text.splitlines()
    assert len(lines) == 2
    assert all(ArticleFacts.model_validate_json(x).status == "ok" for x in lines)
