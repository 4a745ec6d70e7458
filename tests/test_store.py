"""The SQLite store: migrations, atomic article writes, the cache key."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factx import ArticleFacts, Statement, StoreError
from factx._store import MIGRATIONS, Store, cache_key, code_version, source_hash


def _result(article_id: str = "a", n: int = 2) -> ArticleFacts:
    text = "„Wir sind bereit zu reden“, sagte Lawrow. " * n
    facts = tuple(
        Statement(
            speaker="Sergej Lawrow", quote="Wir sind bereit zu reden",
            evidence="Wir sind bereit zu reden", char_start=1 + i * 43, char_end=25 + i * 43,
            alignment="exact",
        )
        for i in range(n)
    )  # fmt: skip
    return ArticleFacts(
        article_id=article_id, text_sha256="h" + article_id, text=text, statements=facts
    )


def test_migrations_apply_once_and_wal_is_on(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with Store(path) as s:
        assert s.schema_version == len(MIGRATIONS)
    with Store(path) as s:  # reopening does not re-apply
        assert s.schema_version == len(MIGRATIONS)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT COUNT(*) FROM migrations").fetchone()[0] == len(MIGRATIONS)
    db.close()


def test_put_get_roundtrip_with_facts_and_calls(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite3") as s:
        run = s.start_run(model="m", strategy="questions", prompt_version="p")
        r = _result()
        s.put("k1", r, run_id=run, calls=[("speaker", 100, 9, 1.5, 1, None)] * 3)
        assert s.get("k1") == r
        assert s.get("nope") is None
        assert (s.count("articles"), s.count("facts"), s.count("calls")) == (1, 2, 3)
        assert s.run_stats(run) == {"calls": 3, "prompt_tokens": 300, "completion_tokens": 27}
        s.put("k1", r, run_id=run)  # replacing keeps one article and its facts once
        assert (s.count("articles"), s.count("facts")) == (1, 2)


def test_forget_empties_the_cache_but_the_newest_answers_and_the_runs() -> None:
    with Store(":memory:") as s:
        run = s.start_run(model="m", strategy="questions", prompt_version="p")
        s.put("k1", _result(), run_id=run, calls=[("speaker", 100, 9, 1.5, 1, None)])
        for q in ("q1", "q2", "q3"):
            s.put_answer(q, "speaker", "{}", 100, 9)
        s.put_answer("q1", "speaker", '{"new": 1}', 100, 9)  # replaced: now the newest
        s.record_failure(run_id=run, article_id="b", path=None, error="E", message="m")
        s.forget(keep_answers=2)
        assert s.get("k1") is None
        assert [s.get_answer(q) for q in ("q1", "q2", "q3")] == ['{"new": 1}', None, "{}"]
        tables = ("articles", "facts", "calls", "failures")
        assert [s.count(t) for t in tables] == [0] * 4
        assert s.count("runs") == 1
        s.forget()
        assert s.count("answers") == 0
        s.put("k1", _result(), run_id=run)  # and it takes new articles
        assert s.count("articles") == 1


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite3") as s:
        bad_calls = [("speaker", 1, 1, 0.1, 1, None), ("x",)]  # second row is malformed
        with pytest.raises(ValueError):
            s.put("k", _result(), calls=bad_calls)  # type: ignore[list-item]
        assert (s.count("articles"), s.count("facts"), s.count("calls")) == (0, 0, 0)


def test_cache_key_changes_with_every_part() -> None:
    parts = ("sha", "model", "questions", "p1", "1")
    base = cache_key(*parts)
    for i in range(len(parts)):
        changed = list(parts)
        changed[i] = changed[i] + "x"
        assert cache_key(*changed) != base
    # factx's own code is a part too: new rules, new results (the answers stay cached).
    assert cache_key(*parts, code="a") != cache_key(*parts, code="b")
    assert cache_key(*parts) == cache_key(*parts, code=code_version())


def test_the_code_version_changes_with_any_source(tmp_path: Path) -> None:
    (tmp_path / "_rules.py").write_text("X = 1\n")
    before = source_hash(tmp_path)
    (tmp_path / "_rules.py").write_text("X = 2\n")
    assert source_hash(tmp_path) != before
    (tmp_path / "_rules.py").write_text("X = 1\n")
    assert source_hash(tmp_path) == before
    (tmp_path / "notes.txt").write_text("not code")
    assert source_hash(tmp_path) == before


def test_unusable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the store"):
        Store(blocker / "sub" / "s.sqlite3")


def test_eight_processes_open_one_new_store_at_once(tmp_path: Path) -> None:
    go, rounds = tmp_path / "go", 10
    # Each process imports factx, says it is ready, waits for the same signal file, then
    # opens (and migrates) ten new stores in turn: eight migrations race for each file.
    code = (
        "import pathlib, sys, time\n"
        "from factx._store import Store\n"
        "go = pathlib.Path(sys.argv[2])\n"
        "pathlib.Path(sys.argv[3]).touch()\n"
        "while not go.exists(): time.sleep(0.001)\n"
        "for i in range(int(sys.argv[1])):\n"
        "    Store(go.with_name(f'new{i}.sqlite3')).close()\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(rounds), str(go), str(tmp_path / f"ready{i}")],
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready*"))) < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    for i in range(rounds):
        db = sqlite3.connect(tmp_path / f"new{i}.sqlite3")
        assert db.execute("SELECT version FROM migrations").fetchall() == [
            (v,) for v in range(1, len(MIGRATIONS) + 1)
        ]
        db.close()


def _corrupt_table(path: Path, table: str) -> None:
    """Overwrite the root page of ``table`` with garbage, as a bad disk sector would."""
    db = sqlite3.connect(path)
    (page_size,) = db.execute("PRAGMA page_size").fetchone()
    (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (table,)).fetchone()
    db.close()  # the last connection checkpoints the WAL into the file
    with path.open("r+b") as fh:
        fh.seek((root - 1) * page_size)
        fh.write(b"\xff" * page_size)


def test_a_damaged_store_is_a_store_error_with_a_recovery_hint(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with Store(path) as s:
        s.put("k1", _result(), calls=[("speaker", 1, 1, 0.1, 1, None)])
    _corrupt_table(path, "calls")
    with Store(path) as s:
        assert s.get("k1") == _result()  # what is not damaged still reads
        with pytest.raises(StoreError) as info:
            s.put("k2", _result("b"), calls=[("speaker", 1, 1, 0.1, 1, None)])
    message = str(info.value)
    assert message.startswith(f"the store at {path} failed: database disk image is malformed")
    assert f"`sqlite3 {path} .recover`" in message
    with Store(path) as s:
        assert s.get("k2") is None  # the failed write left nothing behind
