"""Only complete answers are cached: a ``partial`` article is asked again on the next run,
one whose every question failed is ``failed``, and ``--refresh`` asks everything again."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from factx import ArticleFacts
from factx._cli import cli
from factx._store import Store

from .faults import (
    RECORD_MODEL,
    FaultProxy,
    ReplayServer,
    recorded_articles,
    require_replay_coverage,
)

GOOD = recorded_articles()[0]


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplayServer]:
    require_replay_coverage(tmp_path_factory.mktemp("coverage"))
    with ReplayServer() as server:
        yield server


def _extract(proxy: FaultProxy, tmp: Path, *extra: str) -> tuple[int, str, list[ArticleFacts]]:
    good = tmp / "in" / "good.txt"
    if not good.exists():
        good.parent.mkdir()
        shutil.copyfile(GOOD, good)
        shutil.copyfile(GOOD.with_name(GOOD.stem + ".meta.json"), good.with_suffix(".meta.json"))
    out = tmp / "facts.jsonl"
    args = ["extract", str(good), "-o", str(out), "--store", str(tmp / "s.sqlite3")]
    args += ["--base-url", proxy.base_url, "-m", RECORD_MODEL, "--timeout", "5", *extra]
    res = CliRunner().invoke(cli, args)
    lines = [ArticleFacts.model_validate_json(x) for x in out.read_text("utf-8").splitlines()]
    return res.exit_code, res.stderr, lines


def _prose(body: object) -> str:
    return "Das lässt sich so nicht sagen; die Lage ist kompliziert."


def test_prose_for_every_question_is_failed_then_asked_again(
    replay: ReplayServer, tmp_path: Path
) -> None:
    with FaultProxy(replay.base_url, substitute=_prose, envelope=replay.envelope) as stub:
        code, err, (r,) = _extract(stub, tmp_path, "--include-flagged")
    assert stub.log.requests > 0
    assert code == 1, err
    assert r.status == "failed"
    assert {e.error for e in r.errors if e.stage == "extract"} == {"BadModelOutputError"}
    assert f"failed: {tmp_path / 'in' / 'good.txt'}: BadModelOutputError: " in err
    assert "0 extracted, 0 cached, 1 failed" in err
    with Store(tmp_path / "s.sqlite3") as store:
        assert (store.count("articles"), store.count("failures")) == (0, 1)
    # The endpoint works now: the rerun asks (and gets) every answer.
    with FaultProxy(replay.base_url) as working:
        code, err, (r,) = _extract(working, tmp_path)
    assert working.log.requests > 0
    assert code == 0, err
    assert r.status == "ok" and r.facts()
    assert "1 extracted, 0 cached, 0 failed" in err


def test_partial_is_stored_warned_and_asked_again(replay: ReplayServer, tmp_path: Path) -> None:
    # Request 1 is the json_schema probe; the first question then gets two schema
    # violations in a row and is lost, the others are answered.
    with FaultProxy(replay.base_url, script=[None, "schema", "schema"]) as proxy:
        code, err, (r,) = _extract(proxy, tmp_path)
    assert code == 0, err
    assert r.status == "partial" and r.facts()
    good = tmp_path / "in" / "good.txt"
    assert f"partial: {good}: 1 question(s) lost, asked again on the next run; " in err
    assert "last: BadModelOutputError: " in err
    with Store(tmp_path / "s.sqlite3") as store:  # visible in the store
        (stored,) = store.articles()
        assert stored.status == "partial"
    with FaultProxy(replay.base_url) as proxy:
        code, err, (again,) = _extract(proxy, tmp_path)
    assert proxy.log.requests > 0  # not served from the cache
    assert code == 0 and again.status == "ok"
    assert "1 extracted, 0 cached, 0 failed" in err and "partial:" not in err
    with Store(tmp_path / "s.sqlite3") as store:  # the complete result replaced it
        assert [a.status for a in store.articles()] == ["ok"]
    # Complete now: a cache hit; --refresh asks again regardless.
    with FaultProxy(replay.base_url) as proxy:
        code, err, _ = _extract(proxy, tmp_path)
    assert proxy.log.requests == 0 and "0 extracted, 1 cached, 0 failed" in err
    with FaultProxy(replay.base_url) as proxy:
        code, err, (fresh,) = _extract(proxy, tmp_path, "--refresh")
    assert proxy.log.requests > 0 and "1 extracted, 0 cached, 0 failed" in err
    assert fresh.facts() == again.facts()
    with Store(tmp_path / "s.sqlite3") as store:
        assert store.count("articles") == 1
