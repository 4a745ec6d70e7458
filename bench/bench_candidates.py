"""Candidate finding on one long paragraph: time per size, and how it grows.

    .venv/bin/python bench/bench_candidates.py            # 10k … 2M characters

The paragraph repeats sentences written for factx (names, quotes, amounts, dates, cues)
with a running number, so that every sentence differs, and has no line break: the shape
that made the old sentence splitter quadratic. Goal (issue 15): 2 MB in under 5 s, and
time growing no faster than linearly (the printed exponent is the slope of log time over
log size between the smallest and the largest run).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, write_json  # noqa: E402

from factx._candidates import find_candidates  # noqa: E402

SENTENCES = (
    "Außenministerin Gerda Pfisterer traf am {n}. Mai in Rom ihren Amtskollegen Malte "
    "Quandtberg. „Wir haben über die Häfen und den Weizen gesprochen“, sagte Pfisterer. "
    "Der Handel stieg im Jahr 2023 auf {n},5 Milliarden Euro. Beide Seiten unterzeichneten "
    "ein Abkommen über Bahnstrecken Nummer {n}. Das Ministerium teilte mit, die Gespräche "
    "sollen im Herbst fortgesetzt werden. "
)


def paragraph(chars: int) -> str:
    parts, n, size = [], 0, 0
    while size < chars:
        s = SENTENCES.format(n=n)
        parts.append(s)
        size += len(s)
        n += 1
    return "".join(parts)[:chars]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,50000,200000,1000000,2000000")
    ap.add_argument("--out", type=Path, default=RESULTS / "candidates.json")
    args = ap.parse_args()
    find_candidates(paragraph(2000))  # load the tagger and the name lexicon first
    rows = []
    for size in [int(x) for x in args.sizes.split(",")]:
        text = paragraph(size)
        t0 = time.perf_counter()
        cand = find_candidates(text)
        dt = time.perf_counter() - t0
        rows.append({"chars": size, "seconds": round(dt, 3), "sentences": len(cand.sentences),
                     "quotes": len(cand.quotes), "amounts": len(cand.amounts)})  # fmt: skip
        print(f"{size:>9,} chars  {dt:7.2f} s  {len(cand.sentences):>7,} sentences", flush=True)
    a, b = rows[0], rows[-1]
    slope = math.log(b["seconds"] / a["seconds"]) / math.log(b["chars"] / a["chars"])
    print(f"growth exponent {slope:.2f} (1.0 is linear)")
    write_json(args.out, "candidates", {"runs": rows, "exponent": round(slope, 3)})


if __name__ == "__main__":
    main()
