"""Time `factx extract` against an endpoint that fails every request (docs/robustness.md).

    PYTHONPATH=. .venv/bin/python scripts/probe_dead_endpoint.py KIND TIMEOUT N

KIND is a fault of ``tests/faults.py`` (500, 429, slow, ...): the fault proxy in front of
the cassette replay gives it to every request (a ``slow`` answer is an hour away, a 429
asks for ``Retry-After: 60``). N copies of the recorded articles, each with its own date,
are extracted with the CLI's default settings; prints the exit status, the wall time from
start to exit, the requests the endpoint saw and the CLI's warning lines.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from tests.faults import RECORD_MODEL, FaultProxy, ReplayServer, recorded_articles


def main(kind: str, timeout: str, n: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"factx-probe-{kind}-"))
    folder = tmp / "in"
    folder.mkdir()
    sources = recorded_articles()
    for i in range(n):
        src = sources[i % len(sources)]
        dst = folder / f"{i:02d}_{src.stem}.txt"
        shutil.copyfile(src, dst)
        meta = json.loads(src.with_name(src.stem + ".meta.json").read_text(encoding="utf-8"))
        meta["published"] = (date.fromisoformat(meta["published"]) + timedelta(weeks=i)).isoformat()
        dst.with_name(dst.stem + ".meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with (
        ReplayServer() as replay,
        FaultProxy(replay.base_url, rate=1.0, kinds=[kind], slow_s=3600, retry_after="60") as p,
    ):
        started = time.monotonic()
        res = subprocess.run(
            [
                sys.executable, "-c", "from factx._cli import main; main()", "extract",
                str(folder), "-o", str(tmp / "out.jsonl"), "--store", str(tmp / "s.sqlite3"),
                "--base-url", p.base_url, "-m", RECORD_MODEL, "--timeout", timeout,
            ],
            capture_output=True,
            text=True,
        )  # fmt: skip
        took = time.monotonic() - started
    summary = res.stderr.strip().splitlines()[-1]
    print(
        f"{kind} --timeout {timeout}, {n} articles: exit {res.returncode}, {took:.1f} s, "
        f"{p.log.requests} requests, {summary!r}"
    )
    for line in res.stderr.splitlines():
        if line.startswith("warning:"):
            print("  " + line)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
