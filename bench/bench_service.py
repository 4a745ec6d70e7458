"""The service under load: 20 clients, 100 jobs, 1,000 short articles, the cassette replay.

    .venv/bin/python bench/bench_service.py                 # 20 clients x 5 jobs x 10 articles
    .venv/bin/python bench/bench_service.py --clients 4 --jobs-per-client 2 --articles-per-job 5

The articles are the project's own short test articles (``tests/data``), each given a
distinct publication date so that every one is a distinct cache key that the cassettes still
answer. The LLM is the cassette replay server of ``tests/faults.py`` in a process of its own.
Both sides run with ``--no-answer-cache``: the copies share their questions, and with the
answer cache the first copy's answers would serve all the others (about 15 calls for 1,000
articles, raced differently by the two sides), so neither would be doing an article's work.

1. ``factx extract`` (a subprocess, ``-j W``, empty store) on all articles: the baseline.
2. ``factx serve`` (a subprocess, ``-j W``, empty store, one API key per client). Each
   client (an asyncio task with its own connection) submits its jobs (NDJSON, POST
   /v1/jobs), one every ``--submit-every-ms``, the clients staggered so that the POSTs
   come as a steady feed (``0``: all 100 at once), then polls GET /v1/jobs/{id} every
   ``--poll-ms`` until all its jobs are finished, then reads every job's results.
   Latency of POST and GET is measured at the client, and also read from the service's
   own /metrics histogram. The POST goal counts the POSTs sent while the workers are busy
   (between the first and the last article finished, by the store's clock).
   Throughput: articles over the extraction window each store recorded (the CLI's run;
   the first job created to the last article finished), so that neither process start
   nor poll interval counts; the client-clock times are printed too.

Lost: accepted articles with no result line. Duplicated: an article id with two result lines,
or a cache key whose LLM calls in the service's store outnumber the baseline's (extracted
twice). Goals: p99 of POST and GET < 50 ms, throughput >= 0.9x the baseline.

``--rounds`` (2) repeats extract-then-serve, since on a shared machine the load moves
between the two. Prints a table, one row a round, and writes bench/results/service.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    RESULTS,
    ROOT,
    TEST_DATA,
    log,
    markdown_table,
    percentile,
    print_table,
    write_json,
)

MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"  # the model the cassettes were recorded with
GOAL_P99_MS = 50.0
GOAL_RATIO = 0.9
_REPLAY = (
    "import sys; sys.path.insert(0, sys.argv[1]); from tests.faults import ReplayServer\n"
    "with ReplayServer() as r:\n"
    "    print(r.base_url, flush=True); sys.stdin.read()\n"
)


def make_articles(n: int) -> list[dict[str, Any]]:
    sources = sorted(TEST_DATA.glob("*.txt"))
    out = []
    for i in range(n):
        src = sources[i % len(sources)]
        meta = json.loads(src.with_name(src.stem + ".meta.json").read_text(encoding="utf-8"))
        published = date.fromisoformat(meta["published"]) + timedelta(days=i // len(sources))
        out.append(
            {"text": src.read_text(encoding="utf-8"), "published": published.isoformat(),
             "id": f"b{i:05d}_{src.stem}"}
        )  # fmt: skip
    return out


def write_folder(articles: list[dict[str, Any]], folder: Path) -> None:
    folder.mkdir(parents=True)
    for a in articles:
        (folder / f"{a['id']}.txt").write_text(a["text"], encoding="utf-8")
        meta = {"published": a["published"]}
        (folder / f"{a['id']}.meta.json").write_text(json.dumps(meta), encoding="utf-8")


def factx_cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "from factx._cli import main; main()", *args]


def calls_per_key(store: Path) -> dict[str, int]:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT cache_key, COUNT(*) FROM calls WHERE cache_key IS NOT NULL GROUP BY 1"
        ).fetchall()
    finally:
        db.close()
    return dict(rows)


def store_times(store: Path, sql: str) -> tuple[float, float]:
    """Two timestamps the store recorded (``sql`` selects start, end), as epoch seconds."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        start, end = db.execute(sql).fetchone()
    finally:
        db.close()
    return datetime.fromisoformat(start).timestamp(), datetime.fromisoformat(end).timestamp()


def store_window(store: Path, sql: str) -> float:
    """Seconds between two timestamps the store recorded (``sql`` selects start, end)."""
    start, end = store_times(store, sql)
    return end - start


def run_baseline(replay: str, folder: Path, store: Path, workers: int) -> dict[str, Any]:
    cmd = factx_cmd(
        "extract", str(folder), "-o", str(store.with_suffix(".jsonl")), "--store", str(store),
        "--base-url", replay, "-m", MODEL, "-j", str(workers), "--timeout", "30", "--stats",
        "--no-answer-cache",
    )  # fmt: skip
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"factx extract failed ({done.returncode}): {done.stderr[-2000:]}")
    summary = [x for x in done.stderr.splitlines() if x.startswith("stats:") or " cached, " in x]
    log.print(f"baseline: {wall:.1f} s; {' / '.join(summary)}")
    return {"wall_s": wall, "summary": summary}


class BenchClient:
    """One client: its own key and connection; submits its jobs, polls them, reads them."""

    def __init__(
        self,
        url: str,
        key: str,
        jobs: list[list[dict[str, Any]]],
        poll_s: float,
        submit_at: list[float],
    ):
        self.url, self.key, self.jobs, self.poll_s = url, key, jobs, poll_s
        self.submit_at = submit_at  # seconds after the start, one a job
        self.post_ms: list[float] = []
        self.post_sent: list[float] = []  # wall clock (epoch s) each POST was sent
        self.get_ms: list[float] = []
        self.accepted: list[tuple[str, int]] = []
        self.rejected = 0
        self.finished_at = 0.0
        self.lines: list[dict[str, Any]] = []
        # Built before the clock starts: an httpx client loads its TLS context (some 40 ms
        # of CPU) when made, and made inside the timed phase that blocked the shared event
        # loop, so the other clients' responses waited for it and counted it as latency.
        headers = {"Authorization": f"Bearer {key}"}
        self.http = httpx.AsyncClient(base_url=url, headers=headers, timeout=60)
        self.bodies = [
            "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles).encode()
            for articles in jobs
        ]

    async def run(self, start: float) -> None:
        async with self.http as http:
            for articles, body, at in zip(self.jobs, self.bodies, self.submit_at, strict=True):
                await asyncio.sleep(max(0.0, start + at - time.perf_counter()))
                self.post_sent.append(time.time())
                t0 = time.perf_counter()
                r = await http.post(
                    "/v1/jobs", content=body, headers={"Content-Type": "application/x-ndjson"}
                )
                self.post_ms.append((time.perf_counter() - t0) * 1000)
                if r.status_code == 202:
                    self.accepted.append((r.json()["job_id"], len(articles)))
                else:
                    self.rejected += 1
            pending = {job_id for job_id, _ in self.accepted}
            while pending:
                await asyncio.sleep(self.poll_s)
                for job_id in sorted(pending):
                    t0 = time.perf_counter()
                    r = await http.get(f"/v1/jobs/{job_id}")
                    self.get_ms.append((time.perf_counter() - t0) * 1000)
                    if r.json()["state"] in ("succeeded", "partial", "failed", "cancelled"):
                        pending.discard(job_id)
            self.finished_at = time.perf_counter()
            for job_id, _ in self.accepted:
                offset: str | None = "0"
                while offset is not None:
                    r = await http.get(
                        f"/v1/jobs/{job_id}/results",
                        params={"offset": offset, "limit": 1000, "include_flagged": True},
                    )
                    self.lines += [json.loads(x) for x in r.text.splitlines() if x]
                    offset = r.headers.get("x-next-offset")


def server_quantile(metrics: str, route: str, q: float) -> float | None:
    """The upper bound (ms) of the histogram bucket that holds quantile ``q`` of the
    service's own timing of ``route`` (request in to response out, no client, no network)."""
    pat = re.compile(
        r'^factx_http_request_duration_seconds_bucket\{route="' + re.escape(route)
        + r'",le="([^"]+)"\} (\S+)$', re.M,
    )  # fmt: skip
    buckets = [(float(le), float(n)) for le, n in pat.findall(metrics)]
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    return next(le * 1000 for le, n in buckets if n >= q * total)


def run_service(
    replay: str, articles: list[dict[str, Any]], store: Path, args: argparse.Namespace
) -> dict[str, Any]:
    from factx._local import free_port

    keys = [f"bench-client-{i:02d}-{os.urandom(6).hex()}" for i in range(args.clients)]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, FACTX_API_KEYS=",".join(keys))
    cmd = factx_cmd(
        "serve", "--port", str(port), "--store", str(store), "--base-url", replay, "-m", MODEL,
        "-j", str(args.workers), "--timeout", "30", "--no-answer-cache",
        "--max-jobs-per-key", str(max(8, args.jobs_per_client)),
    )  # fmt: skip
    errlog = store.with_suffix(".log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=errlog)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"factx serve did not come up; see {store.with_suffix('.log')}")
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        per_job = args.articles_per_job
        chunks = [articles[i : i + per_job] for i in range(0, len(articles), per_job)]
        # Job k of client i goes at (k * clients + i) * gap: a steady feed, one POST every
        # gap, from the first moment on (gap 0: all at once, as one burst).
        gap = args.submit_every_ms / 1000 / args.clients
        clients = [
            BenchClient(
                url, keys[i], chunks[i :: args.clients], args.poll_ms / 1000,
                [(k * args.clients + i) * gap for k in range(len(chunks[i :: args.clients]))],
            )
            for i in range(args.clients)
        ]  # fmt: skip

        t0 = time.perf_counter()

        async def all_clients() -> None:
            await asyncio.gather(*(c.run(t0) for c in clients))

        asyncio.run(all_clients())
        wall = max(c.finished_at for c in clients) - t0
        metrics = httpx.get(url + "/metrics", timeout=10).text
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        errlog.close()
    return {
        "wall_s": wall,
        "post_ms": [x for c in clients for x in c.post_ms],
        "post_sent": [x for c in clients for x in c.post_sent],
        "get_ms": [x for c in clients for x in c.get_ms],
        "accepted": sum(n for c in clients for _, n in c.accepted),
        "jobs": sum(len(c.accepted) for c in clients),
        "rejected_jobs": sum(c.rejected for c in clients),
        "lines": [line for c in clients for line in c.lines],
        "server_post_p99_ms": server_quantile(metrics, "/v1/jobs", 0.99),
        "server_get_p99_ms": server_quantile(metrics, "/v1/jobs/{job_id}", 0.99),
        "metrics_llm_calls": next(
            (line.split()[-1] for line in metrics.splitlines()
             if line.startswith("factx_llm_calls_total ")), None,
        ),
    }  # fmt: skip


def one_round(
    r: int, replay: str, articles: list[dict[str, Any]], tmp: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """``factx extract`` then ``factx serve`` on the same articles, fresh stores."""
    n = len(articles)
    load_before = os.getloadavg()
    cli_store, svc_store = tmp / f"cli{r}.sqlite3", tmp / f"service{r}.sqlite3"
    base = run_baseline(replay, tmp / "in", cli_store, args.workers)
    svc = run_service(replay, articles, svc_store, args)
    load_after = os.getloadavg()
    ids = [line["article_id"] for line in svc["lines"]]
    wanted = {a["id"] for a in articles}
    finished = len(set(ids) & wanted)
    cli_calls = calls_per_key(cli_store)
    svc_calls = calls_per_key(svc_store)
    twice = sum(1 for k, v in svc_calls.items() if v > cli_calls.get(k, 0))
    # The extraction windows as each store recorded them, process starts left out: the
    # CLI's run, and the service's first job created to its last article finished.
    cli_window = store_window(cli_store, "SELECT started_at, finished_at FROM runs")
    svc_window = store_window(
        svc_store,
        "SELECT (SELECT MIN(created_at) FROM jobs), (SELECT MAX(finished_at) FROM job_articles)",
    )
    # "While the workers are busy": sent after the first article finished and before the
    # last one did (the store's clock, UTC). The opening POSTs come before any work.
    busy_from, busy_to = store_times(
        svc_store, "SELECT MIN(finished_at), MAX(finished_at) FROM job_articles"
    )
    busy_ms = [
        ms for ms, sent in zip(svc["post_ms"], svc["post_sent"], strict=True)
        if busy_from <= sent <= busy_to
    ]  # fmt: skip
    return {
        "round": r + 1,
        "articles": n,
        "jobs": svc["jobs"],
        "rejected_jobs": svc["rejected_jobs"],
        "accepted": svc["accepted"],
        "finished": finished,
        "failed": sum(1 for line in svc["lines"] if line["status"] == "failed"),
        "lost": len(wanted) - finished,
        "duplicated": (len(ids) - len(set(ids))) + twice,
        "post_p50_ms": percentile(svc["post_ms"], 0.5),
        "post_p99_ms": percentile(svc["post_ms"], 0.99),
        "posts_busy": len(busy_ms),
        "post_busy_p50_ms": percentile(busy_ms, 0.5),
        "post_busy_p99_ms": percentile(busy_ms, 0.99),
        "get_p50_ms": percentile(svc["get_ms"], 0.5),
        "get_p99_ms": percentile(svc["get_ms"], 0.99),
        "gets": len(svc["get_ms"]),
        "server_post_p99_ms": svc["server_post_p99_ms"],
        "server_get_p99_ms": svc["server_get_p99_ms"],
        "slowest_posts_ms": [round(x) for x in sorted(svc["post_ms"])[-5:]],
        "service_s": svc["wall_s"],
        "extract_s": base["wall_s"],
        "service_window_s": svc_window,
        "extract_window_s": cli_window,
        "service_art_s": n / svc_window,
        "extract_art_s": n / cli_window,
        "ratio": cli_window / svc_window,
        "ratio_client_clock": base["wall_s"] / svc["wall_s"],
        "load_before": round(load_before[0], 2),
        "load_after": round(load_after[0], 2),
        "llm_calls": sum(svc_calls.values()),
        "extract_llm_calls": sum(cli_calls.values()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--jobs-per-client", type=int, default=5)
    ap.add_argument("--articles-per-job", type=int, default=10)
    ap.add_argument("-j", "--workers", type=int, default=4, help="workers and extract -j")
    ap.add_argument("--poll-ms", type=float, default=500.0, help="each client, each job")
    ap.add_argument(
        "--submit-every-ms", type=float, default=1500.0,
        help="each client submits a job this often, the clients staggered (0: one burst)",
    )  # fmt: skip
    ap.add_argument(
        "--rounds", type=int, default=2,
        help="extract then serve, this many times: on a shared machine the load moves",
    )  # fmt: skip
    ap.add_argument("--out", type=Path, default=RESULTS / "service.json")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()

    n = args.clients * args.jobs_per_client * args.articles_per_job
    articles = make_articles(n)
    tmp = Path(tempfile.mkdtemp(prefix="factx-bench-service-"))
    replay_proc = subprocess.Popen(
        [sys.executable, "-c", _REPLAY, str(ROOT)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert replay_proc.stdout is not None
        replay = replay_proc.stdout.readline().strip()
        log.print(f"replay at {replay}; {n} articles in {tmp}")
        write_folder(articles, tmp / "in")
        rows = [one_round(r, replay, articles, tmp, args) for r in range(args.rounds)]
    finally:
        if replay_proc.stdin:
            replay_proc.stdin.close()
        replay_proc.wait(timeout=30)

    cols = [
        ("round", "round"), ("load_before", "load before"), ("accepted", "accepted"),
        ("finished", "finished"), ("lost", "lost"), ("duplicated", "duplicated"),
        ("post_p50_ms", "POST p50 ms"), ("post_p99_ms", "POST p99 ms"),
        ("posts_busy", "POSTs busy"), ("post_busy_p99_ms", "busy POST p99 ms"),
        ("get_p50_ms", "GET p50 ms"), ("get_p99_ms", "GET p99 ms"),
        ("service_art_s", "service art/s"), ("extract_art_s", "extract art/s"),
        ("ratio", "service/extract"),
    ]  # fmt: skip
    title = (
        f"factx serve: {args.clients} clients, {rows[0]['jobs']} jobs, {n} articles, "
        f"-j {args.workers}, replay LLM, {args.rounds} rounds"
    )
    print_table(title, cols, rows)
    if args.markdown:
        print(markdown_table(cols, rows))

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    def busy_verdict(p99: float | None) -> str:
        return "not measured (no POST while busy)" if p99 is None else verdict(p99 < GOAL_P99_MS)

    for row in rows:
        print(
            f"round {row['round']}: LLM calls service {row['llm_calls']}, extract "
            f"{row['extract_llm_calls']}; {row['gets']} GETs timed; "
            f"{row['rejected_jobs']} jobs rejected; load average (1 min) {row['load_before']} "
            f"before, {row['load_after']} after"
        )
        print(
            f"  p99 as the service timed itself (upper bound of its histogram bucket): "
            f"POST <= {row['server_post_p99_ms']} ms, GET <= {row['server_get_p99_ms']} ms; "
            f"slowest POSTs (ms): {row['slowest_posts_ms']}"
        )
        print(
            f"  client clock: service {row['service_s']:.1f} s (first POST to the last job "
            f"seen finished by a {args.poll_ms:.0f} ms poll), factx extract "
            f"{row['extract_s']:.1f} s (process start included): ratio "
            f"{row['ratio_client_clock']:.2f}"
        )
        print(
            f"  goals: p99 < {GOAL_P99_MS:.0f} ms while the workers are busy: POST "
            f"{busy_verdict(row['post_busy_p99_ms'])} ({row['posts_busy']} POSTs; all "
            f"{row['post_p99_ms']:.0f} ms), "
            f"GET {verdict(row['get_p99_ms'] < GOAL_P99_MS)}; "
            f"throughput >= {GOAL_RATIO}x: {verdict(row['ratio'] >= GOAL_RATIO)}"
        )
    write_json(args.out, "service", {"settings": vars(args) | {"out": str(args.out)}, "rows": rows})
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
