"""Ray Data extraction: scaling with actors against a slow endpoint, and overhead vs local.

    .venv/bin/python bench/bench_ray.py                       # both parts
    .venv/bin/python bench/bench_ray.py --part scaling --actors 1 2 4 8 16 --delay 0.3
    .venv/bin/python bench/bench_ray.py --part overhead --articles 200

The endpoint is the tests' replay server (tests/replay.py): every request is answered with
the answer the real model gave to it (cassettes/), after ``--delay`` seconds of sleep, which
stands in for a slow remote model without costing CPU. The articles are the tests' 200
project-written ones (two texts, many publication days). The answer cache is off, so every
article asks its questions. A local Ray cluster of 2 CPUs (this machine) is started once.

scaling: for each actor count, ``factx.distributed.run`` over ``40 x actors`` articles
(at least 40) into a fresh folder; articles/min over the whole run (actors' start included)
and over the steady state (from the result at 20 % of the run to the one at 80 %; and the
same from the endpoint's answers, converted to articles by the run's calls per article),
against one actor's rate times the actors and against the delay's bound (each actor asks
one question at a time, so at most ``actors x 60 / (delay x calls per article)``).
overhead: the same 200 articles, no delay: ``factx extract --out DIR`` in this process
(Pipeline, one thread) vs a Ray run with 1 actor: with the cluster's start, without it
(the first dataset on the new cluster), and a second run on the same cluster. Then Ray
Data's own floor: the same rows, batches and single actor through an actor that returns
each batch as it is, on that cluster, and as the first dataset of another new cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "bench"))
from _common import write_json  # noqa: E402

from tests.conftest import RECORD_MODEL  # noqa: E402
from tests.replay import ReplayServer, articles  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "ray.json"


def _settings(base_url: str, tmp: Path) -> Any:
    from factx import Settings

    return Settings(model=RECORD_MODEL, base_url=base_url, cache_dir=tmp, timeout=60,
                    answer_cache=False)  # fmt: skip


def _jsonl(tmp: Path, n: int) -> Path:
    src = tmp / f"in-{n}.jsonl"
    src.write_text("".join(json.dumps(a) + "\n" for a in articles(n)), encoding="utf-8")
    return src


def _folder(tmp: Path, n: int) -> Path:
    src = tmp / f"articles-{n}"
    src.mkdir(exist_ok=True)
    for a in articles(n):
        (src / f"{a['id']}.txt").write_text(a["text"], encoding="utf-8")
        meta = json.dumps({"published": a["published"]})
        (src / f"{a['id']}.meta.json").write_text(meta, encoding="utf-8")
    return src


def _steady(stamps: list[float]) -> float:
    """Events per minute between the one at 20 % and the one at 80 % of the run: the
    actors' staggered start and the last actors' tail left out. Results reach the driver in
    bursts, so first-to-last swung by 1.7x between two runs of the same 8 actors; the
    endpoint's answers do not come in bursts."""
    if len(stamps) < 5:
        return 0.0
    lo, hi = int(0.2 * (len(stamps) - 1)), int(0.8 * (len(stamps) - 1))
    return (hi - lo) / (stamps[hi] - stamps[lo]) * 60


def scaling(actor_counts: list[int], delay: float, actor_cpus: float) -> list[dict[str, Any]]:
    from factx._distributed import run

    rows = []
    with tempfile.TemporaryDirectory() as d, ReplayServer(delay=delay) as server:
        tmp = Path(d)
        settings = _settings(server.base_url, tmp)
        for actors in actor_counts:
            n = max(40, 40 * actors)
            src = _jsonl(tmp, n)
            stamps: list[float] = []

            def stamp(key: str, outcome: str, stamps: list[float] = stamps) -> None:
                stamps.append(time.perf_counter())

            calls0, answered0 = server.calls, len(server.answered)
            t0 = time.perf_counter()
            summary = run(src, tmp / f"out-{actors}", settings, actors=actors,
                          actor_cpus=actor_cpus, on_result=stamp)  # fmt: skip
            wall = time.perf_counter() - t0
            steady = _steady(stamps)
            calls = server.calls - calls0
            # The endpoint's own count: answers are sent one by one, not in bursts.
            at_endpoint = _steady(server.answered[answered0:]) * n / calls if calls else 0.0
            row = {
                "actors": actors,
                "articles": n,
                "extracted": summary.extracted,
                "failed": summary.failed,
                "llm_calls": calls,
                "seconds": round(wall, 1),
                "articles_per_min": round(n / wall * 60, 1),
                "steady_articles_per_min": round(steady, 1),
                "steady_at_endpoint_articles_per_min": round(at_endpoint, 1),
            }
            from factx._parquet import read_results

            row["failures"] = [
                f"{r.article_id}: {e.error}: {e.message}"
                for r in read_results(tmp / f"out-{actors}") if r.status == "failed"
                for e in r.errors
            ]  # fmt: skip
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
        assert not server.misses, "the replay server was asked something not recorded"
    base = rows[0]["steady_articles_per_min"] / rows[0]["actors"]
    base_end = rows[0]["steady_at_endpoint_articles_per_min"] / rows[0]["actors"]
    for r in rows:
        r["x_linear_steady"] = round(r["steady_articles_per_min"] / (base * r["actors"]), 2)
        end = r["steady_at_endpoint_articles_per_min"]
        r["x_linear_at_endpoint"] = round(end / (base_end * r["actors"]), 2)
        # No run can beat the endpoint's delay: each actor asks one question at a time.
        bound = r["actors"] * 60 / (delay * r["llm_calls"] / r["articles"]) if delay else 0.0
        r["delay_bound_articles_per_min"] = round(bound, 1)
        r["x_delay_bound_at_endpoint"] = round(end / bound, 2) if bound else None
    return rows


class _AsIs:
    """An actor that does no work: what Ray Data's actor pool costs by itself."""

    def __call__(self, batch: Any) -> Any:
        return batch


def _floor(src: Path, n: int) -> float:
    """Seconds for ``run``'s dataset shape (rows, blocks, batch size, one actor) through
    ``_AsIs``: Ray Data's planning, the actor's start and the hand-overs."""
    import ray

    from factx._distributed import _batch_size, read_source

    t0 = time.perf_counter()
    ds = read_source(src, blocks=8)
    total = ds.count()
    out = ds.map_batches(_AsIs, batch_format="pyarrow", batch_size=_batch_size(total, 1),
                         compute=ray.data.ActorPoolStrategy(size=1), num_cpus=0.25)  # fmt: skip
    rows = sum(b.num_rows for b in out.iter_batches(batch_format="pyarrow", batch_size=None))
    assert rows == n, rows
    return time.perf_counter() - t0


def overhead(n: int) -> dict[str, Any]:
    import ray
    from click.testing import CliRunner

    from factx._cli import cli
    from factx._distributed import init_ray, run

    with tempfile.TemporaryDirectory() as d, ReplayServer() as server:
        tmp = Path(d)
        src = _folder(tmp, n)
        t0 = time.perf_counter()
        res = CliRunner().invoke(cli, [
            "extract", str(src), "--out", str(tmp / "local"), "--base-url", server.base_url,
            "-m", RECORD_MODEL, "--store", str(tmp / "local.sqlite3"), "--no-answer-cache",
        ])  # fmt: skip
        local = time.perf_counter() - t0
        assert res.exit_code == 0, res.output
        ray.shutdown()
        t0 = time.perf_counter()
        init_ray(num_cpus=2)
        started = time.perf_counter()
        summary = run(src, tmp / "ray", _settings(server.base_url, tmp), actors=1)
        done = time.perf_counter()
        assert summary.extracted == n, summary
        # The same run again on the same cluster: Ray Data's detached actors (stats,
        # autoscaling coordinator) exist now, as on a cluster that has run a dataset before.
        again = run(src, tmp / "ray-again", _settings(server.base_url, tmp), actors=1)
        warm = time.perf_counter() - done
        assert again.extracted == n, again
        assert not server.misses
        floor_warm = _floor(src, n)
        ray.shutdown()
        init_ray(num_cpus=2)
        floor_new = _floor(src, n)
    return {
        "articles": n,
        "local_seconds": round(local, 1),
        "ray_seconds_with_cluster_start": round(done - t0, 1),
        "ray_seconds_new_cluster": round(done - started, 1),
        "ray_seconds_second_run": round(warm, 1),
        "ratio_with_cluster_start": round((done - t0) / local, 2),
        "ratio_new_cluster": round((done - started) / local, 2),
        "ratio_second_run": round(warm / local, 2),
        "ray_data_floor_seconds_new_cluster": round(floor_new, 2),
        "ray_data_floor_seconds_second_run": round(floor_warm, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["scaling", "overhead", "both"], default="both")
    ap.add_argument("--actors", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--delay", type=float, default=0.3)
    ap.add_argument("--actor-cpus", type=float, default=0.1)
    ap.add_argument("--articles", type=int, default=200)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    import logging

    logging.getLogger("ray").setLevel(logging.WARNING)
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    from factx._distributed import init_ray

    result: dict[str, Any] = {"load_average_at_start": os.getloadavg()}
    if args.part in ("overhead", "both"):
        result["overhead"] = overhead(args.articles)
        print(json.dumps(result["overhead"]), file=sys.stderr)
    if args.part in ("scaling", "both"):
        init_ray(num_cpus=2)
        result["delay_s"] = args.delay
        result["actor_cpus"] = args.actor_cpus
        result["scaling"] = scaling(args.actors, args.delay, args.actor_cpus)
    # One part may run alone: keep the other part's figures from the last run.
    kept = json.loads(args.out.read_text()) if args.out.exists() else {}
    parts = ("overhead", "delay_s", "actor_cpus", "scaling")
    write_json(args.out, "ray", {**{k: kept[k] for k in parts if k in kept}, **result})
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
