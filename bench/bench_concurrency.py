"""Throughput against one llama.cpp server: factx at concurrency 1, 2, 4 vs a bare openai loop.

    .venv/bin/python bench/bench_concurrency.py                  # embedded server, the seeds
    .venv/bin/python bench/bench_concurrency.py --levels 1 2 --limit 2
    .venv/bin/python bench/bench_concurrency.py --base-url http://127.0.0.1:8765/v1 --model qwen

At each concurrency level, factx extracts the articles with an empty store
(``Pipeline``, ``concurrency=N``), while a recording transport under factx's own HTTP
client captures every request exactly as it went on the wire. Then a bare loop sends the
same successful requests with plain ``openai`` calls (no instructor, no validation, no
store): N articles at a time, each article's requests one after another, as factx does.
The bare loop is the physical limit of that server for that work. Goal: factx's
articles/minute within 10 % of the bare loop's.

Prints a table and writes bench/results/concurrency.json.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    DEFAULT_MODEL,
    RESULTS,
    Recorder,
    RecordingTransport,
    add_common_args,
    article_paths,
    endpoint,
    factx_inner_transport,
    log,
    markdown_table,
    print_table,
    write_json,
)

import factx._extract as fextract  # noqa: E402
from factx import Item, Pipeline, Settings  # noqa: E402
from factx._settings import default_cache_dir  # noqa: E402

GOAL_RATIO = 0.9


def run_factx(
    url: str,
    model: str,
    strategy: str,
    paths: list[Path],
    concurrency: int,
    workdir: Path,
    timeout: float,
    n_ctx: int,
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """factx over ``paths``; returns its row and the successful requests per article."""
    recorder = Recorder()
    original = fextract.Extractor.extract

    def tagged_extract(self: Any, doc: Any, **kwargs: Any) -> Any:
        with recorder.tagged(doc.id):
            return original(self, doc, **kwargs)

    settings = Settings(
        model=model,
        base_url=url,
        strategy=strategy,  # type: ignore[arg-type]
        concurrency=concurrency,
        cache_dir=workdir,
        store_path=workdir / f"c{concurrency}-{time.monotonic_ns()}.sqlite3",
        timeout=timeout,
        n_ctx=n_ctx,
    )
    fextract.Extractor.extract = tagged_extract  # type: ignore[method-assign]
    try:
        with factx_inner_transport(lambda: RecordingTransport(recorder)):
            t0 = time.perf_counter()
            with Pipeline(settings) as pipe:
                results = list(pipe.run([Item(path=p) for p in paths]))
                stats = pipe.stats
            wall = time.perf_counter() - t0
    finally:
        fextract.Extractor.extract = original  # type: ignore[method-assign]
    by_article: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ex in recorder.exchanges:
        if ex.status == 200 and ex.body is not None:
            by_article[ex.tag].append(ex.body)
    totals = recorder.totals()
    row = {
        "system": "factx",
        "concurrency": concurrency,
        "articles": len(results),
        "failed": stats.failed,
        "requests": totals["requests"],
        "failed_requests": totals["requests"] - totals["ok"],
        "prompt_tokens": totals["prompt_tokens"],
        "completion_tokens": totals["completion_tokens"],
        "wall_s": round(wall, 2),
        "articles_per_min": 60 * len(results) / wall,
        "facts": sum(len(r.facts()) for r in results),
    }
    return row, by_article


def run_bare(
    url: str,
    requests: dict[str, list[dict[str, Any]]],
    concurrency: int,
    timeout: float,
) -> dict[str, Any]:
    """The same requests through plain openai calls: N articles at a time, calls in order."""
    client = openai.OpenAI(
        base_url=url, api_key="sk-no-key-required", max_retries=0, timeout=timeout
    )
    usage: list[tuple[int, int]] = []
    errors: list[str] = []

    def article(bodies: list[dict[str, Any]]) -> None:
        for body in bodies:
            rest = {k: v for k, v in body.items() if k not in ("model", "messages")}
            try:
                resp = client.chat.completions.create(
                    model=body["model"], messages=body["messages"], extra_body=rest
                )
            except openai.OpenAIError as e:
                errors.append(type(e).__name__)
                continue
            u = resp.usage
            usage.append((u.prompt_tokens, u.completion_tokens) if u else (0, 0))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(article, requests.values()))
    wall = time.perf_counter() - t0
    client.close()
    return {
        "system": "bare openai loop",
        "concurrency": concurrency,
        "articles": len(requests),
        "failed": 0,
        "requests": len(usage) + len(errors),
        "failed_requests": len(errors),
        "prompt_tokens": sum(p for p, _ in usage),
        "completion_tokens": sum(c for _, c in usage),
        "wall_s": round(wall, 2),
        "articles_per_min": 60 * len(requests) / wall,
        "facts": None,
    }


COLUMNS = [
    ("concurrency", "concurrency"),
    ("system", "system"),
    ("articles", "articles"),
    ("requests", "requests"),
    ("failed_requests", "failed requests"),
    ("prompt_tokens", "prompt tokens"),
    ("completion_tokens", "completion tokens"),
    ("wall_s", "wall s"),
    ("articles_per_min", "articles/min"),
    ("vs_bare", "factx / bare"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 2, 4], help="concurrency levels")
    ap.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="local model to serve, or the model name the --base-url endpoint serves",
    )
    ap.add_argument("--strategy", choices=["auto", "questions", "whole"], default="auto")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per LLM request")
    add_common_args(ap, out=RESULTS / "concurrency.json")
    args = ap.parse_args()
    logging.getLogger("instructor").setLevel(logging.CRITICAL)

    paths = article_paths(args.seeds, limit=args.limit, only=args.article)
    rows: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="factx-concurrency-") as tmp,
        endpoint(
            args.base_url,
            model=args.model,
            cache_dir=args.cache_dir or default_cache_dir(),
            n_ctx=args.n_ctx,
            n_threads=args.n_threads,
            log_path=args.server_log,
        ) as (url, server),
    ):
        strategy = Settings(base_url=url, strategy=args.strategy).resolved_strategy()
        for level in args.levels:
            log.print(f"concurrency {level}: factx on {len(paths)} articles …")
            fx, requests = run_factx(
                url, args.model, strategy, paths, level, Path(tmp), args.timeout, args.n_ctx
            )
            log.print(f"  {fx['wall_s']} s; bare loop with its {fx['requests']} requests …")
            bare = run_bare(url, requests, level, args.timeout)
            log.print(f"  {bare['wall_s']} s")
            fx["vs_bare"] = fx["articles_per_min"] / bare["articles_per_min"]
            fx["goal_met"] = fx["vs_bare"] >= GOAL_RATIO
            rows.extend([fx, bare])
    total_s = time.perf_counter() - t_start

    print_table(
        f"Articles per minute against one server ({server.get('model')}, {strategy}, "
        f"{len(paths)} articles; goal: factx ≥ {GOAL_RATIO:.0%} of bare)",
        COLUMNS,
        rows,
    )
    print(f"total wall time {total_s:.0f} s")
    if args.markdown:
        print(markdown_table(COLUMNS, rows))
    write_json(
        args.out,
        "concurrency",
        {
            "articles": [p.stem for p in paths],
            "seeds": str(args.seeds),
            "strategy": strategy,
            "server": server,
            "total_wall_s": round(total_s, 1),
            "goal_ratio": GOAL_RATIO,
            "runs": rows,
        },
    )


if __name__ == "__main__":
    main()
