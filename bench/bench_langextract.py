"""factx and langextract side by side: same articles, same llama.cpp server, same run.

    python3 -m venv .venv-bench && .venv-bench/bin/pip install 'langextract[openai]==1.7.1'
    .venv/bin/python bench/bench_langextract.py                    # embedded server, the seeds
    .venv/bin/python bench/bench_langextract.py --limit 1 --systems langextract

langextract runs through its own OpenAI provider (``OpenAILanguageModel``) pointed at the
server's ``/v1``, with the task and the invented German few-shot example of
``bench/langextract_adapter.py``; its extractions are mapped into factx ``ArticleFacts`` by
that adapter and scored by ``factx._eval.score`` like factx's own. langextract runs in its
own venv (``--langextract-python``) through ``bench/langextract_worker.py``, because its
google-genai dependency pins tenacity below the version factx needs. Tokens are the
server's ``usage`` of every response, counted by a transport under the openai client that
langextract's provider uses. Without ``--base-url`` the embedded server is started.

Goal: factx at least equal on micro-F1, at most half of langextract's tokens per article.
Prints a table and writes bench/results/langextract.json (scores and counts, no text).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BENCH,
    DEFAULT_MODEL,
    RESULTS,
    ROOT,
    add_common_args,
    article_paths,
    endpoint,
    log,
    markdown_table,
    print_table,
    write_json,
)
from bench_quality import COLUMNS, run_factx, summarize  # noqa: E402
from langextract_adapter import EXAMPLES, PROMPT, to_article_facts  # noqa: E402

from factx import ArticleFacts, Usage  # noqa: E402
from factx._read import read_document  # noqa: E402
from factx._settings import default_cache_dir  # noqa: E402

DEFAULT_LX_PYTHON = ROOT / ".venv-bench" / "bin" / "python"


def run_langextract(
    url: str, model: str, paths: list[Path], args: argparse.Namespace
) -> tuple[list[ArticleFacts], list[dict[str, Any]], dict[str, Any]]:
    """langextract over ``paths`` in the worker; results mapped by the adapter."""
    python = args.langextract_python
    if not python.is_file():
        sys.exit(
            f"no langextract venv at {python}: python3 -m venv .venv-bench && "
            ".venv-bench/bin/pip install 'langextract[openai]==1.7.1'"
        )
    docs = {p.stem: read_document(p) for p in paths}
    config = {
        "constrain": args.constrain,
        "max_char_buffer": args.max_char_buffer,
        "max_workers": args.max_workers,
        "passes": args.passes,
        "max_output_tokens": args.max_output_tokens,
        "timeout": args.timeout,
        "max_minutes": args.max_minutes,
    }
    job = {
        "base_url": url,
        "model": model,
        "prompt": PROMPT,
        "examples": EXAMPLES,
        "articles": [{"id": d.id, "text": d.text} for d in docs.values()],
        "config": config,
    }
    proc = subprocess.Popen(
        [str(python), str(BENCH / "langextract_worker.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(job, ensure_ascii=False))
    proc.stdin.close()
    lines = [json.loads(line) for line in proc.stdout if line.strip()]
    if proc.wait() != 0:
        sys.exit(f"langextract worker exited with {proc.returncode}")
    results: list[ArticleFacts] = []
    rows: list[dict[str, Any]] = []
    dropped_all: Counter[str] = Counter()
    worker = lines.pop(0)["worker"] if lines and "worker" in lines[0] else {}
    for line in lines:
        if line["status"] == "not run":
            rows.append({"article": line["id"], "status": "not run"})
            continue
        doc = docs[line["id"]]
        usage = Usage(
            calls=line["requests"],
            prompt_tokens=line["prompt_tokens"],
            completion_tokens=line["completion_tokens"],
        )
        facts, dropped = to_article_facts(
            doc.id, doc.text, line["extractions"], published=doc.source.published,
            model=model, usage=usage, source_path=doc.source.path,
        )  # fmt: skip
        dropped_all.update(dropped)
        results.append(facts)
        rows.append(
            {
                "article": doc.id,
                "chars": len(doc.text),
                "status": "failed" if line["status"] == "failed" else "ok",
                "facts": len(facts.facts()),
                "extractions": len(line["extractions"]),
                "unparsed_chunks": line.get("omitted_chunks", 0),
                "calls": line["requests"],
                "failed_calls": line["requests"] - line["ok"],
                "retries": 0,
                "prompt_tokens": line["prompt_tokens"],
                "completion_tokens": line["completion_tokens"],
                "wall_s": round(line["wall_s"], 3),
                "errors": [line["error"].split(":", 1)[0]] if line["error"] else [],
                "dropped": dict(dropped),
            }
        )
    info = {
        **worker,
        "python": str(python),
        "provider": "OpenAILanguageModel",
        **{k: v for k, v in config.items() if k != "max_minutes"},
        "temperature": 0.0,
        "seed": 0,
        "examples": len(EXAMPLES),
        "dropped_by_adapter": dict(dropped_all),
    }
    return results, rows, info


SIDE_COLUMNS = [("system", "system"), *COLUMNS[1:]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="local model to serve, or the model name the --base-url endpoint serves",
    )
    ap.add_argument(
        "--systems", nargs="+", choices=["factx", "langextract"], default=["factx", "langextract"]
    )
    ap.add_argument("--factx-strategy", choices=["auto", "questions", "whole"], default="auto")
    ap.add_argument("--max-char-buffer", type=int, default=1000, help="langextract chunk size")
    ap.add_argument("--max-workers", type=int, default=1, help="langextract parallel calls")
    ap.add_argument("--passes", type=int, default=1, help="langextract extraction passes")
    ap.add_argument("--max-output-tokens", type=int, default=1024, help="per langextract call")
    ap.add_argument(
        "--constrain",
        choices=["json_object", "schema"],
        default="json_object",
        help="json_object: the provider's JSON mode (its default without a schema); "
        "schema: langextract's example-derived schema, enforced by the server's grammar",
    )
    ap.add_argument(
        "--langextract-python",
        type=Path,
        default=DEFAULT_LX_PYTHON,
        help="the Python of the venv that has langextract",
    )
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per LLM request")
    ap.add_argument("--max-minutes", type=float, help="per system: start no article after this")
    add_common_args(ap, out=RESULTS / "langextract.json")
    args = ap.parse_args()
    logging.getLogger("instructor").setLevel(logging.CRITICAL)
    logging.getLogger("absl").setLevel(logging.ERROR)

    paths = article_paths(args.seeds, limit=args.limit, only=args.article)
    rows: list[dict[str, Any]] = []
    runs: list[tuple[dict[str, Any], list[ArticleFacts], list[dict[str, Any]]]] = []
    config: dict[str, Any] = {}
    t_start = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="factx-langextract-") as tmp,
        endpoint(
            args.base_url,
            model=args.model,
            cache_dir=args.cache_dir or default_cache_dir(),
            n_ctx=args.n_ctx,
            n_threads=args.n_threads,
            log_path=args.server_log,
        ) as (url, server),
    ):
        from factx import Settings

        strategy = Settings(base_url=url, strategy=args.factx_strategy).resolved_strategy()
        for system in args.systems:
            log.print(f"{system} on {len(paths)} articles …")
            if system == "factx":
                deadline = time.monotonic() + 60 * args.max_minutes if args.max_minutes else None
                results, per_article = run_factx(
                    url, args.model, strategy, paths, Path(tmp),
                    timeout=args.timeout, deadline=deadline, n_ctx=args.n_ctx,
                )  # fmt: skip
                label = {"system": "factx", "model": args.model, "strategy": strategy}
            else:
                results, per_article, config = run_langextract(url, args.model, paths, args)
                label = {
                    "system": "langextract",
                    "model": args.model,
                    "strategy": f"{args.max_char_buffer}-char chunks",
                }
            runs.append((label, results, per_article))
    total_s = time.perf_counter() - t_start

    # Side by side means the same articles: if a time budget cut a system short, every
    # system is scored on the articles that all of them finished.
    common = set.intersection(*({r.article_id for r in res} for _, res, _ in runs))
    for label, results, per_article in runs:
        kept = [r for r in results if r.article_id in common]
        rows_kept = [
            r if r["article"] in common else {"article": r["article"], "status": "not run"}
            for r in per_article
        ]
        rows.append(summarize(label, kept, rows_kept, args.gold))

    goals: dict[str, Any] = {}
    by = {r["system"]: r for r in rows}
    if {"factx", "langextract"} <= set(by):
        fx, lx_ = by["factx"], by["langextract"]
        goals = {
            "f1_at_least_equal": fx["micro_f1"] >= lx_["micro_f1"],
            "tokens_ratio": fx["tokens_per_article"] / lx_["tokens_per_article"]
            if lx_["tokens_per_article"]
            else None,
        }
        goals["tokens_at_most_half"] = (
            goals["tokens_ratio"] is not None and goals["tokens_ratio"] <= 0.5
        )
    print_table(
        f"factx vs langextract on {len(paths)} articles, one server ({args.model})",
        SIDE_COLUMNS,
        rows,
    )
    if goals:
        print(
            f"factx F1 ≥ langextract F1: {'yes' if goals['f1_at_least_equal'] else 'NO'}; "
            f"factx tokens/article = {goals['tokens_ratio']:.2f} × langextract's "
            f"(goal ≤ 0.50: {'yes' if goals['tokens_at_most_half'] else 'NO'})"
        )
    print(f"total wall time {total_s:.0f} s")
    if args.markdown:
        print(markdown_table(SIDE_COLUMNS, rows))
    write_json(
        args.out,
        "langextract",
        {
            "articles": [p.stem for p in paths],
            "seeds": str(args.seeds),
            "server": server,
            "langextract_config": config,
            "total_wall_s": round(total_s, 1),
            "goals": goals,
            "runs": rows,
        },
    )


if __name__ == "__main__":
    main()
