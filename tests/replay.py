"""A replay server: a real HTTP server on loopback that answers each chat request with the
answer a real model gave to the same request body, as recorded in ``cassettes/``.

It replays recorded model output only; a request it has no recording for gets a 404 and is
counted in ``misses``, so a test sees that it asked something new. One exception, also a
recording: the recorded llama.cpp server refused every ``json_schema`` response format with
one error (500), so an unrecorded ``json_schema`` request gets that recorded refusal (a
process's first question may be any article's, and factx then falls back as it did live).
``delay`` makes every answer wait (a sleep: it stands in for a slow remote model without
costing CPU).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from .conftest import ROOT

CASSETTES = ROOT / "cassettes"


def _canonical(body: str | bytes) -> str:
    return json.dumps(json.loads(body), sort_keys=True, ensure_ascii=False)


def load_answers(folder: Path = CASSETTES) -> dict[str, tuple[int, str]]:
    """Request body (canonical JSON) -> (status, response body), over every cassette.

    A body recorded twice with different answers keeps the successful one: the refusal of
    an early recording was the server's answer to a mode it did not support yet."""
    answers: dict[str, tuple[int, str]] = {}
    for path in sorted(folder.rglob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for inter in data.get("interactions", []):
            req, resp = inter["request"], inter["response"]
            if not req.get("uri", "").endswith("/chat/completions") or not req.get("body"):
                continue
            key = _canonical(req["body"])
            status = int(resp["status"]["code"])
            old = answers.get(key)
            if old is None or (old[0] != 200 and status == 200):
                answers[key] = (status, resp["body"]["string"])
            body = resp["body"]["string"]
            if status >= 500 and "json_schema" in body and REFUSAL not in answers:
                answers[REFUSAL] = (status, body)
    return answers


REFUSAL = "<the server's refusal of a json_schema response format>"


def _format(body: bytes) -> str | None:
    try:
        fmt = json.loads(body).get("response_format") or {}
    except ValueError:
        return None
    return fmt.get("type") if isinstance(fmt, dict) else None


class ReplayServer:
    def __init__(self, *, delay: float = 0.0, answers: dict[str, tuple[int, str]] | None = None):
        self.answers = answers if answers is not None else load_answers()
        self.delay = delay
        self.calls = 0
        self.answered: list[float] = []  # perf_counter() of each answer sent
        self.misses: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with server._lock:
                    server.calls += 1
                if server.delay:
                    time.sleep(server.delay)
                try:
                    status, text = server.answers[_canonical(body)]
                except (KeyError, ValueError):
                    if _format(body) == "json_schema" and REFUSAL in server.answers:
                        status, text = server.answers[REFUSAL]
                    else:
                        with server._lock:
                            server.misses.append(body.decode("utf-8", "replace"))
                        status, text = 404, json.dumps({"error": {"message": "not recorded"}})
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                with server._lock:
                    server.answered.append(time.perf_counter())

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def articles(n: int) -> list[dict[str, str]]:
    """``n`` short articles written for the project: the two test articles, each published
    on many days. The questions they raise are the recorded ones (relative dates such as
    "am Donnerstag" resolve against the day, which the rules do without the model)."""
    from datetime import date, timedelta

    from .conftest import DATA

    base = []
    for stem in ("telefonat_2024-02", "wang_moskau_2023-02"):
        meta = json.loads((DATA / f"{stem}.meta.json").read_text(encoding="utf-8"))
        base.append((stem, (DATA / f"{stem}.txt").read_text(encoding="utf-8"), meta["published"]))
    out = []
    for i in range(n):
        stem, text, published = base[i % 2]
        day = date.fromisoformat(published) + timedelta(days=7 * (i // 2))
        out.append({"id": f"{stem}-{i:04d}", "text": text, "published": day.isoformat()})
    return out
