"""Quality and cost per local model and extraction strategy, scored against the gold set.

    .venv/bin/python bench/bench_quality.py                       # every installed model
    .venv/bin/python bench/bench_quality.py --models qwen2.5-coder-1.5b-instruct-q4_k_m \\
        --strategies questions --limit 1                            # a smoke run
    .venv/bin/python bench/bench_quality.py --base-url http://127.0.0.1:8765/v1 --models qwen

For each model (a GGUF shipped on PyPI, served by the embedded llama.cpp server; or the
model a ``--base-url`` endpoint serves) and each strategy (``questions``: candidate
questions; ``whole``: one schema call per chunk), every seed article goes through the real
``factx.Pipeline`` with an empty cache, one article at a time. Scores come from
``factx._eval.score`` against the gold file, on every fact the extractor returned (as
``factx eval`` does) and on the verified facts only. Cost comes from the server's ``usage``.

Prints a table and writes bench/results/quality.json (scores and counts only: no article text).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    DEFAULT_MODEL,
    MODELS,
    RESULTS,
    add_common_args,
    article_paths,
    assemble_gguf,
    endpoint,
    gold_for,
    log,
    markdown_table,
    mean,
    model_installed,
    print_table,
    write_json,
)

from factx import ArticleFacts, Item, Pipeline, Settings  # noqa: E402
from factx._eval import FACT_TYPES, score  # noqa: E402
from factx._settings import default_cache_dir  # noqa: E402

STRATEGIES = ("questions", "whole")


def run_factx(
    base_url: str | None,
    model: str,
    strategy: str,
    paths: list[Path],
    workdir: Path,
    *,
    timeout: float,
    deadline: float | None,
    concurrency: int = 1,
    n_ctx: int = 4096,
    gguf: Path | None = None,
    n_threads: int | None = None,
    server_log: Path | None = None,
) -> tuple[list[ArticleFacts], list[dict[str, Any]]]:
    """Extract ``paths`` one by one with an empty store; per-article cost rows.

    ``base_url=None`` with a ``gguf``: factx starts its embedded server itself, exactly as
    ``factx extract`` does (the ``whole`` strategy sizes its chunks to that server's context
    only then); the start is not counted in any article's time.
    """
    settings = Settings(
        model=model,
        base_url=base_url,
        gguf=gguf,
        n_threads=n_threads,
        strategy=strategy,  # type: ignore[arg-type]
        cache_dir=workdir,
        store_path=workdir / f"{model}-{strategy}-{time.monotonic_ns()}.sqlite3",
        timeout=timeout,
        concurrency=concurrency,
        n_ctx=n_ctx,  # the server's context: the whole strategy sizes its chunks to it
    )
    results: list[ArticleFacts] = []
    rows: list[dict[str, Any]] = []
    with Pipeline(settings, server_log=server_log) as pipe:
        if base_url is None:
            t0 = time.perf_counter()
            pipe._ensure_extractor()  # start the embedded server now, outside the timings
            log.print(f"  embedded server for {model} up in {time.perf_counter() - t0:.1f} s")
        for path in paths:
            if deadline is not None and time.monotonic() > deadline:
                log.print(f"[yellow]time budget spent: {path.stem} not run[/]")
                rows.append({"article": path.stem, "status": "not run"})
                continue
            t0 = time.perf_counter()
            (result,) = pipe.run([Item(path=path)])
            wall = time.perf_counter() - t0
            results.append(result)
            rows.append(
                {
                    "article": path.stem,
                    "chars": len(result.text),
                    "status": result.status,
                    "facts": len(result.facts()),
                    "calls": result.usage.calls,
                    "retries": result.usage.retries,
                    "prompt_tokens": result.usage.prompt_tokens,
                    "completion_tokens": result.usage.completion_tokens,
                    "wall_s": round(wall, 3),
                    # Class names only: messages can quote the (third-party) article text.
                    "errors": [e.error for e in result.errors],
                }
            )
            log.print(
                f"  {model} {strategy} {path.stem}: {result.status}, {len(result.facts())} facts, "
                f"{result.usage.calls} calls, {wall:.1f} s"
            )
            for e in result.errors:
                log.print(f"    {e.stage}: {e.error}: {e.message[:200]}", markup=False)
    return results, rows


def summarize(
    label: dict[str, Any], results: list[ArticleFacts], rows: list[dict[str, Any]], gold_path: Path
) -> dict[str, Any]:
    """One table row: scores of the articles that ran, and their mean cost per article."""
    ran = [r for r in rows if r.get("status") != "not run"]
    gold = gold_for(gold_path, [r.article_id for r in results])
    report = score(results, gold)
    verified = score([r.validated() for r in results], gold)
    n = len(ran)
    row: dict[str, Any] = {
        **label,
        "articles": n,
        "not_run": len(rows) - n,
        "failed": sum(1 for r in ran if r["status"] == "failed"),
        "partial": sum(1 for r in ran if r["status"] == "partial"),
        "micro_p": report.micro.precision,
        "micro_r": report.micro.recall,
        "micro_f1": report.micro.f1,
        "verified_f1": verified.micro.f1,
        **{f"{t}_f1": report.types[t].f1 for t in FACT_TYPES},
        "calls_per_article": mean([r["calls"] for r in ran]),
        "prompt_tokens_per_article": mean([r["prompt_tokens"] for r in ran]),
        "completion_tokens_per_article": mean([r["completion_tokens"] for r in ran]),
        "wall_s_per_article": mean([r["wall_s"] for r in ran]),
        "wall_s_total": round(sum(r["wall_s"] for r in ran), 2),
    }
    row["tokens_per_article"] = (row["prompt_tokens_per_article"] or 0) + (
        row["completion_tokens_per_article"] or 0
    )
    row["detail"] = {
        "types": {t: s.model_dump() for t, s in report.types.items()},
        "micro": report.micro.model_dump(),
        "fields": {k: v.model_dump() for k, v in report.fields.items()},
        "grounded": report.grounded.model_dump(),
        "verified_micro": verified.micro.model_dump(),
        "per_article_micro": {a.article_id: a.micro.model_dump() for a in report.articles},
        "articles": rows,
    }
    return row


COLUMNS = [
    ("model", "model"),
    ("strategy", "strategy"),
    ("articles", "articles"),
    ("failed", "failed"),
    ("micro_f1", "micro-F1"),
    ("verified_f1", "F1 verified"),
    ("meeting_f1", "meeting F1"),
    ("statement_f1", "statement F1"),
    ("treaty_f1", "treaty F1"),
    ("trade_figure_f1", "trade F1"),
    ("calls_per_article", "calls/article"),
    ("prompt_tokens_per_article", "prompt tok/article"),
    ("completion_tokens_per_article", "completion tok/article"),
    ("wall_s_per_article", "wall s/article"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--models",
        nargs="+",
        help=f"local models ({', '.join(MODELS)}); default: every installed one. "
        "With --base-url: the model name(s) that endpoint serves.",
    )
    ap.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per LLM request")
    ap.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop starting new articles after this many minutes, shared fairly between the "
        "model × strategy runs (rows say how many articles ran)",
    )
    add_common_args(ap, out=RESULTS / "quality.json")
    args = ap.parse_args()
    logging.getLogger("instructor").setLevel(logging.CRITICAL)

    if args.models:
        models = args.models
    elif args.base_url:
        sys.exit("with --base-url, name the served model: --models NAME")
    else:
        models = [m for m, spec in MODELS.items() if model_installed(spec)] or [DEFAULT_MODEL]
    paths = article_paths(args.seeds, limit=args.limit, only=args.article)
    cache_dir = args.cache_dir or default_cache_dir()
    deadline = time.monotonic() + 60 * args.max_minutes if args.max_minutes else None
    log.print(f"{len(models)} model(s) × {len(args.strategies)} strategies × {len(paths)} articles")

    rows: list[dict[str, Any]] = []
    servers: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    runs_left = len(models) * len(args.strategies)

    def share() -> float | None:
        """A fair share of what is left of --max-minutes for the next model × strategy, so
        one slow combination cannot starve the others (what it leaves over passes on)."""
        nonlocal runs_left
        if deadline is None:
            return None
        now = time.monotonic()
        runs_left = max(1, runs_left)
        d = now + max(0.0, deadline - now) / runs_left
        runs_left -= 1
        return d

    with tempfile.TemporaryDirectory(prefix="factx-quality-") as tmp:
        for model in models:
            if args.base_url is None:
                # factx's own embedded server, started by the Pipeline as in `factx extract`.
                gguf = assemble_gguf(MODELS[model], cache_dir)
                servers.append(
                    {"embedded": True, "model": model, "gguf": gguf.name,
                     "gguf_bytes": gguf.stat().st_size, "n_ctx": args.n_ctx,
                     "n_threads": args.n_threads, "started_by": "factx.Pipeline"}
                )  # fmt: skip
                for strategy in args.strategies:
                    results, per_article = run_factx(
                        None, model, strategy, paths, Path(tmp),
                        timeout=args.timeout, deadline=share(), n_ctx=args.n_ctx,
                        gguf=gguf, n_threads=args.n_threads, server_log=args.server_log,
                    )  # fmt: skip
                    rows.append(
                        summarize(
                            {"system": "factx", "model": model, "strategy": strategy},
                            results,
                            per_article,
                            args.gold,
                        )
                    )
                continue
            with endpoint(
                args.base_url,
                model=model,
                cache_dir=cache_dir,
                n_ctx=args.n_ctx,
                n_threads=args.n_threads,
                log_path=args.server_log,
            ) as (url, server):
                servers.append(server)
                for strategy in args.strategies:
                    results, per_article = run_factx(
                        url, model, strategy, paths, Path(tmp),
                        timeout=args.timeout, deadline=share(), n_ctx=args.n_ctx,
                    )  # fmt: skip
                    rows.append(
                        summarize(
                            {"system": "factx", "model": model, "strategy": strategy},
                            results,
                            per_article,
                            args.gold,
                        )
                    )
    total_s = time.perf_counter() - t_start

    print_table(
        f"factx quality and cost on {len(paths)} articles ({args.seeds.name})", COLUMNS, rows
    )
    print(f"total wall time {total_s:.0f} s")
    if args.markdown:
        print(markdown_table(COLUMNS, rows))
    write_json(
        args.out,
        "quality",
        {
            "articles": [p.stem for p in paths],
            "seeds": str(args.seeds),
            "gold": str(args.gold),
            "servers": servers,
            "total_wall_s": round(total_s, 1),
            "columns": dict(COLUMNS),
            "runs": rows,
        },
    )


if __name__ == "__main__":
    main()
