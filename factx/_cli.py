"""The ``factx`` command: a thin click layer. Results to stdout, progress to stderr.

This is the only module that reads environment variables (through click's ``envvar``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ._schemas import ArticleFacts, CrossCheckReport
    from ._settings import Settings

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="factx")
def cli() -> None:
    """Turn German news articles into grounded, verifiable facts."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Write the JSON lines here instead of standard output ('-': standard output). "
    "A file is replaced at the end; a device or FIFO is written as it goes.",
)
@click.option(
    "-m",
    "--model",
    envvar="FACTX_MODEL",
    show_envvar=True,
    help="Model name at the endpoint. Default: the embedded Qwen2.5-Coder-1.5B.",
)
@click.option(
    "--base-url",
    envvar="OPENAI_BASE_URL",
    show_envvar=True,
    help="OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, llama.cpp). "
    "Unset: start the embedded llama.cpp server.",
)
@click.option(
    "--api-key",
    envvar="OPENAI_API_KEY",
    show_envvar=True,
    show_default=False,
    help="API key for --base-url. Never stored or printed.",
)
@click.option(
    "--gguf",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serve this local GGUF file with the embedded server instead.",
)
@click.option(
    "--strategy",
    type=click.Choice(["auto", "questions", "whole"]),
    default="auto",
    show_default=True,
    help="questions: narrow questions (small models); "
    "whole: one schema call per chunk (strong models); auto picks by endpoint.",
)
@click.option(
    "--mode",
    type=click.Choice(["auto", "json_schema", "tools", "json"]),
    default="auto",
    show_default=True,
    help="instructor mode.",
)
@click.option(
    "-j",
    "--concurrency",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Articles in flight at once.",
)
@click.option(
    "--published",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Publication date for inputs without a .meta.json (YYYY-MM-DD).",
)
@click.option(
    "--store",
    "store_path",
    envvar="FACTX_STORE",
    show_envvar=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite store and cache. Default: factx.sqlite3 in the cache folder "
    "($XDG_CACHE_HOME/factx, else ~/.cache/factx).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=120.0,
    show_default=True,
    help="Seconds per LLM request.",
)
@click.option(
    "--token-budget",
    type=click.IntRange(min=1),
    default=60_000,
    show_default=True,
    help="Prompt + completion tokens per article, retries included.",
)
@click.option(
    "--answer-cache/--no-answer-cache",
    default=True,
    show_default=True,
    help="Keep every LLM answer in the store by its request, so that no question is paid "
    "for twice (after a kill, or a change of another prompt).",
)
@click.option(
    "--include-flagged",
    is_flag=True,
    help="Also emit facts that failed grounding or value checks (flagged).",
)
@click.option(
    "--n-ctx",
    type=click.IntRange(min=512),
    default=4096,
    show_default=True,
    envvar="FACTX_N_CTX",
    show_envvar=True,
    help="Context of the local server (embedded, or behind --base-url): the whole "
    "strategy sizes its chunks to it.",
)
@click.option(
    "--refresh",
    is_flag=True,
    help="Extract again what the store already holds (its results are replaced).",
)
@click.option("--stats", is_flag=True, help="Print a summary line of calls and tokens to stderr.")
@click.option(
    "--server-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append the embedded server's log to this file.",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Log every LLM call and retry to standard error."
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="ray: extract on Ray Data (a local cluster, or --ray-address); needs --out and the "
    "ray extra. PATHS is then one folder of .txt, a .jsonl or a .parquet of {id, text, "
    "published}.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write Parquet into this folder (one table per fact type and one of articles); a "
    "rerun skips the articles already complete there.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "parquet"]),
    default=None,
    help="jsonl (default): JSON lines to standard output or -o; parquet: the layout of "
    "--out (the default when --out is given).",
)
@click.option(
    "--ray-address",
    envvar="RAY_ADDRESS",
    show_envvar=True,
    help="Ray cluster to join (e.g. 10.0.0.1:6379, or auto). Unset: start a local one.",
)
@click.option(
    "--actors",
    type=click.IntRange(1, 1024),
    default=2,
    show_default=True,
    help="With --engine ray: actors, each one extractor and LLM client (spread them over "
    "the endpoint's concurrency).",
)
def extract(
    paths: tuple[Path, ...],
    output: Path | None,
    model: str | None,
    base_url: str | None,
    api_key: str | None,
    gguf: Path | None,
    strategy: str,
    mode: str,
    concurrency: int,
    published: datetime | None,
    store_path: Path | None,
    timeout: float,
    token_budget: int,
    answer_cache: bool,
    include_flagged: bool,
    n_ctx: int,
    refresh: bool,
    stats: bool,
    server_log: Path | None,
    verbose: bool,
    engine: str,
    out_dir: Path | None,
    fmt: str | None,
    ray_address: str | None,
    actors: int,
) -> None:
    """Extract meetings, statements, treaties and trade figures from articles.

    PATHS are .txt files or folders of them; each file may have a NAME.meta.json
    sidecar with its publication date. One JSON line per article goes to standard
    output (or -o); progress and errors go to standard error. Complete results are
    cached in the store: a rerun on unchanged input makes no LLM call, and a killed run
    resumes. A partial article (some questions lost) is stored but asked again on the
    next run; --refresh asks everything again.

    Exit status: 0 all articles extracted, 1 some failed (an article whose every question
    failed counts as failed), 2 usage error, 130/143 interrupted (Ctrl-C/SIGTERM: articles
    in flight are abandoned within about a second, finished ones stay in the store, the
    -o file is left as it was; rerun to resume).

    \b
    Examples:
      factx extract examples/ -o facts.jsonl          # embedded local model
      factx extract article.txt --published 2024-05-16
      OPENAI_API_KEY=... factx extract seeds/ --base-url https://api.openai.com/v1 -m gpt-4o-mini
      factx extract seeds/ --base-url http://127.0.0.1:11434/v1 -m qwen2.5:7b   # Ollama
      factx extract examples/ --out out/ --format parquet      # Parquet tables in out/
      factx extract in.parquet --engine ray --actors 8 --base-url http://gpu1:8000/v1 --out o/
    """
    import logging

    from ._batch import Item, Pipeline
    from ._errors import FactxError, StoreError
    from ._output import Output, ParquetOutput, Progress
    from ._read import discover

    logging.getLogger("instructor").setLevel(logging.CRITICAL)
    if verbose:
        click.get_current_context().call_on_close(_log_to_stderr(secret=api_key))
    try:
        settings = _settings(
            model=model, base_url=base_url, api_key=api_key, gguf=gguf, strategy=strategy,
            mode=mode, concurrency=concurrency, store_path=store_path, timeout=timeout,
            token_budget=token_budget, answer_cache=answer_cache, n_ctx=n_ctx,
        )  # fmt: skip
    except FactxError as e:
        raise click.UsageError(str(e)) from None
    fmt = fmt or ("parquet" if out_dir is not None else "jsonl")
    if fmt == "parquet" and out_dir is None:
        raise click.UsageError("--format parquet needs --out DIR")
    if out_dir is not None and fmt != "parquet":
        raise click.UsageError("--out DIR writes Parquet: drop --format jsonl, or use -o")
    if out_dir is not None and output is not None:
        raise click.UsageError("give either -o (JSON lines) or --out (Parquet), not both")
    if engine == "ray":
        if out_dir is None:
            raise click.UsageError("--engine ray needs --out DIR")
        if len(paths) != 1:
            raise click.UsageError("--engine ray takes one SRC: a folder, a .jsonl or a .parquet")
        _extract_ray(paths[0], out_dir, settings, ray_address, actors, server_log, stats)
        return
    files = discover(
        list(paths), on_skip=lambda p, why: click.echo(f"warning: {p}: skipped: {why}", err=True)
    )
    if not files:
        raise click.UsageError("no .txt files found in the given paths")
    pub = published.date() if published else None
    items = [Item(path=f, published=pub) for f in files]
    logging.getLogger("factx").debug("settings: %r", settings)
    # Fail on an unwritable output before any token is spent.
    out: Output | ParquetOutput = (
        Output(output) if out_dir is None else ParquetOutput(out_dir, settings)
    )
    done = False
    restore = _terminate_like_interrupt()
    try:
        with Pipeline(settings, server_log=server_log) as pipe, Progress(len(items)) as progress:
            results = pipe.run(
                items,
                on_result=progress.update,
                on_call=progress.call,
                on_notice=progress.notice,
                refresh=refresh,
            )
            for result in results:
                # Parquet keeps every fact, with its flags and a verified column.
                raw = include_flagged or out_dir is not None
                out.write(result if raw else result.validated())
            summary = pipe.stats
            run_calls = pipe.store.run_stats(pipe.run_id)
        out.close()
        done = True
    except KeyboardInterrupt as e:
        click.echo(
            "interrupted: finished articles are in the store; rerun the same command to resume",
            err=True,
        )
        raise SystemExit(143 if isinstance(e, _Terminated) else 130) from None
    except StoreError as e:
        if out.lines:
            out.close()  # the results that finished are not lost with the store
            done = True
        click.echo(f"error: {e}", err=True)
        raise SystemExit(1) from None
    except FactxError as e:
        click.echo(f"error: {e}", err=True)
        raise SystemExit(1) from None
    except OSError as e:
        click.echo(f"error: cannot write {output}: {e.strerror}", err=True)
        raise SystemExit(1) from None
    finally:
        restore()
        if not done:
            out.abort()  # an interrupted or failed run leaves the -o file as it was
    for label, error, message in summary.warnings:
        click.echo(f"warning: {label}: {error}: {message}", err=True)
    for label, lost, error, message in summary.partial:
        click.echo(
            f"partial: {label}: {lost} question(s) lost, asked again on the next run; "
            f"last: {error}: {message}",
            err=True,
        )
    for label, error, message in summary.failures:
        click.echo(f"failed: {label}: {error}: {message}", err=True)
    click.echo(
        f"{summary.extracted} extracted, {summary.cached} cached, {summary.failed} failed",
        err=True,
    )
    if stats:
        click.echo(
            f"stats: llm_calls={run_calls['calls']} prompt_tokens={run_calls['prompt_tokens']} "
            f"completion_tokens={run_calls['completion_tokens']}",
            err=True,
        )
    if summary.failed:
        raise SystemExit(1)


def _extract_ray(
    src: Path,
    out_dir: Path,
    settings: Settings,
    address: str | None,
    actors: int,
    server_log: Path | None,
    stats: bool,
) -> None:
    from ._errors import FactxError

    try:
        from ._distributed import run
    except ImportError as e:
        raise click.UsageError(
            f"--engine ray needs its extra ({e.name} is missing): pip install 'factx[ray]'"
        ) from None
    if not src.exists():
        raise click.BadParameter(f"{src} does not exist", param_hint="'PATHS'")
    try:
        summary = run(src, out_dir, settings, address=address, actors=actors,
                      server_log=server_log)  # fmt: skip
    except FactxError as e:
        click.echo(f"error: {e}", err=True)
        raise SystemExit(1) from None
    click.echo(
        f"{summary.extracted} extracted, {summary.cached} cached, {summary.failed} failed, "
        f"{summary.skipped} already in {out_dir}",
        err=True,
    )
    if stats:
        click.echo(f"stats: llm_calls={summary.calls}", err=True)
    if summary.failed:
        raise SystemExit(1)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, delivered like Ctrl-C so that it takes the same, orderly way out."""


def _terminate_like_interrupt() -> Callable[[], None]:
    """Turn SIGTERM into ``_Terminated`` until the returned function restores the old one."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def on_term(signum: int, frame: object) -> None:
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, on_term)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)

    return restore


class _Redact:
    """A logging filter that blanks one secret in every record."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def filter(self, record: object) -> bool:
        import logging

        assert isinstance(record, logging.LogRecord)
        msg = record.getMessage()
        if self.secret in msg:
            record.msg, record.args = msg.replace(self.secret, "***"), None
        return True


def _log_to_stderr(*, secret: str | None) -> Callable[[], None]:
    """Send factx's (and the HTTP layers') logs to stderr; returns the undo."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    if secret:
        handler.addFilter(_Redact(secret))
    for name, level in (
        ("factx", logging.DEBUG),
        ("openai", logging.DEBUG),
        ("httpx", logging.INFO),
    ):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(handler)

    def undo() -> None:
        for name in ("factx", "openai", "httpx"):
            logging.getLogger(name).removeHandler(handler)
            logging.getLogger(name).setLevel(logging.NOTSET)

    return undo


@cli.command()
@click.argument("facts", type=click.Path(exists=True, allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write a self-contained HTML review page here.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["warning", "error"]),
    help="Exit 1 when a finding of this severity or worse exists.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="Relative difference under which two amounts agree.",
)
@click.option(
    "--to",
    "to_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="With a Parquet FACTS folder: write findings.parquet, consolidated.parquet and "
    "entities.jsonl here instead of printing (for millions of facts).",
)
@click.option(
    "--memory-limit",
    default="2GB",
    show_default=True,
    help="With a Parquet FACTS folder: DuckDB's memory limit; beyond it, it spills to disk.",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    help="With --to: run the checks in this many processes, which share the memory limit "
    "[default: the number of CPUs].",
)
def check(
    facts: str,
    as_json: bool,
    html_path: str | None,
    fail_on: str | None,
    tolerance: float,
    to_dir: Path | None,
    memory_limit: str,
    workers: int | None,
) -> None:
    """Cross-check facts across articles: same events, conflicts, corroboration.

    FACTS is a JSONL file with one ArticleFacts record per line, as written by
    `factx extract` ("-" reads standard input), or a Parquet folder written by
    `factx extract --out DIR`, checked out of core with DuckDB. Findings go to standard output,
    progress to standard error. Exit status: 0, or 1 when --fail-on finds a finding
    at or above that severity, 2 on a usage error.

    \b
    Examples:
      factx check out/facts.jsonl
      factx check out/facts.jsonl --html review.html --fail-on error
      factx check out/facts.jsonl --json > crosscheck.json
    """
    from pathlib import Path

    from pydantic import ValidationError

    from ._crosscheck import cross_check
    from ._schemas import ArticleFacts

    if facts != "-" and Path(facts).is_dir():
        report = _check_parquet(Path(facts), tolerance, to_dir, memory_limit, workers)
        if report is None:
            return
        results: list[ArticleFacts] = []
        if html_path:
            from ._parquet import read_results

            results = read_results(facts)
        _show_report(report, results, as_json, html_path, fail_on)
        return
    if to_dir is not None or workers is not None:
        raise click.UsageError("--to and --workers need a Parquet folder as FACTS")
    results = []
    lineno = 0
    try:
        with click.open_file(facts, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    result = ArticleFacts.model_validate_json(line)
                except ValidationError as exc:
                    first = exc.errors()[0]
                    where = ".".join(str(p) for p in first["loc"]) or "record"
                    raise click.BadParameter(
                        f"line {lineno}: not an ArticleFacts record ({where}: {first['msg']})",
                        param_hint="'FACTS'",
                    ) from exc
                problem = _offsets_outside(result)
                if problem:
                    raise click.BadParameter(f"line {lineno}: {problem}", param_hint="'FACTS'")
                results.append(result)
    except UnicodeDecodeError:
        raise click.BadParameter(
            f"line {lineno + 1}: not UTF-8 text (a binary file?); expected the JSON lines "
            "of `factx extract`",
            param_hint="'FACTS'",
        ) from None
    n_facts = sum(len(r.facts()) for r in results)
    click.echo(f"checking {n_facts} facts from {len(results)} articles", err=True)
    report = cross_check(results, tolerance=tolerance)
    _show_report(report, results, as_json, html_path, fail_on)


def _check_parquet(
    folder: Path, tolerance: float, to_dir: Path | None, memory_limit: str, workers: int | None
) -> CrossCheckReport | None:
    try:
        from ._sqlcheck import check_parquet
        from ._sqlreport import _memory_share, check_parquet_to
    except ImportError as e:
        raise click.UsageError(
            f"a Parquet folder needs the ray extra ({e.name} is missing): pip install 'factx[ray]'"
        ) from None
    from ._parquet import is_output_dir

    if not is_output_dir(folder):
        raise click.BadParameter(
            f"{folder} holds no articles/ table (written by factx extract --out)",
            param_hint="'FACTS'",
        )
    try:
        _memory_share(memory_limit, 1)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="'--memory-limit'") from None
    click.echo(f"checking the Parquet output in {folder}", err=True)
    if workers is not None and to_dir is None:
        raise click.UsageError("--workers needs --to: the report in memory is built in one process")
    if to_dir is not None:
        counts = check_parquet_to(
            folder, to_dir, tolerance=tolerance, memory_limit=memory_limit,
            workers=workers or os.cpu_count() or 1,
        )  # fmt: skip
        click.echo(
            f"wrote {counts['findings']} findings and {counts['consolidated']} consolidated "
            f"facts to {to_dir}",
            err=True,
        )
        return None
    return check_parquet(folder, tolerance=tolerance, memory_limit=memory_limit)


def _show_report(
    report: CrossCheckReport,
    results: list[ArticleFacts],
    as_json: bool,
    html_path: str | None,
    fail_on: str | None,
) -> None:
    from rich.console import Console

    from ._html import render_html
    from ._report import render_terminal

    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        render_terminal(report, Console(file=sys.stdout, highlight=False))
    if html_path:
        Path(html_path).write_text(render_html(results, report), encoding="utf-8")
        click.echo(f"wrote {html_path}", err=True)
    if fail_on:
        ranks = {"info": 0, "warning": 1, "error": 2}
        worst = [f for f in report.findings if ranks[f.severity] >= ranks[fail_on]]
        if worst:
            click.echo(f"{len(worst)} findings at or above {fail_on}", err=True)
            raise SystemExit(1)


def _offsets_outside(result: ArticleFacts) -> str | None:
    """A fact whose offsets do not lie in its article's text (a damaged or edited file)."""
    n = len(result.text)
    for f in result.facts():
        start, end = f.char_start, f.char_end
        if start is None and end is None:
            continue
        if start is None or end is None or not 0 <= start <= end <= n:
            kind = type(f).__name__.lower()
            return (
                f"article {result.article_id}: a {kind}'s offsets {start}:{end} lie outside "
                f"its text ({n} characters)"
            )
    return None


@cli.command(name="eval")
@click.option(
    "--gold",
    "gold_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Gold set in the format of ../shared/eval/README.md.",
)
@click.argument("facts", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--verbose", "-v", is_flag=True, help="Add the per-article breakdown.")
def eval_(gold_path: str, facts: str, as_json: bool, verbose: bool) -> None:
    """Score extracted facts against a gold set.

    FACTS is a JSONL file with one ArticleFacts record per line, as written by
    `factx extract`. Every fact in it is scored, flagged or not: to score only verified
    facts, pass output that holds the validated view.

    \b
    Example:
      factx eval --gold ../shared/eval/seeds.gold.json out/facts.jsonl
      factx eval --gold gold.json facts.jsonl --json > report.json
    """
    from rich.console import Console

    from ._errors import InputError
    from ._eval import load_gold_set, load_results, report_renderables, score

    try:
        gold = load_gold_set(gold_path)
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="'--gold'") from exc
    try:
        results = load_results(facts)
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="'FACTS'") from exc

    report = score(results, gold)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        Console(highlight=False).print(report_renderables(report, verbose=verbose))


@cli.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one NAME.schema.json per model into this folder instead of printing.",
)
@click.argument("name", required=False)
def schema(out: Path | None, name: str | None) -> None:
    """Print the JSON Schema of a model (meeting, statement, treaty, trade_figure,
    article_facts, finding, cross_check_report), or write them all with --out.

    \b
    Examples:
      factx schema article_facts
      factx schema --out schemas/
    """
    import json

    from ._schemas import SCHEMA_MODELS

    if name is not None and name not in SCHEMA_MODELS:
        raise click.BadParameter(f"choose from {', '.join(SCHEMA_MODELS)}", param_hint="NAME")
    names = [name] if name else list(SCHEMA_MODELS)
    for n in names:
        text = json.dumps(SCHEMA_MODELS[n].model_json_schema(), indent=2, ensure_ascii=False)
        if out is None:
            click.echo(text)
        else:
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{n}.schema.json").write_text(text + "\n", encoding="utf-8")
            click.echo(f"wrote {out / f'{n}.schema.json'}", err=True)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--api-keys-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Accepted API keys, one a line. Also: FACTX_API_KEYS (comma-separated). "
    "Without keys only a loopback address may be bound.",
)
@click.option("-m", "--model", envvar="FACTX_MODEL", show_envvar=True, help="As for extract.")
@click.option("--base-url", envvar="OPENAI_BASE_URL", show_envvar=True, help="As for extract.")
@click.option("--api-key", envvar="OPENAI_API_KEY", show_envvar=True, help="Key for --base-url.")
@click.option(
    "--gguf", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="As for extract."
)
@click.option(
    "--strategy", type=click.Choice(["auto", "questions", "whole"]), default="auto",
    show_default=True,
)  # fmt: skip
@click.option(
    "--mode", type=click.Choice(["auto", "json_schema", "tools", "json"]), default="auto",
    show_default=True,
)  # fmt: skip
@click.option(
    "-j", "--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
    help="Worker threads: articles extracted at once over all jobs.",
)  # fmt: skip
@click.option(
    "--store", "store_path", envvar="FACTX_STORE", show_envvar=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite store, cache and job queue (may be shared with factx extract).",
)  # fmt: skip
@click.option("--timeout", type=click.FloatRange(min=1), default=120.0, show_default=True)
@click.option("--token-budget", type=click.IntRange(min=1), default=60_000, show_default=True)
@click.option(
    "--n-ctx", type=click.IntRange(min=512), default=4096, show_default=True,
    envvar="FACTX_N_CTX", show_envvar=True,
)  # fmt: skip
@click.option(
    "--max-body-bytes", type=click.IntRange(min=1), default=8 * 1024 * 1024, show_default=True
)
@click.option(
    "--max-articles", type=click.IntRange(min=1), default=1000, show_default=True,
    help="Articles per job.",
)  # fmt: skip
@click.option("--max-article-chars", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option(
    "--max-jobs-per-key", type=click.IntRange(min=1), default=8, show_default=True,
    help="Unfinished jobs per key; more get 429 with Retry-After.",
)  # fmt: skip
@click.option(
    "--server-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append the embedded server's log to this file.",
)
@click.option(
    "--answer-cache/--no-answer-cache",
    default=True,
    show_default=True,
    help="Keep every LLM answer in the store by its request (as extract does).",
)
def serve(
    host: str,
    port: int,
    api_keys_file: Path | None,
    model: str | None,
    base_url: str | None,
    api_key: str | None,
    gguf: Path | None,
    strategy: str,
    mode: str,
    concurrency: int,
    store_path: Path | None,
    timeout: float,
    token_budget: int,
    n_ctx: int,
    max_body_bytes: int,
    max_articles: int,
    max_article_chars: int,
    max_jobs_per_key: int,
    server_log: Path | None,
    answer_cache: bool,
) -> None:
    """Serve extraction over HTTP (needs the serve extra: pip install 'factx[serve]').

    JSON endpoints under /v1 (OpenAPI at /openapi.json, docs at /docs): POST /v1/extract
    for one article, POST /v1/jobs for many (stored before the 202; a restarted service
    resumes them), GET /v1/jobs/ID, /results, /check, /report; /healthz, /readyz,
    /metrics. The embedded model starts with the first uncached article, as for extract.

    \b
    Examples:
      factx serve                                   # 127.0.0.1:8000, embedded model
      factx serve --base-url http://127.0.0.1:11434/v1 -m qwen2.5:7b -j 4
      FACTX_API_KEYS=k1,k2 factx serve --host 0.0.0.0 --port 8080
    """
    import logging

    from ._errors import ConfigError, FactxError

    try:
        from ._service import serve as run_service
    except ImportError as e:
        raise click.UsageError(
            f"the service needs its extra ({e.name} is missing): pip install 'factx[serve]'"
        ) from None
    from ._jobs import ServiceSettings

    keys = [k for k in os.environ.get("FACTX_API_KEYS", "").split(",") if k.strip()]
    if api_keys_file is not None:
        lines = api_keys_file.read_text(encoding="utf-8").splitlines()
        keys += [k for k in lines if k.strip() and not k.lstrip().startswith("#")]
    try:
        settings = _settings(
            model=model, base_url=base_url, api_key=api_key, gguf=gguf, strategy=strategy,
            mode=mode, concurrency=concurrency, store_path=store_path, timeout=timeout,
            token_budget=token_budget, answer_cache=answer_cache, n_ctx=n_ctx,
        )  # fmt: skip
        config = ServiceSettings(
            host=host,
            port=port,
            key_hashes=ServiceSettings.keys_to_hashes(keys),
            workers=concurrency,
            max_body_bytes=max_body_bytes,
            max_articles_per_job=max_articles,
            max_article_chars=max_article_chars,
            max_jobs_in_flight=max_jobs_per_key,
        )
    except ConfigError as e:
        raise click.UsageError(str(e)) from None
    logging.getLogger("instructor").setLevel(logging.CRITICAL)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per LLM call: too much
    click.echo(
        f"factx serve: http://{host}:{port} (docs at /docs), {len(config.key_hashes)} API "
        f"keys, store {settings.resolved_store_path}",
        err=True,
    )
    try:
        run_service(settings, config, server_log=server_log)
    except FactxError as e:
        click.echo(f"error: {e}", err=True)
        raise SystemExit(1) from None


def _settings(
    *,
    model: str | None,
    base_url: str | None,
    api_key: str | None,
    gguf: Path | None,
    strategy: str,
    mode: str,
    concurrency: int,
    store_path: Path | None,
    timeout: float,
    token_budget: int,
    answer_cache: bool,
    n_ctx: int,
) -> Settings:
    """The frozen Settings of extract and serve, from their shared options."""
    from ._settings import DEFAULT_LOCAL_MODEL, Settings, default_cache_dir

    return Settings(
        model=model or (gguf.stem if gguf else DEFAULT_LOCAL_MODEL),
        base_url=base_url or None,
        api_key=api_key or None,
        gguf=gguf,
        strategy=strategy,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
        concurrency=concurrency,
        # Resolved here, where the environment ($XDG_CACHE_HOME) is read.
        cache_dir=default_cache_dir(),
        store_path=store_path,
        timeout=timeout,
        token_budget=token_budget,
        answer_cache=answer_cache,
        n_ctx=n_ctx,
    )


def main() -> None:
    try:
        cli()
    except SystemExit as e:
        if e.code in (130, 143):
            # Interrupted, with the store closed and -o settled: end the process now. The
            # interpreter's teardown of the loaded libraries took 1 s of the 2 s allowed on
            # a busy machine, and an abandoned call's daemon thread has nothing to finish.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(e.code)
        raise
