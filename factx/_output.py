"""Where ``factx extract`` puts what it makes: JSON lines (stdout, or a file replaced only
when the run ends), a Parquet folder written in parts, and the progress line on stderr.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ._batch import BatchStats
    from ._schemas import ArticleFacts
    from ._settings import Settings


class ParquetOutput:
    """``--out DIR``: results in the Parquet layout, written in parts as they come; an
    article already complete in DIR is not written again."""

    BATCH = 500

    def __init__(self, out_dir: Path, settings: Settings) -> None:
        try:
            from . import _parquet
        except ImportError as e:
            raise click.UsageError(
                f"--out needs the ray extra ({e.name} is missing): pip install 'factx[ray]'"
            ) from None
        from ._prompts import load_prompts

        if out_dir.exists() and not out_dir.is_dir():
            raise click.BadParameter(f"{out_dir} is not a folder", param_hint="'--out'")
        self._pq = _parquet
        self.out_dir = out_dir
        self.model = settings.model
        self.strategy = settings.resolved_strategy()
        self.prompt_version = load_prompts().version_for(self.strategy)
        self.done = _parquet.done_keys(out_dir)
        self.pending: list[_parquet.Keyed] = []
        self.lines = 0

    def write(self, result: ArticleFacts) -> None:
        key = self._pq.result_key(result, model=self.model, strategy=self.strategy,
                                  prompt_version=self.prompt_version)  # fmt: skip
        self.lines += 1
        if key in self.done:
            return
        if result.status == "ok":
            self.done.add(key)
        self.pending.append(self._pq.Keyed(result, key))
        if len(self.pending) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            self._pq.write_batch(self.out_dir, self.pending)
            self.pending = []

    def close(self) -> None:
        self._flush()

    def abort(self) -> None:
        self._flush()  # whole articles only: what finished is kept, as in the store


class Output:
    """JSON lines to stdout; to a regular file through a temp file renamed at the end; to
    a device or FIFO (``/dev/null``, a pipe) directly, since renaming over one replaces it."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._tmp: Path | None = None
        self.lines = 0
        if path is None or str(path) == "-":
            self._fh: IO[str] = sys.stdout
            self._own = False
            return
        self._own = True
        if path.exists() and path.is_dir():
            raise click.BadParameter(f"{path} is a folder", param_hint="'-o'")
        if path.exists() and not path.is_file():
            try:  # a device, FIFO or socket: write it in place
                self._fh = path.open("w", encoding="utf-8")
            except OSError as e:
                raise click.BadParameter(
                    f"cannot write {path}: {e.strerror}", param_hint="'-o'"
                ) from None
            return
        # A symlink to a file: replace the file it points to, not the link.
        target = path.resolve() if path.is_symlink() else path
        blocker = next((p for p in target.parents if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise click.BadParameter(
                f"cannot write {path}: {blocker} is not a folder", param_hint="'-o'"
            )
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        except OSError as e:
            raise click.BadParameter(
                f"cannot write {path}: {e.strerror}", param_hint="'-o'"
            ) from None
        self._target = target
        self._tmp = Path(tmp)
        self._fh = os.fdopen(fd, "w", encoding="utf-8")

    def write(self, result: ArticleFacts) -> None:
        self._fh.write(result.model_dump_json() + "\n")
        self._fh.flush()
        self.lines += 1

    def abort(self) -> None:
        if self._tmp is not None:
            self._fh.close()
            self._tmp.unlink(missing_ok=True)
            self._tmp = None
        elif self._own and not self._fh.closed:
            self._fh.close()  # a device or FIFO: what was written cannot be taken back

    def close(self) -> None:
        if self._tmp is not None:
            self._fh.close()
            os.replace(self._tmp, self._target)
            self._tmp = None
        elif self._own and not self._fh.closed:
            self._fh.close()


class Progress:
    """Done / failed / tokens on stderr: a live bar on a terminal, nothing otherwise."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import Progress, TextColumn

        self.console = Console(stderr=True)
        self.progress = Progress(
            *Progress.get_default_columns(),
            TextColumn("{task.fields[info]}"),
            console=self.console,
            disable=not self.console.is_terminal,
        )
        self.task = self.progress.add_task("extract", total=total, info="")
        self.calls = 0

    def __enter__(self) -> Progress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def notice(self, message: str) -> None:
        # Through the console, so that a live bar is not torn; never wrapped or styled.
        self.console.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)

    def call(self) -> None:
        self.calls += 1
        self.progress.update(self.task, info=f"calls {self.calls}")

    def update(self, result: ArticleFacts, outcome: str, stats: BatchStats) -> None:
        info = (
            f"done {stats.done} failed {stats.failed} "
            f"tokens {stats.prompt_tokens + stats.completion_tokens}"
        )
        self.progress.update(self.task, advance=1, info=info)
        if not self.console.is_terminal:
            self.console.print(f"{outcome}: {result.article_id}", highlight=False)
