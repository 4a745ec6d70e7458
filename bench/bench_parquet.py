"""The out-of-core cross-check (``factx check DIR``) on synthetic fact sets in Parquet.

    .venv/bin/python bench/bench_parquet.py                           # 100k, 1M, 10M facts
    .venv/bin/python bench/bench_parquet.py --sizes 100000 1000000 --data /tmp/factx-pq

The facts are bench_crosscheck.py's synthetic set (``generate_iter``: the same articles as
``generate``, one at a time), written in factx's Parquet layout in parts of 5,000 articles.
Each check runs ``check_parquet_to`` (findings and consolidated facts written as Parquet,
nothing held) in a fresh subprocess with ``--workers`` check processes (default: one per
CPU). Its peak RSS is the peak of the sum over that subprocess and its workers, DuckDB
included, sampled from /proc every second. At ``--compare`` sizes (100k by default) a
second subprocess also builds the whole report with ``check_parquet`` and with the
in-memory ``cross_check`` of the same articles and says whether they are equal. The
growth exponent between two sizes is log(t2/t1) / log(n2/n1). Writes
bench/results/parquet_check.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from _common import write_json  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "parquet_check.json"
CHUNK = 5_000


def _generate(n: int, data: Path) -> dict[str, Any]:
    from bench_crosscheck import generate_iter

    from factx._parquet import Keyed, result_key, write_batch

    t0 = time.perf_counter()
    batch: list[Keyed] = []
    facts = 0
    for r in generate_iter(n):
        facts += len(r.facts())
        batch.append(Keyed(r, result_key(r, model="m", strategy="s", prompt_version="p")))
        if len(batch) >= CHUNK:
            write_batch(data, batch)
            batch = []
    if batch:
        write_batch(data, batch)
    (data / "facts.txt").write_text(str(facts))
    return {"generate_seconds": round(time.perf_counter() - t0, 1)}


class _TreeRss(threading.Thread):
    """The peak of the summed RSS of this process and its descendants (the check's worker
    processes run at the same time, so their peaks add up), read from /proc every second."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self.done = threading.Event()

    def _tree(self) -> int:
        parent: dict[int, int] = {}
        rss: dict[int, int] = {}
        page = os.sysconf("SC_PAGE_SIZE")
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
                statm = Path(f"/proc/{d}/statm").read_text()
            except OSError:
                continue
            parent[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
            rss[int(d)] = int(statm.split()[1]) * page
        me, total = os.getpid(), 0
        for pid in rss:
            p = pid
            while p and p != me:
                p = parent.get(p, 0)
            total += rss[pid] if p == me else 0
        return total

    def run(self) -> None:
        while not self.done.wait(1.0):
            self.peak = max(self.peak, self._tree())


def _check(data: Path, memory_limit: str, workers: int) -> dict[str, Any]:
    from factx._sqlreport import check_parquet_to

    tree = _TreeRss()
    tree.start()
    with tempfile.TemporaryDirectory() as dest:
        t0 = time.perf_counter()
        counts = check_parquet_to(data, dest, memory_limit=memory_limit, workers=workers)
        seconds = time.perf_counter() - t0
    tree.done.set()
    tree.join()
    main = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {
        "seconds": round(seconds, 1),
        "workers": workers,
        # The processes' RSS at one moment, summed (a sample can miss a short peak that
        # ru_maxrss, one process's own peak, has seen: the larger of the two is given).
        "peak_rss_mib": round(max(tree.peak, main, worker) / 2**20, 1),
        "peak_rss_mib_main": round(main / 2**20, 1),
        "peak_rss_mib_largest_worker": round(worker / 2**20, 1),
        **counts,
    }


def _compare(data: Path) -> dict[str, Any]:
    from factx._crosscheck import cross_check
    from factx._parquet import read_results
    from factx._sqlcheck import check_parquet

    t0 = time.perf_counter()
    sql = check_parquet(data)
    t1 = time.perf_counter()
    mem = cross_check(read_results(data))
    t2 = time.perf_counter()
    return {
        "same_report": sql == mem,
        "same_findings": sql.findings == mem.findings,
        "findings": len(sql.findings),
        "check_parquet_seconds": round(t1 - t0, 1),
        "in_memory_seconds_read_included": round(t2 - t1, 1),
    }


def _child(args: list[str]) -> dict[str, Any]:
    """The child's JSON line; a child that failed gives ``{"error": its last line}``, so
    the sizes measured before it are still written (a 10M check ran out of DuckDB's
    memory limit once, and took the 100k and 1M figures with it)."""
    p = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        lines = p.stderr.strip().splitlines() or [f"exit status {p.returncode}"]
        return {"error": next((x for x in reversed(lines) if "Error" in x), lines[-1])}
    return dict(json.loads(p.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    ap.add_argument("--compare", type=int, nargs="*", default=[100_000])
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "factx-bench-pq")
    ap.add_argument("--memory-limit", default="2GB")
    ap.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="check processes (default: the number of CPUs)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        what, n = args.child
        data = args.data / n
        result = (
            _generate(int(n), data) if what == "generate"
            else _check(data, args.memory_limit, args.workers) if what == "check"
            else _compare(data)
        )  # fmt: skip
        print(json.dumps(result))
        return
    common = [
        "--data",
        str(args.data),
        "--memory-limit",
        args.memory_limit,
        "--workers",
        str(args.workers),
    ]
    rows = []
    for n in args.sizes:
        row: dict[str, Any] = {"size": n}
        if not (args.data / str(n) / "facts.txt").exists():
            row.update(_child(["--child", "generate", str(n), *common]))
        if "error" not in row:
            row["facts"] = int((args.data / str(n) / "facts.txt").read_text())
            row.update(_child(["--child", "check", str(n), *common]))
        if "error" in row:
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
            break
        if n in args.compare:
            row["compare"] = _child(["--child", "compare", str(n), *common])
        if rows:
            prev = rows[-1]
            row["growth_exponent"] = round(
                math.log(row["seconds"] / prev["seconds"]) / math.log(row["facts"] / prev["facts"]),
                2,
            )
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    result = {"memory_limit": args.memory_limit, "workers": args.workers, "runs": rows}
    write_json(args.out, "parquet_check", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
