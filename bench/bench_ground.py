"""Benchmark grounding: one ~20,000-character article, 50 facts, exact/normalized/fuzzy/none.

Usage: ``python bench/bench_ground.py [ARTICLE.txt] [--repeat N]``

Without a path the article is synthetic German-like text (seeded, reproducible). Prints a table
and writes ``bench/results/ground.json``. Target: under 50 ms per article.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import statistics
import sys
import time
from pathlib import Path

from factx._ground import Grounder, _fold_text

_WORDS = (
    "der die das und in den von zu mit sich des auf für ist im dem nicht ein eine als auch "
    "es an werden aus er hat dass sie nach wird bei einer um am sind noch wie einem über "
    "Russland China Moskau Peking Handel Beziehungen Außenminister Präsident Regierung "
    "Zusammenarbeit Sanktionen Partnerschaft Treffen Gipfel Erklärung Vertrag Energie "
    "Milliarden Dollar Wirtschaft Sicherheit internationale strategische bilaterale sagte "
    "erklärte betonte vereinbarten unterzeichneten Staatschef Delegation Verhandlungen Frieden "
    "Konflikt Ukraine Westen Kreml Sprecher Ministerium Zeitraum Rekordwert Exporte Importe"
).split()
_QUOTES = [("„", "“"), ("«", "»")]


def synthetic_article(n_chars: int = 20_000, seed: int = 7) -> str:
    rng = random.Random(seed)
    sentences: list[str] = []
    size = 0
    while size < n_chars:
        words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 24))]
        words[0] = words[0].capitalize()
        s = " ".join(words)
        if rng.random() < 0.3:
            o, c = rng.choice(_QUOTES)
            s = f"{o}{s}{c}, sagte {rng.choice(['Lawrow', 'Wang', 'Putin', 'Xi'])}."
        else:
            s += "."
        sentences.append(s)
        size += len(s) + 1
    return "\n".join(sentences)[:n_chars]


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?“»])\s+", text) if len(s.split()) >= 8]


def make_facts(text: str, n: int = 50, seed: int = 11) -> list[tuple[str, str]]:
    """(kind, evidence): 60% exact, 20% normalized, 10% fuzzy (one word replaced), 10% absent."""
    rng = random.Random(seed)
    pool = _sentences(text)
    facts: list[tuple[str, str]] = []
    for i in range(n):
        s = rng.choice(pool)
        words = s.split()
        if i % 10 < 6:
            a = rng.randint(0, max(0, len(words) - 8))
            facts.append(("exact", " ".join(words[a : a + rng.randint(6, 20)])))
        elif i % 10 < 8:
            t = s.replace("„", '"').replace("“", '"').replace(" ", "  ", 3).upper()
            facts.append(("normalized", t))
        elif i % 10 == 8:
            k = rng.randrange(1, len(words) - 1)
            facts.append(("fuzzy", " ".join([*words[:k], "Kaffeetasse", *words[k + 1 :]])))
        else:
            facts.append(("none", "Die Bundesregierung kündigte neue Förderprogramme an."))
    return facts


def run_once(text: str, facts: list[tuple[str, str]]) -> tuple[float, dict[str, int]]:
    _fold_text.cache_clear()  # count the per-article folding every time
    t0 = time.perf_counter()
    g = Grounder(text)
    statuses: dict[str, int] = {}
    for _, ev in facts:
        st = g.ground(ev).status
        statuses[st] = statuses.get(st, 0) + 1
    return time.perf_counter() - t0, statuses


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("article", nargs="?", type=Path, help="ground facts in this text instead")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ground.json")
    args = ap.parse_args(argv)

    text = args.article.read_text(encoding="utf-8") if args.article else synthetic_article()
    facts = make_facts(text)
    run_once(text, facts)  # warm-up: imports, regex compilation
    times, statuses = [], {}
    for _ in range(args.repeat):
        dt, statuses = run_once(text, facts)
        times.append(dt * 1000)

    result = {
        "article": str(args.article) if args.article else "synthetic",
        "chars": len(text),
        "facts": len(facts),
        "repeat": args.repeat,
        "ms_min": round(min(times), 3),
        "ms_median": round(statistics.median(times), 3),
        "ms_max": round(max(times), 3),
        "target_ms": 50.0,
        "statuses": statuses,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(f"{'article':<12}{'chars':>8}{'facts':>7}{'min ms':>9}{'median ms':>11}{'max ms':>9}")
    print(
        f"{result['article'][:12]:<12}{len(text):>8}{len(facts):>7}"
        f"{result['ms_min']:>9.2f}{result['ms_median']:>11.2f}{result['ms_max']:>9.2f}"
    )
    print("statuses:", ", ".join(f"{k}={v}" for k, v in sorted(statuses.items())))
    print("target: median < 50 ms ->", "OK" if result["ms_median"] < 50 else "TOO SLOW")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
