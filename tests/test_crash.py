"""Crash safety: ``factx extract`` killed at random points, interrupted, terminated.

The command runs as a real subprocess against the cassette replay (through the fault
proxy, which only adds latency so that kills land mid-batch). Whatever happens to it, a
rerun must produce exactly the output of a run that was never disturbed, and the store must
hold every article once.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import IO

import pytest

from .faults import (
    RECORD_MODEL,
    FaultProxy,
    ReplayServer,
    recorded_articles,
    require_replay_coverage,
)

N_ARTICLES = 24
KILLS = 20
KILL_LATENCY_S = 0.1
SIGNAL_LATENCY_S = 0.5


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultProxy]:
    require_replay_coverage(tmp_path_factory.mktemp("coverage"))
    with ReplayServer() as replay, FaultProxy(replay.base_url, latency_s=0.03) as p:
        yield p


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Articles with distinct dates (so distinct cache keys) and the recorded questions."""
    folder = tmp_path_factory.mktemp("in")
    sources = recorded_articles()
    for i in range(N_ARTICLES):
        src = sources[i % len(sources)]
        dst = folder / f"{i:02d}_{src.stem}.txt"
        shutil.copyfile(src, dst)
        meta = json.loads(src.with_name(src.stem + ".meta.json").read_text(encoding="utf-8"))
        meta["published"] = (date.fromisoformat(meta["published"]) + timedelta(days=i)).isoformat()
        dst.with_name(dst.stem + ".meta.json").write_text(json.dumps(meta), encoding="utf-8")
    (folder / "zz_leer.txt").write_bytes(b"")  # a failure is written too
    return folder


def _command(proxy: FaultProxy, inputs: Path, out: Path, store: Path) -> list[str]:
    return [
        sys.executable, "-c", "from factx._cli import main; main()",
        "extract", str(inputs), "-o", str(out), "--store", str(store),
        "--base-url", proxy.base_url, "-m", RECORD_MODEL, "--timeout", "10",
        # The copies ask the same questions; with the answer cache a rerun would ask almost
        # nothing, and kills would not land mid-batch (tests/test_resume_answers.py covers it).
        "--no-answer-cache",
    ]  # fmt: skip


def _default_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored, and a program keeps ignoring what
    # it was started ignoring (as factx does, rightly). A user's Ctrl-C reaches a foreground
    # factx: give the child the default, whatever the test runner was started with.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _popen(cmd: list[str], err: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, preexec_fn=_default_sigint)


def _run(cmd: list[str], log: Path, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    with log.open("ab") as err:
        return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=err, timeout=timeout)


@pytest.fixture(scope="module")
def reference(proxy: FaultProxy, inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("ref")
    out = tmp / "facts.jsonl"
    done = _run(_command(proxy, inputs, out, tmp / "store.sqlite3"), tmp / "stderr.txt")
    assert done.returncode == 1, (tmp / "stderr.txt").read_text()  # zz_leer.txt failed
    assert len(out.read_text("utf-8").splitlines()) == N_ARTICLES + 1
    return tmp


@contextlib.contextmanager
def _slow(proxy: FaultProxy, latency_s: float = KILL_LATENCY_S) -> Iterator[None]:
    """Slower answers, so that the rest of a batch outlasts a signal on any machine."""
    latency, proxy.latency_s = proxy.latency_s, latency_s
    try:
        yield
    finally:
        proxy.latency_s = latency


def _db(store: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{store}?mode=ro", uri=True)


def _rows(store: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(_db(store)) as db:
        return db.execute(sql).fetchall()


def _assert_same_store(store: Path, ref: Path) -> None:
    assert _rows(store, "PRAGMA integrity_check") == [("ok",)]
    per_key = "SELECT cache_key, status, result_json FROM articles ORDER BY cache_key"
    assert _rows(store, per_key) == _rows(ref, per_key)  # nothing lost, nothing twice
    facts = "SELECT cache_key, type, idx, fact_json FROM facts ORDER BY 1, 2, 3"
    assert _rows(store, facts) == _rows(ref, facts)
    calls = "SELECT cache_key, COUNT(*) FROM calls WHERE cache_key IS NOT NULL GROUP BY 1"
    assert _rows(store, calls) == _rows(ref, calls)


def test_kill_9_at_random_points_loses_and_duplicates_nothing(
    proxy: FaultProxy, inputs: Path, reference: Path, tmp_path: Path
) -> None:
    out, store, log = tmp_path / "facts.jsonl", tmp_path / "store.sqlite3", tmp_path / "err"
    cmd = _command(proxy, inputs, out, store)
    rng = random.Random(20)
    killed = 0
    # The kill point is counted in requests, not seconds, so it lands mid-batch on a slow
    # or a fast machine alike: after the k-th request reached the server, somewhere in its
    # answer, the parsing or the store write that follows.
    with _slow(proxy):
        for _ in range(KILLS):
            with log.open("ab") as err:
                start = proxy.log.requests
                proc = _popen(cmd, err)
                try:
                    k = rng.randint(1, 6)
                    while proc.poll() is None and proxy.log.requests - start < k:
                        time.sleep(0.005)
                    time.sleep(rng.uniform(0, 2 * KILL_LATENCY_S))
                    if proc.poll() is None:
                        proc.send_signal(signal.SIGKILL)
                        killed += 1
                finally:
                    proc.wait(timeout=30)
    assert killed >= KILLS - 2  # the batch is long enough for every kill to hit it
    final = _run(cmd, log)
    assert final.returncode == 1  # only zz_leer.txt fails
    assert out.read_text("utf-8") == (reference / "facts.jsonl").read_text("utf-8")
    _assert_same_store(store, reference / "store.sqlite3")
    # Killed runs never finished; every finished article was stored exactly once.
    assert _rows(store, "SELECT COUNT(*) FROM articles") == [(N_ARTICLES,)]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_finishes_the_write_and_resumes(
    sig: signal.Signals, code: int, proxy: FaultProxy, inputs: Path, reference: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    out, store, log = tmp_path / "facts.jsonl", tmp_path / "store.sqlite3", tmp_path / "err"
    cmd = _command(proxy, inputs, out, store)
    # Half a second an answer: the batch's rest outlasts the signal however slow the poll
    # below is on a loaded machine (the articles ask only a few questions each).
    with _slow(proxy, SIGNAL_LATENCY_S), log.open("ab") as err:
        proc = _popen(cmd, err)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with contextlib.suppress(sqlite3.Error):
                    if store.exists() and _rows(store, "SELECT COUNT(*) FROM articles")[0][0]:
                        break
                time.sleep(0.05)
            proc.send_signal(sig)
            returncode = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text("utf-8")
    assert returncode == code, text
    assert "interrupted: finished articles are in the store" in text
    assert "Traceback" not in text
    # The -o file is all or nothing: an interrupted run leaves none, and no temp file.
    assert not out.exists() and not list(tmp_path.glob(".facts.jsonl.*"))
    stored = _rows(store, "SELECT COUNT(*) FROM articles")[0][0]
    assert isinstance(stored, int) and 1 <= stored < N_ARTICLES
    assert _rows(store, "SELECT COUNT(*) FROM runs WHERE finished_at IS NULL") == [(0,)]
    # Resume: the stored articles cost nothing, the rest is extracted.
    final = _run(cmd, log)
    assert final.returncode == 1
    assert f"{N_ARTICLES - stored} extracted, {stored} cached, 1 failed" in log.read_text("utf-8")
    assert out.read_text("utf-8") == (reference / "facts.jsonl").read_text("utf-8")
    _assert_same_store(store, reference / "store.sqlite3")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("fault", ["slow", "429"], ids=["hanging-call", "retry-after-wait"])
def test_a_signal_stops_within_two_seconds_whatever_the_endpoint_does(
    sig: signal.Signals, fault: str, inputs: Path, tmp_path: Path
) -> None:
    """Once an article is stored, the endpoint hangs (an answer 10 minutes away, against a
    20 s timeout and 5 attempts) or asks for a 30 s pause (429, Retry-After: 30); the
    signal must end the run within 2 s anyway, keeping the stored article."""
    out, store, log = tmp_path / "facts.jsonl", tmp_path / "store.sqlite3", tmp_path / "err"
    with (
        ReplayServer() as replay,
        FaultProxy(replay.base_url, slow_s=600, retry_after="30") as proxy,
        log.open("ab") as err,
    ):
        cmd = _command(proxy, inputs, out, store)
        cmd[cmd.index("--timeout") + 1] = "20"
        proc = _popen(cmd, err)
        try:
            # A deadline for a loaded machine, not a speed test: the loop ends at the first
            # stored article.
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and proc.poll() is None:
                with contextlib.suppress(sqlite3.Error):
                    if store.exists() and _rows(store, "SELECT COUNT(*) FROM articles")[0][0]:
                        break
                time.sleep(0.02)
            proxy.kinds, proxy.rate = (fault,), 1.0  # from now on every request
            while time.monotonic() < deadline and not proxy.log.faults[fault]:
                time.sleep(0.01)
            time.sleep(0.3)  # inside the hanging call, or inside the 30 s wait
            sent = time.monotonic()
            proc.send_signal(sig)
            returncode = proc.wait(timeout=60)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text("utf-8")
    assert returncode == 128 + sig, text
    assert "interrupted: finished articles are in the store" in text
    assert "Traceback" not in text
    print(f"\n{fault} {sig.name}: stopped in {took:.2f} s")  # the figure for docs; run with -s
    assert took < 2.0, f"stopping took {took:.2f} s"
    stored = _rows(store, "SELECT COUNT(*) FROM articles")[0][0]
    assert isinstance(stored, int) and stored >= 1
    assert _rows(store, "SELECT COUNT(*) FROM runs WHERE finished_at IS NULL") == [(0,)]
