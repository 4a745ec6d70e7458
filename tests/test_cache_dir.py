"""The store and the model cache live in the platform's cache folder: ``$XDG_CACHE_HOME``
is honoured (read by the CLI, or by ``Settings``' default through platformdirs)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from factx import Settings
from factx._cli import cli

from .faults import RECORD_MODEL, ReplayServer, recorded_articles, require_replay_coverage


def test_settings_default_follows_xdg_cache_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    s = Settings()
    assert s.cache_dir == tmp_path / "xdg" / "factx"
    assert s.resolved_store_path == tmp_path / "xdg" / "factx" / "factx.sqlite3"


def test_cli_puts_the_store_under_xdg_cache_home(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    require_replay_coverage(tmp_path_factory.mktemp("coverage"))
    good = tmp_path / "good.txt"
    shutil.copyfile(recorded_articles()[0], good)
    home, xdg = tmp_path / "home", tmp_path / "xdg"
    with ReplayServer() as replay:
        res = CliRunner(env={"HOME": str(home), "XDG_CACHE_HOME": str(xdg)}).invoke(
            cli, ["extract", str(good), "--base-url", replay.base_url, "-m", RECORD_MODEL]
        )
    assert res.exit_code == 0, res.output
    store = xdg / "factx" / "factx.sqlite3"
    db = sqlite3.connect(store)
    assert db.execute("SELECT COUNT(*) FROM articles").fetchone() == (1,)
    db.close()
    assert not home.exists()  # nothing under ~/.cache
