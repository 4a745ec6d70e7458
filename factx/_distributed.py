"""Extraction on Ray Data: the same Pipeline per actor, Parquet parts as output.

Each actor of the pool holds one ``Pipeline`` (one extractor, one instructor client pointed
at ``settings.base_url``, its own SQLite answer cache in a temporary folder) and runs the
same candidates, questions and finalize as a local run; only the driver differs. A batch
of results is written by ``_parquet.write_batch`` (in the actor itself, or in
``write_parquet``'s tasks) under a new part id, articles last, so a retried task (an actor
that died is restarted by Ray, its task run again) can only add a second copy of a batch,
which the readers drop by cache key. A rerun skips the cache keys already complete in the
output folder, before any actor sees the article.

The only importer of ray (and, with ``_parquet``, of pyarrow); imported lazily by the CLI.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import ray

from ._batch import Item, Pipeline
from ._errors import ConfigError, InputError
from ._local import LocalServer, assemble_default_gguf
from ._parquet import Keyed, result_key, write_batch
from ._read import read_document, read_text_document
from ._schemas import ArticleFacts, Document
from ._settings import Settings

# What an extraction stage gives back per article: small, the result itself as JSON.
RESULT_SCHEMA = pa.schema(
    [
        ("cache_key", pa.string()),
        ("article_id", pa.string()),
        ("status", pa.string()),
        ("outcome", pa.string()),
        ("calls", pa.int64()),
        ("result_json", pa.string()),
    ]
)
SUMMARY_SCHEMA = pa.schema(
    [("cache_key", pa.string()), ("status", pa.string()), ("outcome", pa.string()),
     ("calls", pa.int64())]
)  # fmt: skip


def init_ray(address: str | None = None, *, num_cpus: int | None = None) -> None:
    """Join a cluster at ``address``, or start a small local one: no dashboard, a small
    object store (results are small; 2-core machines have little to spare). Ray 2.60 turns
    a loopback node address into the machine's own, so the local cluster listens there,
    behind Ray's token authentication (on by default)."""
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
        return
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        object_store_memory=256 * 1024**2,
        log_to_driver=False,
    )


def _published(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):  # a JSON reader's timestamp of a plain date
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _document(row: dict[str, Any]) -> Document:
    if row.get("path"):
        pub = _published(row.get("published"))
        return read_document(Path(row["path"]), published=date.fromisoformat(pub) if pub else None)
    return read_text_document(
        row.get("text") or "", doc_id=str(row["id"]), published=_published(row.get("published"))
    )


def _item(row: dict[str, Any]) -> Item:
    if row.get("path"):
        return Item(path=Path(row["path"]), published=_published(row.get("published")))
    return Item(text=row.get("text") or "", article_id=str(row["id"]),
                published=_published(row.get("published")))  # fmt: skip


@dataclass
class _Done:
    key: str
    result: ArticleFacts
    outcome: str

    def row(self, *, result_json: bool = False) -> dict[str, Any]:
        calls = self.result.usage.calls if self.outcome not in ("cached", "failed") else 0
        row = {"cache_key": self.key, "article_id": self.result.article_id,
               "status": self.result.status, "outcome": self.outcome, "calls": calls}  # fmt: skip
        if result_json:
            row["result_json"] = self.result.model_dump_json()
        return row


# Answers an actor keeps between batches: a few MB (an answer is a few hundred bytes).
_ACTOR_ANSWERS = 20_000


class _ExtractActor:
    """One Pipeline per actor; ``__call__`` extracts one batch of rows and, given ``out``,
    writes them there as one part.

    The Pipeline's store is in memory and emptied after each batch but for its newest
    ``_ACTOR_ANSWERS`` answers (a copy of an article published again asks nothing). A
    batch's results leave in its rows (or parts), a rerun skips what ``out`` holds, and a
    store file would outlive an actor that is killed: each killed actor used to leave one
    in /tmp, and each live one grew with every article it extracted."""

    def __init__(self, settings: Settings, skip: frozenset[str], out: str | None = None) -> None:
        self.out = out
        self.settings = settings.replace(store_path=Path(":memory:"))
        self.pipe = Pipeline(self.settings)
        self.prompt_version = self.pipe.prompt_version
        self.strategy = self.pipe.strategy
        self.run_id = self.pipe.store.start_run(
            model=self.settings.model, strategy=self.strategy, prompt_version=self.prompt_version
        )
        self.skip = skip

    def _one(self, row: dict[str, Any]) -> _Done | None:
        key: str | None = None
        with contextlib.suppress(InputError):
            key = self.pipe.key_for(_document(row), self.prompt_version)
        if key is not None and key in self.skip:
            return None
        got = self.pipe.one(_item(row), run_id=self.run_id, prompt_version=self.prompt_version)
        if got is None:
            raise RuntimeError("extraction stopped")
        result, outcome = got
        return _Done(key or self._key(result), result, outcome)

    def _key(self, result: ArticleFacts) -> str:
        return result_key(result, model=self.settings.model, strategy=self.strategy,
                          prompt_version=self.prompt_version)  # fmt: skip

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
            done = [r for r in pool.map(self._one, rows) if r is not None]
        if self.out is None:
            table = pa.Table.from_pylist([d.row(result_json=True) for d in done], RESULT_SCHEMA)
        else:
            write_batch(self.out, [Keyed(d.result, d.key) for d in done])
            table = pa.Table.from_pylist([d.row() for d in done], schema=SUMMARY_SCHEMA)
        self.pipe.store.forget(keep_answers=_ACTOR_ANSWERS)  # the batch is out
        return table

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.pipe.close()


def _skip_keys(skip: frozenset[str] | set[str] | None) -> frozenset[str]:
    return frozenset(skip or ())


def extract_dataset(
    ds: ray.data.Dataset,
    settings: Settings,
    *,
    actors: int = 1,
    skip: set[str] | frozenset[str] | None = None,
    batch_size: int = 4,
    actor_cpus: float = 0.25,
    out: Path | str | None = None,
) -> ray.data.Dataset:
    """Extract a dataset of ``{id, text, published}`` rows (or ``{path, published}``) on a
    pool of ``actors`` actors; rows come back as ``RESULT_SCHEMA`` (the ``ArticleFacts`` as
    JSON in ``result_json``). ``settings.base_url`` must be set: each actor calls it.
    ``skip``: cache keys not to extract again (``_parquet.done_keys`` of an output).
    ``actor_cpus``: the CPUs Ray reserves per actor; an actor mostly waits on its endpoint,
    so a fraction lets more actors share a node than it has cores.
    ``out``: each actor writes its batches there itself (``_parquet``'s layout, one part per
    batch) and the rows come back as ``SUMMARY_SCHEMA``, with no JSON and no write task:
    what ``write_parquet`` does, without a worker process per write that imports factx."""
    if settings.base_url is None:
        raise ConfigError("extract_dataset needs settings.base_url: the actors' endpoint")
    return ds.map_batches(
        _ExtractActor,
        fn_constructor_kwargs={
            "settings": settings,
            "skip": _skip_keys(skip),
            "out": None if out is None else str(out),
        },
        batch_format="pyarrow",
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=actor_cpus,
    )


def _write_parts(batch: pa.Table, out: str) -> pa.Table:
    keyed = [
        Keyed(ArticleFacts.model_validate_json(r["result_json"]), r["cache_key"])
        for r in batch.to_pylist()
    ]
    write_batch(out, keyed)
    return batch.select(SUMMARY_SCHEMA.names)


def write_parquet(
    results: ray.data.Dataset, out: Path | str, *, writers: int = 1
) -> ray.data.Dataset:
    """A dataset that writes each batch of ``extract_dataset``'s rows as one part under
    ``out`` (``_parquet``'s layout) and yields ``SUMMARY_SCHEMA`` rows; iterate it to run.
    ``writers``: write tasks at a time. A batch's write takes milliseconds, but each task
    Ray starts in a fresh worker process imports factx first: at ``25fb8d2``, 200 articles
    on one actor took 18.3–19.7 s with no limit and 12.3–15.5 s with one writer."""
    fn: Any = _write_parts  # ray's stubs want a one-argument function; fn_kwargs adds out
    return results.map_batches(
        fn, fn_kwargs={"out": str(out)}, batch_format="pyarrow", num_cpus=0.25,
        concurrency=writers,
    )  # fmt: skip


# Reading and writing are light; a full CPU each could not be had once the actors hold theirs.
_LIGHT = {"num_cpus": 0.25}


def read_source(src: Path, *, blocks: int | None = None) -> ray.data.Dataset:
    """A folder of ``.txt`` (with ``.meta.json``), a JSONL or a Parquet file of ``{id,
    text, published}`` as a dataset of rows for ``extract_dataset``. ``blocks``: at least
    this many blocks, since an actor pool runs one task per block (a single small file is
    otherwise one block, and one actor would do all the work)."""
    from ._read import discover, meta_path_for

    if src.is_dir() and not any(src.glob("*.parquet")):
        files = discover([src])
        if not files:
            raise ConfigError(f"{src}: no .txt files")
        rows = []
        for f in files:
            pub = None
            with contextlib.suppress(Exception):
                pub = json.loads(meta_path_for(f).read_text(encoding="utf-8")).get("published")
            rows.append({"path": str(f), "id": f.stem, "text": "", "published": pub})
        return ray.data.from_items(rows, override_num_blocks=blocks)
    name = src.name.lower()
    if name.endswith((".jsonl", ".json", ".jsonl.gz")):
        return ray.data.read_json(str(src), override_num_blocks=blocks, ray_remote_args=_LIGHT)
    if name.endswith(".parquet") or src.is_dir():
        return ray.data.read_parquet(str(src), override_num_blocks=blocks, ray_remote_args=_LIGHT)
    raise ConfigError(f"{src}: expected a folder of .txt files, a .jsonl or a .parquet file")


@dataclass
class RunSummary:
    extracted: int = 0
    cached: int = 0
    failed: int = 0
    skipped: int = 0
    calls: int = 0


def run(
    src: Path,
    out: Path,
    settings: Settings,
    *,
    address: str | None = None,
    actors: int = 1,
    actor_cpus: float = 0.25,
    num_cpus: int | None = None,
    server_log: Path | None = None,
    on_result: Callable[[str, str], None] | None = None,
) -> RunSummary:
    """``factx extract SRC --engine ray --out DIR``: skip what ``out`` holds, extract the
    rest on ``actors`` actors, write Parquet parts. Without ``base_url`` the embedded
    server is started here once, on the driver's machine, and every actor shares it."""
    from ._parquet import done_keys

    init_ray(address, num_cpus=num_cpus)
    # Leave a CPU's worth for the read and write tasks: actors that hold every CPU of a
    # small cluster would starve the read that feeds them.
    cpus = float(ray.cluster_resources().get("CPU", 1.0))  # type: ignore[no-untyped-call]
    actor_cpus = min(actor_cpus, max(0.01, (cpus - 0.5) / actors))
    skip = done_keys(out)
    with _endpoint(settings, server_log) as settings:
        ds = read_source(src, blocks=max(8, 4 * actors))
        total = ds.count()
        summary = RunSummary()
        written = extract_dataset(ds, settings, actors=actors, skip=skip, actor_cpus=actor_cpus,
                                  out=out, batch_size=_batch_size(total, actors))  # fmt: skip
        for batch in _iter(written):
            for row in batch:
                outcome = row["outcome"]
                summary.calls += int(row["calls"])
                if outcome == "failed":
                    summary.failed += 1
                elif outcome == "cached":
                    summary.cached += 1
                else:
                    summary.extracted += 1
                if on_result:
                    on_result(row["cache_key"], outcome)
        summary.skipped = total - summary.extracted - summary.cached - summary.failed
    return summary


def _batch_size(total: int, actors: int) -> int:
    """Rows per batch (one part each): about four batches per actor, 4 to 16 rows. Each
    batch costs Ray Data's hand-over and five small files (10 ms); a killed actor's batch is
    asked again."""
    return max(4, min(16, total // (4 * max(1, actors))))


def _iter(ds: ray.data.Dataset) -> Iterator[list[dict[str, Any]]]:
    batch: Any
    for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
        yield batch.to_pylist()


@contextlib.contextmanager
def _endpoint(settings: Settings, server_log: Path | None) -> Iterator[Settings]:
    if settings.base_url is not None:
        yield settings
        return
    gguf = settings.gguf or assemble_default_gguf(settings.cache_dir)
    server = LocalServer(gguf, model_alias=settings.model, n_ctx=settings.n_ctx,
                         n_threads=settings.n_threads, log_path=server_log)  # fmt: skip
    server.start()
    try:
        yield settings.replace(base_url=server.base_url)
    finally:
        server.stop()


__all__ = [
    "RESULT_SCHEMA",
    "RunSummary",
    "extract_dataset",
    "init_ray",
    "read_source",
    "run",
    "write_parquet",
]
