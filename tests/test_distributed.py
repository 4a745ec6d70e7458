"""Extraction on a local Ray cluster (2 CPUs, one machine) against recorded model answers.

The 200 articles are the two project-written test articles published on many days; the
replay server answers each question with what the real model answered when it was
recorded (cassettes/), and counts every request, so "0 LLM calls" is measured at the
endpoint. Needs the ray extra.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("duckdb")

from click.testing import CliRunner  # noqa: E402

from factx import ArticleFacts, CrossCheckReport, Settings, cross_check  # noqa: E402
from factx._cli import cli  # noqa: E402
from factx._parquet import _read, read_results  # noqa: E402

from .conftest import RECORD_MODEL  # noqa: E402
from .replay import ReplayServer, articles  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

N = 200


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    import ray

    from factx._distributed import init_ray

    init_ray(num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def replay() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


def _settings(base_url: str, tmp: Path) -> Settings:
    # No answer cache: every article asks its questions, so calls are counted per article.
    return Settings(model=RECORD_MODEL, base_url=base_url, cache_dir=tmp, timeout=60,
                    answer_cache=False)  # fmt: skip


def _folder(tmp: Path, n: int) -> Path:
    src = tmp / "articles"
    src.mkdir()
    for a in articles(n):
        (src / f"{a['id']}.txt").write_text(a["text"], encoding="utf-8")
        meta = {"published": a["published"], "outlet": "factx test article"}
        (src / f"{a['id']}.meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return src


def _facts(results: list[ArticleFacts]) -> dict[str, tuple[str, str]]:
    return {
        r.article_id: (
            r.status,
            json.dumps([f.model_dump() for f in r.facts()], sort_keys=True, ensure_ascii=False),
        )
        for r in results
    }


def test_ray_run_equals_local_run_and_rerun_asks_nothing(
    ray_cluster: None, replay: ReplayServer, tmp_path: Path
) -> None:
    from factx._distributed import run

    src = _folder(tmp_path, N)
    settings = _settings(replay.base_url, tmp_path)
    before = replay.calls
    summary = run(src, tmp_path / "ray", settings, actors=2)
    assert (summary.extracted, summary.failed, summary.skipped) == (N, 0, 0)
    assert replay.calls - before >= 3 * N and not replay.misses

    local = CliRunner().invoke(
        cli,
        ["extract", str(src), "--out", str(tmp_path / "local"), "--base-url", replay.base_url,
         "-m", RECORD_MODEL, "--store", str(tmp_path / "local.sqlite3")],
    )  # fmt: skip
    assert local.exit_code == 0, local.output
    ray_results, local_results = read_results(tmp_path / "ray"), read_results(tmp_path / "local")
    assert len(ray_results) == N and all(r.status == "ok" for r in ray_results)
    assert sum(len(r.facts()) for r in ray_results) >= 3 * N
    # Fact for fact: same articles, same facts with the same offsets, flags and fields.
    assert _facts(ray_results) == _facts(local_results)
    assert [r.source for r in ray_results] == [r.source for r in local_results]

    # A rerun over the same folder skips every article before any actor asks anything.
    before = replay.calls
    again = run(src, tmp_path / "ray", settings, actors=2)
    assert (again.extracted, again.skipped, again.calls) == (0, N, 0)
    assert replay.calls == before
    assert len(_read(tmp_path / "ray", "articles")) == N  # nothing written twice

    # factx check DIR (DuckDB, out of core) agrees with the in-memory checker.
    checked = CliRunner().invoke(cli, ["check", str(tmp_path / "ray"), "--json"])
    assert checked.exit_code == 0, checked.output
    report = CrossCheckReport.model_validate_json(checked.stdout)
    assert report == cross_check(local_results)
    assert any(f.kind == "same_event" for f in report.findings)


def _actor_pids() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "_ExtractActor" in cmd:
            pids.append(int(entry))
    return pids


def test_killed_actor_every_article_exactly_once(ray_cluster: None, tmp_path: Path) -> None:
    from factx._distributed import run

    n = 80
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(a) + "\n" for a in articles(n)), encoding="utf-8")
    with ReplayServer(delay=0.1) as slow:
        settings = _settings(slow.base_url, tmp_path)
        done: dict[str, object] = {}

        def go() -> None:
            try:
                done["summary"] = run(src, tmp_path / "out", settings, actors=2)
            except BaseException as e:  # the test fails below with it
                done["error"] = e

        worker = threading.Thread(target=go)
        worker.start()
        deadline = time.monotonic() + 120
        while slow.calls < 60 and time.monotonic() < deadline:
            time.sleep(0.1)
        pids = _actor_pids()
        assert pids, "no extraction actor found"
        os.kill(pids[0], signal.SIGKILL)
        worker.join(timeout=300)
        assert not worker.is_alive()
        assert "error" not in done, done.get("error")
        assert not slow.misses
    assert not Path(f"/proc/{pids[0]}").exists()
    results = read_results(tmp_path / "out")
    assert sorted(r.article_id for r in results) == sorted(a["id"] for a in articles(n))
    assert all(r.status == "ok" for r in results)
    # Read once per cache key, whatever a retried task wrote twice.
    assert len({r.article_id for r in results}) == n


def test_an_actor_keeps_no_file_and_nothing_between_batches(
    replay: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The actor's store is in memory and emptied after each batch but for its newest
    answers: a killed actor leaves no file behind, and a live one does not grow with every
    article it extracts."""
    import tempfile

    import pyarrow as pa

    from factx import _distributed
    from factx._distributed import _ExtractActor

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # where a temporary file would go
    monkeypatch.setattr(_distributed, "_ACTOR_ANSWERS", 2)
    settings = _settings(replay.base_url, tmp_path / "cache").replace(answer_cache=True)
    actor = _ExtractActor(settings, frozenset(), str(tmp_path / "out"))
    rows = articles(4)
    for batch in (rows[:2], rows[2:]):
        out = actor(pa.Table.from_pylist(batch))
        assert out.column("outcome").to_pylist() == ["extracted"] * len(batch)
        assert [actor.pipe.store.count(t) for t in ("articles", "calls", "answers")] == [0, 0, 2]
    assert sorted(r.article_id for r in read_results(tmp_path / "out")) == sorted(
        r["id"] for r in rows
    )
    assert not any(temp.iterdir()) and not (tmp_path / "cache").exists()


def test_library_results_then_write_equals_writing_in_the_actors(
    ray_cluster: None, replay: ReplayServer, tmp_path: Path
) -> None:
    """A pipeline that takes the result rows and writes them later (``write_parquet``)
    ends with the same files' content as actors that write their own parts (``out=``)."""
    import ray

    from factx._distributed import RESULT_SCHEMA, extract_dataset, write_parquet

    rows = articles(10)
    settings = _settings(replay.base_url, tmp_path)
    results = extract_dataset(ray.data.from_items(rows), settings)
    assert results.schema().names == RESULT_SCHEMA.names
    summaries = write_parquet(results, tmp_path / "later").take_all()
    direct = extract_dataset(ray.data.from_items(rows), settings, out=tmp_path / "direct")
    assert sorted(r["cache_key"] for r in direct.take_all()) == sorted(
        r["cache_key"] for r in summaries
    )
    later, written = read_results(tmp_path / "later"), read_results(tmp_path / "direct")
    assert len(later) == 10 and all(r.status == "ok" for r in later)
    assert _facts(later) == _facts(written)


def test_cli_engine_ray(ray_cluster: None, replay: ReplayServer, tmp_path: Path) -> None:
    src = _folder(tmp_path, 12)
    args = ["extract", str(src), "--engine", "ray", "--out", str(tmp_path / "out"),
            "--base-url", replay.base_url, "-m", RECORD_MODEL, "--no-answer-cache",
            "--actors", "2", "--stats"]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "12 extracted, 0 cached, 0 failed, 0 already in" in res.stderr
    assert len(read_results(tmp_path / "out")) == 12
    res = CliRunner().invoke(cli, args)
    assert "0 extracted, 0 cached, 0 failed, 12 already in" in res.stderr
    assert "llm_calls=0" in res.stderr
    bad = CliRunner().invoke(cli, ["extract", str(src), "--engine", "ray"])
    assert bad.exit_code == 2 and "--out" in bad.output
