"""Quality and cost on every gold set in ../shared/eval, one table, one row per set.

    .venv/bin/python bench/bench_sets.py                              # all sets, fresh store
    .venv/bin/python bench/bench_sets.py --sets seeds,dev --store /tmp/s.sqlite3
    .venv/bin/python bench/bench_sets.py --score-only /tmp/results    # score saved JSONL
    .venv/bin/python bench/bench_sets.py --speed                      # and the server's limit

Each set's articles go through the real ``factx.Pipeline`` with the default model and
strategy (the embedded llama.cpp server unless ``--base-url``), one at a time, so the cost
columns are per article. With the default fresh store every question is asked; with
``--store`` a rerun is served from the store's article and answer caches (the cost columns
then count only what was asked). ``--results DIR`` keeps each set's JSONL, which
``--score-only DIR`` scores again without a model (e.g. after a scorer change).

Scores come from ``factx._eval.score`` over every fact (as ``factx eval``). A set scores only
the fact types its gold annotates: ``quotes-dev`` annotates statements alone, so its other
facts are neither right nor wrong there. Writes bench/results/sets.json (scores and counts,
no article text).

``--speed`` first measures the bare server (prompt and generated tokens per second, from
requests no prefix cache can help); each row then also gives the seconds its articles'
tokens would take at that speed and factx's efficiency, that time over the measured one.
Above 1 means the server's prefix cache saved more than factx's own overhead cost.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, log, markdown_table, mean, print_table, write_json  # noqa: E402

from factx import ArticleFacts, Item, Pipeline, Settings  # noqa: E402
from factx._eval import FACT_TYPES, load_results, score  # noqa: E402
from factx._gold import load_gold  # noqa: E402

EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
SEEDS = EVAL.parent / "seeds"
ELSEWHERE = Path(__file__).resolve().parent.parent / "tests" / "data" / "elsewhere"


@dataclass(frozen=True)
class GoldSet:
    name: str
    articles: Path
    gold: Path
    types: tuple[str, ...]  # the fact types its gold annotates


def gold_sets(eval_dir: Path, seeds: Path) -> dict[str, GoldSet]:
    return {
        "seeds": GoldSet("seeds", seeds, eval_dir / "seeds.gold.json", FACT_TYPES),
        "dev": GoldSet("dev", eval_dir / "dev" / "articles", eval_dir / "dev" / "gold.json",
                       FACT_TYPES),
        "quotes-dev": GoldSet("quotes-dev", eval_dir / "quotes-dev" / "articles",
                              eval_dir / "quotes-dev" / "gold.json", ("statement",)),
        # Written for factx: other states' relations (tests/data/elsewhere/README.md).
        "elsewhere": GoldSet("elsewhere", ELSEWHERE / "articles", ELSEWHERE / "gold.json",
                             FACT_TYPES),
    }  # fmt: skip


_FIELD_OF_TYPE = {"meetings": "meeting", "statements": "statement", "treaties": "treaty",
                  "trade_figures": "trade_figure"}  # fmt: skip


def only_types(result: ArticleFacts, types: tuple[str, ...]) -> ArticleFacts:
    """The result with the fact types a gold set does not annotate left out."""
    return result.model_copy(update={f: () for f, t in _FIELD_OF_TYPE.items() if t not in types})


@contextlib.contextmanager
def only_types_asked(types: tuple[str, ...] | None) -> Iterator[None]:
    """Skip the questions of fact types a set does not score. Works on this tree's
    ``_questions`` and on older trees whose ``_extract.Extractor`` asked them itself."""
    if types is None or set(types) == set(FACT_TYPES):
        yield
        return
    skip = {"meeting": "_meeting", "treaty": "_treaty", "trade_figure": "_trade"}
    targets: list[tuple[Any, str]] = []
    try:
        import factx._questions as owner  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        import factx._extract as old

        owner = old.Extractor  # type: ignore[assignment]
    for t, attr in skip.items():
        if t not in types and hasattr(owner, attr):
            targets.append((owner, attr))
    saved = [(o, a, getattr(o, a)) for o, a in targets]
    try:
        for o, a in targets:
            setattr(o, a, lambda *args, **kw: [])  # asks nothing, drafts nothing
        yield
    finally:
        for o, a, f in saved:
            setattr(o, a, f)


def run_set(pipe: Pipeline, gs: GoldSet) -> tuple[list[ArticleFacts], list[dict[str, Any]]]:
    paths = sorted(gs.articles.glob("*.txt"))
    results: list[ArticleFacts] = []
    rows: list[dict[str, Any]] = []
    for path in paths:
        t0 = time.perf_counter()
        (result,) = pipe.run([Item(path=path)])
        wall = time.perf_counter() - t0
        results.append(result)
        u = result.usage
        rows.append(
            {
                "article": path.stem,
                "status": result.status,
                "calls": u.calls,
                "cached_answers": getattr(u, "cached_answers", 0),
                "prompt_tokens": u.prompt_tokens,
                "completion_tokens": u.completion_tokens,
                "cached_prompt_tokens": getattr(u, "cached_prompt_tokens", 0),
                "wall_s": round(wall, 3),
            }
        )
        log.print(
            f"  {gs.name} {path.stem}: {result.status}, {len(result.facts())} facts, "
            f"{u.calls} calls ({getattr(u, 'cached_answers', 0)} cached), {wall:.1f} s"
        )
    return results, rows


def server_speed(base_url: str, model: str, rounds: int = 3) -> dict[str, float]:
    """The bare server's own speed: prompt tokens per second (a ~600-token prompt, one
    token out) and generated tokens per second (a short prompt, 160 tokens out), each the
    median of ``rounds``. Every prompt starts with a new number, so no prefix cache helps."""
    import statistics

    import openai

    client = openai.OpenAI(base_url=base_url, api_key="none", max_retries=0, timeout=600)
    filler = " ".join(f"Die Zahl {i} folgt auf die Zahl {i - 1}." for i in range(1, 60))

    def timed(prompt: str, max_tokens: int) -> tuple[float, int, int]:
        t0 = time.perf_counter()
        r = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}],
            max_tokens=max_tokens, temperature=0,
        )  # fmt: skip
        assert r.usage is not None
        return time.perf_counter() - t0, r.usage.prompt_tokens, r.usage.completion_tokens

    timed("Hallo", 1)  # loads the model's pages; not counted
    pp = []
    for k in range(rounds):
        s, p, _ = timed(f"Lauf {time.time_ns() + k}. {filler}", 1)
        pp.append(p / s)
    prompt_tps = statistics.median(pp)
    tg = []
    for k in range(rounds):
        s, p, c = timed(f"Lauf {time.time_ns() + k}. Zähle auf Deutsch von eins bis hundert.", 160)
        tg.append(c / max(1e-3, s - p / prompt_tps))
    return {
        "prompt_tokens_per_s": round(prompt_tps, 1),
        "gen_tokens_per_s": round(statistics.median(tg), 1),
    }


def summarize(
    gs: GoldSet,
    results: list[ArticleFacts],
    rows: list[dict[str, Any]],
    speed: dict[str, float] | None = None,
) -> dict[str, Any]:
    gold = {g.article: g for g in load_gold(gs.gold)}
    kept = [only_types(r, gs.types) for r in results if r.article_id in gold]
    report = score(kept, [gold[r.article_id] for r in kept])
    micro = report.micro
    row: dict[str, Any] = {
        "set": gs.name,
        "articles": len(kept),
        "types": ",".join(gs.types),
        "micro_p": micro.precision,
        "micro_r": micro.recall,
        "micro_f1": micro.f1,
        **{f"{t}_f1": (report.types[t].f1 if t in gs.types else None) for t in FACT_TYPES},
        **{f"{k}_acc": v.accuracy for k, v in report.fields.items()},
    }
    if rows:
        row.update(
            calls_per_article=mean([r["calls"] for r in rows]),
            tokens_per_article=mean([r["prompt_tokens"] + r["completion_tokens"] for r in rows]),
            wall_s_per_article=mean([r["wall_s"] for r in rows]),
            cached_prompt_tokens_per_article=mean([r["cached_prompt_tokens"] for r in rows]),
        )
        if speed:
            # What the tokens factx sent would take at the bare server's speed: the limit.
            pp, tg = speed["prompt_tokens_per_s"], speed["gen_tokens_per_s"]
            ideal = mean([r["prompt_tokens"] / pp + r["completion_tokens"] / tg for r in rows])
            row.update(
                token_s_per_article=ideal,
                efficiency=ideal / row["wall_s_per_article"] if row["wall_s_per_article"] else None,
            )
    row["detail"] = {
        "types": {t: s.model_dump() for t, s in report.types.items() if t in gs.types},
        "fields": {k: v.model_dump() for k, v in report.fields.items()},
        "articles": rows,
    }
    return row


COLUMNS = [
    ("set", "set"),
    ("articles", "articles"),
    ("micro_f1", "micro-F1"),
    ("meeting_f1", "meeting"),
    ("statement_f1", "statement"),
    ("treaty_f1", "treaty"),
    ("trade_figure_f1", "trade"),
    ("speaker_acc", "speaker acc"),
    ("date_acc", "date acc"),
    ("period_acc", "period acc"),
    ("metric_acc", "metric acc"),
    ("status_acc", "status acc"),
    ("calls_per_article", "calls/art"),
    ("tokens_per_article", "tokens/art"),
    ("wall_s_per_article", "s/art"),
    ("cached_prompt_tokens_per_article", "cached prompt tok/art"),
    ("token_s_per_article", "token s/art"),
    ("efficiency", "efficiency"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sets", default="seeds,dev,quotes-dev,elsewhere", help="comma-separated set names"
    )
    ap.add_argument("--eval-dir", type=Path, default=EVAL, help="the folder of gold sets")
    ap.add_argument("--seeds", type=Path, default=SEEDS, help="the seed articles")
    ap.add_argument("--store", type=Path, help="a store to reuse (default: a fresh one)")
    ap.add_argument("--results", type=Path, help="write each set's JSONL to this folder")
    ap.add_argument("--score-only", type=Path, help="score SET.jsonl files in this folder")
    ap.add_argument("--base-url", help="an OpenAI-compatible endpoint instead of the embedded")
    ap.add_argument("--model", help="the model name (default: the embedded default)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per LLM request")
    ap.add_argument("--n-threads", type=int, help="threads of the embedded server")
    ap.add_argument("--out", type=Path, default=RESULTS / "sets.json")
    ap.add_argument("--markdown", action="store_true", help="also print a markdown table")
    ap.add_argument(
        "--validated",
        action="store_true",
        help="score only the validated view (what `factx extract` writes by default): "
        "flagged and ungrounded facts left out",
    )
    ap.add_argument(
        "--only-annotated",
        action="store_true",
        help="for a set that annotates only some fact types (quotes-dev), ask only the "
        "questions of those types: the scores stay the same (questions are independent), "
        "the cost columns then count only those questions",
    )
    ap.add_argument(
        "--speed",
        action="store_true",
        help="first measure the bare server's prompt and generation speed; each set then "
        "also gets the time its tokens would take at that speed (token s/art) and "
        "efficiency = that time / the measured time",
    )
    args = ap.parse_args()
    logging.getLogger("instructor").setLevel(logging.CRITICAL)
    all_sets = gold_sets(args.eval_dir, args.seeds)
    names = [n.strip() for n in args.sets.split(",") if n.strip()]
    unknown = [n for n in names if n not in all_sets]
    if unknown:
        sys.exit(f"unknown set(s) {unknown}; known: {', '.join(all_sets)}")
    missing = [n for n in names if not all_sets[n].gold.exists()]
    if missing:
        sys.exit(f"gold set(s) {missing} not found under {args.eval_dir}")

    rows: list[dict[str, Any]] = []
    speed: dict[str, float] | None = None
    t_start = time.perf_counter()
    if args.score_only:
        for n in names:
            results = load_results(args.score_only / f"{n}.jsonl")
            if args.validated:
                results = [r.validated() for r in results]
            rows.append(summarize(all_sets[n], results, []))
    else:
        with tempfile.TemporaryDirectory(prefix="factx-sets-") as tmp:
            extra: dict[str, Any] = {"model": args.model} if args.model else {}
            settings = Settings(
                base_url=args.base_url,
                store_path=args.store or Path(tmp) / "store.sqlite3",
                timeout=args.timeout,
                n_threads=args.n_threads,
                **extra,
            )
            with Pipeline(settings) as pipe:
                speed = None
                if args.speed:
                    pipe.start()
                    assert pipe.endpoint is not None
                    speed = server_speed(pipe.endpoint, settings.model)
                    log.print(f"bare server: {speed}")
                for n in names:
                    with only_types_asked(all_sets[n].types if args.only_annotated else None):
                        results, per_article = run_set(pipe, all_sets[n])
                    if args.results:
                        args.results.mkdir(parents=True, exist_ok=True)
                        with open(args.results / f"{n}.jsonl", "w", encoding="utf-8") as fh:
                            for r in results:
                                fh.write(r.model_dump_json() + "\n")
                    if args.validated:
                        results = [r.validated() for r in results]
                    rows.append(summarize(all_sets[n], results, per_article, speed))
    total_s = time.perf_counter() - t_start
    print_table("factx on every gold set", COLUMNS, rows)
    print(f"total wall time {total_s:.0f} s")
    if args.markdown:
        print(markdown_table(COLUMNS, rows))
    write_json(args.out, "sets", {"sets": names, "total_wall_s": round(total_s, 1),
                                  "columns": dict(COLUMNS), "runs": rows,
                                  "server_speed": speed})  # fmt: skip


if __name__ == "__main__":
    main()
