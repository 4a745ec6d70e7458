"""kill -9 mid-article, then rerun: the rerun asks exactly the questions not yet answered.

``factx extract`` runs as a real subprocess against the cassette replay (through the fault
proxy, which only slows each answer so that the kill lands mid-article). The replay server
counts what it serves.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from .faults import (
    RECORD_MODEL,
    FaultProxy,
    ReplayServer,
    recorded_articles,
    require_replay_coverage,
)


def _command(base_url: str, article: Path, store: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-c", "from factx._cli import main; main()",
        "extract", str(article), "-o", str(out), "--store", str(store),
        "--base-url", base_url, "-m", RECORD_MODEL, "--timeout", "10",
    ]  # fmt: skip


def _answers(store: Path) -> int:
    with contextlib.closing(sqlite3.connect(store)) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])
        except sqlite3.OperationalError:
            return 0  # the store is being created


def test_a_rerun_after_kill_9_asks_only_the_unanswered_questions(tmp_path: Path) -> None:
    require_replay_coverage(tmp_path / "coverage")
    # The article with the most questions, so that a kill can land between two of them.
    article = max(recorded_articles(), key=lambda p: len(p.read_text(encoding="utf-8")))
    src = tmp_path / article.name
    shutil.copyfile(article, src)
    meta = article.with_name(article.stem + ".meta.json")
    shutil.copyfile(meta, tmp_path / meta.name)
    with ReplayServer() as replay, FaultProxy(replay.base_url, latency_s=0.4) as proxy:
        # An undisturbed run: how many requests one article takes.
        before = replay.served
        done = subprocess.run(
            _command(proxy.base_url, src, tmp_path / "ref.sqlite3", tmp_path / "ref.jsonl"),
            capture_output=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        total = replay.served - before
        questions = _answers(tmp_path / "ref.sqlite3")
        assert questions >= 3, "too few questions to kill between them"

        # The same article, killed after two answers were stored.
        store = tmp_path / "store.sqlite3"
        proc = subprocess.Popen(
            _command(proxy.base_url, src, store, tmp_path / "out.jsonl"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if store.exists() and _answers(store) >= 2:
                    break
                time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        answered = _answers(store)
        assert 2 <= answered < questions, "the kill did not land mid-article"

        before = replay.served
        rerun = subprocess.run(
            _command(proxy.base_url, src, store, tmp_path / "out.jsonl"),
            capture_output=True, timeout=120,
        )  # fmt: skip
        assert rerun.returncode == 0, rerun.stderr.decode()
        # Every request is one question, besides the refused json_schema probe each process
        # pays once; the answered ones are not asked again.
        assert replay.served - before == total - answered
    ref = [json.loads(line) for line in (tmp_path / "ref.jsonl").read_text("utf-8").splitlines()]
    got = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text("utf-8").splitlines()]
    for r in ref + got:
        r.pop("usage")
    assert got == ref
