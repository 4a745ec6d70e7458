"""An API key never reaches the store, logs, cassettes, error messages or ``--verbose``.

A fake key is used against the cassette replay, behind a proxy that, like a careless
server, quotes the request's ``Authorization`` header back in its error messages. Then
every artefact of the runs is searched for it.
"""

from __future__ import annotations

import functools
import logging
import shutil
from pathlib import Path

import pytest
import vcr
from click.testing import CliRunner

import factx._batch
from factx import Pipeline, Settings
from factx._batch import Item
from factx._cli import cli
from factx._client import LLM

from .conftest import SECRET_HEADERS
from .faults import (
    CASSETTES,
    RECORD_MODEL,
    FaultProxy,
    ReplayServer,
    recorded_articles,
    require_replay_coverage,
    settings_for,
)

# Not "sk-…": the generic key-like masking must not be what saves us.
FAKE_KEY = "factx-FAKE-key-5f2d9c0e7b1a4d86"


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_the_key_is_nowhere(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_replay_coverage(tmp_path / "coverage")
    work = tmp_path / "work"
    work.mkdir()
    for src in recorded_articles():
        shutil.copyfile(src, work / src.name)
    store, out = work / "store.sqlite3", work / "facts.jsonl"
    args = [
        "extract", str(work), "-o", str(out), "--store", str(store), "-m", RECORD_MODEL,
        "--timeout", "2", "--verbose", "--stats",
    ]  # fmt: skip
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    with ReplayServer() as replay:
        # 1. Every call fails with an error text that quotes the key: failures everywhere.
        with FaultProxy(
            replay.base_url,
            rate=1.0,
            kinds=["500", "429"],
            echo_authorization=True,
            retry_after="0",
        ) as proxy:
            monkeypatch.setattr("factx._client._BACKOFF", lambda state: 0.0)
            # No real waits: the breaker's pauses (10, 30, 60 s) pass at once.
            monkeypatch.setattr(factx._batch, "LLM", functools.partial(LLM, sleep=lambda _: None))
            res = CliRunner().invoke(
                cli, [*args, "--base-url", proxy.base_url, "--api-key", FAKE_KEY]
            )
            outputs += [res.stdout, res.stderr]
            assert res.exit_code == 1
            assert "TransportError" in res.stderr and "(your key: ***)" in res.stderr
            assert proxy.log.authorization and set(proxy.log.authorization) == {
                f"Bearer {FAKE_KEY}"
            }  # the key was really sent
        # 2. The same from the environment, healthy endpoint: results in the store.
        with FaultProxy(replay.base_url, echo_authorization=True) as proxy:
            res = CliRunner(env={"OPENAI_API_KEY": FAKE_KEY}).invoke(
                cli, [*args, "--base-url", proxy.base_url]
            )
            outputs += [res.stdout, res.stderr]
            assert res.exit_code == 0, res.output
            assert set(proxy.log.authorization) == {f"Bearer {FAKE_KEY}"}
        # 3. A cassette recorded with the project's vcr settings.
        recorder = vcr.VCR(filter_headers=SECRET_HEADERS, record_mode="all")
        cassette = tmp_path / "cassettes" / "recorded.yaml"
        settings = settings_for(replay.base_url, tmp_path / "rec", api_key=FAKE_KEY)
        with recorder.use_cassette(str(cassette)), Pipeline(settings) as pipe:
            results = list(pipe.run([Item(path=recorded_articles()[0])]))
        assert results[0].status == "ok" and cassette.exists()
        # 4. Error messages and logs of the library itself (the CLI quiets instructor).
        monkeypatch.setattr(logging.getLogger("instructor"), "level", logging.NOTSET)
        caplog.clear()
        with FaultProxy(replay.base_url, rate=1.0, kinds=["503"], echo_authorization=True) as p:
            s = settings_for(p.base_url, tmp_path / "lib", api_key=FAKE_KEY)
            with Pipeline(s, sleep=lambda _: None) as pipe:
                failed = list(pipe.run([Item(path=recorded_articles()[0])]))
        outputs += [e.message for r in failed for e in r.errors]
        assert failed[0].status == "failed"
        library_logs = [r.getMessage() for r in caplog.records if r.name.startswith("instructor")]
        assert any("(your key: ***)" in m for m in library_logs)

    verbose = "\n".join(outputs)
    assert "settings: Settings(" in verbose and "retrying in" in verbose  # --verbose spoke
    assert FAKE_KEY not in verbose
    assert FAKE_KEY not in "\n".join(r.getMessage() for r in caplog.records)
    assert FAKE_KEY not in "\n".join(library_logs)
    assert FAKE_KEY not in repr(Settings(api_key=FAKE_KEY))
    assert _files_containing(tmp_path, FAKE_KEY.encode()) == []  # store, WAL, output, cassette
    assert _files_containing(CASSETTES, FAKE_KEY.encode()) == []
    assert b"authorization" not in cassette.read_bytes().lower()
    assert store.exists() and Path(f"{store}-wal").exists() or store.stat().st_size > 0
