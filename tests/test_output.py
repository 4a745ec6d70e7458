"""``-o``: a regular file is replaced whole at the end; devices, FIFOs and ``-`` are written
in place (renaming over ``/dev/null`` would replace the device with a file)."""

from __future__ import annotations

import os
import shutil
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from factx import ArticleFacts
from factx._cli import cli

from .faults import RECORD_MODEL, ReplayServer, recorded_articles, require_replay_coverage

GOOD = recorded_articles()[0]


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplayServer]:
    require_replay_coverage(tmp_path_factory.mktemp("coverage"))
    with ReplayServer() as server:
        yield server


def _extract(replay: ReplayServer, tmp: Path, out: str) -> tuple[int, str, str]:
    good = tmp / "in" / "good.txt"
    good.parent.mkdir(exist_ok=True)
    shutil.copyfile(GOOD, good)
    args = ["extract", str(good), "-o", out, "--store", str(tmp / "s.sqlite3")]
    res = CliRunner().invoke(cli, [*args, "--base-url", replay.base_url, "-m", RECORD_MODEL])
    return res.exit_code, res.stdout, res.stderr


def test_fifo_is_written_in_place(replay: ReplayServer, tmp_path: Path) -> None:
    fifo = tmp_path / "out" / "pipe"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text("utf-8")), daemon=True)
    reader.start()
    code, _, err = _extract(replay, tmp_path, str(fifo))
    reader.join(timeout=30)
    assert code == 0, err
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still a FIFO, not a regular file
    (line,) = got[0].splitlines()
    assert ArticleFacts.model_validate_json(line).article_id == "good"
    assert os.listdir(fifo.parent) == ["pipe"]  # no temp file beside it


def test_character_device_is_written_in_place_not_replaced(
    replay: ReplayServer, tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("mknod of a character device needs root")
    null = tmp_path / "out" / "null"
    null.parent.mkdir()
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a twin of /dev/null
        null.open("w").close()
    except PermissionError as e:
        pytest.skip(f"this container cannot make or open device nodes: {e}")
    code, _, err = _extract(replay, tmp_path, str(null))
    assert code == 0, err
    assert stat.S_ISCHR(null.stat().st_mode)
    assert null.stat().st_rdev == os.makedev(1, 3)
    assert os.listdir(null.parent) == ["null"]


def test_dash_is_standard_output(replay: ReplayServer, tmp_path: Path) -> None:
    code, out, err = _extract(replay, tmp_path, "-")
    assert code == 0, err
    assert ArticleFacts.model_validate_json(out.splitlines()[0]).article_id == "good"
    assert not (tmp_path / "-").exists()


def test_symlink_to_a_file_keeps_the_link(replay: ReplayServer, tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    code, _, err = _extract(replay, tmp_path, str(link))
    assert code == 0, err
    assert link.is_symlink() and "old" not in real.read_text("utf-8")
    assert ArticleFacts.model_validate_json(real.read_text("utf-8")).article_id == "good"
