"""Benchmark ``cross_check`` on synthetic fact sets of growing size.

    .venv/bin/python bench/bench_crosscheck.py                 # 1k, 10k, 100k facts
    .venv/bin/python bench/bench_crosscheck.py --sizes 1000 5000 --tracemalloc

Each size runs in a fresh subprocess so that its peak resident memory (``ru_maxrss``) is its
own. The synthetic data mimics real reporting: every underlying event, quote, treaty and
trade figure is reported by a few articles, with spelling variants, translated quotes, a
second currency now and then, sub-period figures, and a few planted conflicts. Prints a
table and writes bench/results/crosscheck.json.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import platform
import random
import resource
import string
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from factx._crosscheck import cross_check
from factx._schemas import (
    ArticleFacts,
    Meeting,
    Source,
    Statement,
    TradeFigure,
    Treaty,
)

RESULTS = Path(__file__).resolve().parent / "results" / "crosscheck.json"
FACTS_PER_ARTICLE = 10

_PEOPLE = [
    ("Sergej Lawrow", "Sergei Lavrov"),
    ("Nikolai Patruschew", "Nikolai Patrushev"),
    ("Xi Jinping", "Xi"),
    ("Wladimir Putin", "Vladimir Putin"),
    ("Wang Yi", "Wang"),
    ("Juri Uschakow", "Yuri Ushakov"),
    ("Dmitri Peskow", "Dmitry Peskov"),
]
_PLACES = ["Moskau", "Moscow", "Peking", "Beijing", "Astana", "Sankt Petersburg", None]
_COUNTRIES = ["China", "Russland", "USA", "Indien", "Kasachstan", "Iran", "Brasilien"]
# Metrics of the closed set; exports and imports carry a direction, a target its deadline.
_METRICS = ["trade_volume", "exports", "imports", "contract_value", "target"]
_STATUSES = ["signed", "planned", "proposed", "in_force", "suspended"]


def _word(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 10)))


def _synthetic_people(rng: random.Random, n: int) -> list[tuple[str, str]]:
    out = list(_PEOPLE)
    while len(out) < n:
        first, last = _word(rng).title(), _word(rng).title()
        out.append((f"{first} {last}", last))  # the variant: surname alone
    return out


def generate(n_facts: int, seed: int = 7) -> list[ArticleFacts]:
    """About ``n_facts`` facts over ``n_facts / 10`` articles."""
    return list(generate_iter(n_facts, seed))


def generate_iter(n_facts: int, seed: int = 7) -> Iterator[ArticleFacts]:
    """``generate``'s articles one at a time (the same ones): for sets too large to hold."""
    rng = random.Random(seed)
    n_articles = max(1, n_facts // FACTS_PER_ARTICLE)
    people = _synthetic_people(rng, 300)
    # Content words follow Zipf's law: a few are in many quotes, most in very few.
    vocab = [_word(rng) for _ in range(40_000)]
    cum = list(itertools.accumulate(1 / rank for rank in range(1, len(vocab) + 1)))

    def words(k: int) -> list[str]:
        return rng.choices(vocab, cum_weights=cum, k=k)

    treaty_names = [f"Abkommen {_word(rng).title()} {_word(rng)}" for _ in range(400)]
    start = date(2012, 1, 1)

    # Underlying events; each is reported by ~3 articles (meetings) or ~2 (quotes).
    meetings = []
    for _ in range(max(1, n_facts * 3 // 10 // 3)):
        a, b = rng.sample(people, 2)
        meetings.append((a, b, start + timedelta(days=rng.randrange(4500)), rng.choice(_PLACES)))
    quotes = []
    for _ in range(max(1, n_facts * 4 // 10 // 2)):
        quotes.append((rng.choice(people), words(14), start + timedelta(days=rng.randrange(4500))))
    treaties = [
        (
            rng.choice(treaty_names),
            tuple(rng.sample(_COUNTRIES[:4], 2)),
            rng.choice(_STATUSES),
            start + timedelta(days=rng.randrange(4500)),
        )
        for _ in range(max(1, n_facts // 10 // 2))
    ]
    figures = []
    for _ in range(max(1, n_facts * 2 // 10 // 2)):
        year = rng.randint(2012, 2024)
        kind = rng.random()
        if kind < 0.5:
            period, share = str(year), 1.0
        elif kind < 0.8:
            month = rng.randint(1, 12)
            period, share = f"{year}-{month:02d}", 1 / 13
        else:
            last = rng.randint(2, 11)
            period, share = f"{year}-01..{year}-{last:02d}", last / 12.5
        parties = tuple(sorted(rng.sample(_COUNTRIES, 2)))
        metric = rng.choice(_METRICS)
        # crc32, not hash(): str hashes change with each process (PYTHONHASHSEED).
        annual = 1e9 * (50 + zlib.crc32(repr((parties, metric, year)).encode()) % 200)
        if metric == "target":
            period, share = f"..{year}", 1.0
        flow = tuple(rng.sample(parties, 2)) if metric in ("exports", "imports") else None
        figures.append((metric, parties, flow, period, round(annual * share, -6)))

    def pick(person: tuple[str, str]) -> str:
        return person[0] if rng.random() < 0.7 else person[1]

    for i in range(n_articles):
        pub = start + timedelta(days=rng.randrange(4600))
        ms = []
        for _ in range(3):
            a, b, day, place = rng.choice(meetings)
            if rng.random() < 0.01:  # a planted date conflict
                day += timedelta(days=2)
            ms.append(
                Meeting(
                    evidence="e",
                    participants=(pick(a), pick(b)),
                    location=place,
                    date=day.isoformat(),
                    status="held" if day <= pub else "planned",
                )
            )
        ss = []
        for _ in range(4):
            speaker, quote, day = rng.choice(quotes)
            # A "translation": a fifth of the words differ.
            variant = [w if rng.random() > 0.2 else words(1)[0] for w in quote]
            if rng.random() < 0.005:  # a planted misattribution
                speaker = rng.choice(people)
            ss.append(
                Statement(
                    evidence="q",
                    speaker=pick(speaker),
                    quote=" ".join(variant),
                    date=day.isoformat(),
                )
            )
        name, parties, status, day = rng.choice(treaties)
        ts = [Treaty(evidence="t", name=name, parties=parties, status=status,
                     date=day.isoformat())]  # fmt: skip
        fs = []
        for _ in range(2):
            metric, parties, flow, period, value = rng.choice(figures)
            if rng.random() < 0.01:  # a planted number conflict
                value *= 1.5
            fs.append(
                TradeFigure(
                    evidence="f",
                    value=value,
                    value_text="x",
                    currency="USD",
                    period=period,
                    metric=metric,
                    direction=flow,
                    parties=parties,
                )
            )
            if rng.random() < 0.05:  # the same figure in euros, at a plausible rate
                fs.append(fs[-1].model_copy(update={"currency": "EUR", "value": value * 0.9}))
        yield ArticleFacts(
            article_id=f"a{i:06d}",
            text_sha256=f"{i:064x}",
            text="",
            source=Source(published=pub.isoformat()),
            meetings=tuple(ms),
            statements=tuple(ss),
            treaties=tuple(ts),
            trade_figures=tuple(fs),
        )


def run_one(n_facts: int, trace: bool) -> dict[str, Any]:
    results = generate(n_facts)
    facts = sum(len(r.facts()) for r in results)
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    report = cross_check(results)
    seconds = time.perf_counter() - t0
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    if trace:
        tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kinds: dict[str, int] = {}
    for f in report.findings:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    return {
        "facts": facts,
        "articles": len(results),
        "seconds": round(seconds, 3),
        "facts_per_second": round(facts / seconds),
        "peak_rss_mib": round(rss_after / 1024, 1),
        "rss_growth_mib": round((rss_after - rss_before) / 1024, 1),
        "tracemalloc_peak_mib": round(traced, 1) if traced is not None else None,
        "findings": len(report.findings),
        "consolidated": len(report.consolidated),
        "findings_by_kind": dict(sorted(kinds.items())),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    ap.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process: one size
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.tracemalloc)))
        return

    rows = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--one", str(n)]
        if args.tracemalloc:
            cmd.append("--tracemalloc")
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(f"  {n} facts done", file=sys.stderr)

    header = f"{'facts':>8} {'articles':>8} {'seconds':>8} {'facts/s':>9} "
    header += f"{'peak RSS MiB':>12} {'RSS growth':>10} {'findings':>9} {'consolidated':>12}"
    if args.tracemalloc:
        header += f" {'traced MiB':>10}"
    print(header)
    for r in rows:
        line = (
            f"{r['facts']:>8} {r['articles']:>8} {r['seconds']:>8.2f} {r['facts_per_second']:>9} "
            f"{r['peak_rss_mib']:>12} {r['rss_growth_mib']:>10} {r['findings']:>9} "
            f"{r['consolidated']:>12}"
        )
        if args.tracemalloc:
            line += f" {r['tracemalloc_peak_mib']:>10}"
        print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "cross_check",
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": len(__import__("os").sched_getaffinity(0)),
                "runs": rows,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
