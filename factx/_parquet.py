"""The Parquet layout of a run: one table per fact type and one of articles, under one folder.

    DIR/articles/part-<part>.parquet       one row per article: status, usage, errors, cache key
    DIR/meetings/part-<part>.parquet       one row per fact, with article_id, cache_key, idx,
    DIR/statements/…                       offsets, alignment, flags and the typed fields
    DIR/treaties/…
    DIR/trade_figures/…

Every writer (``factx extract --format parquet``, a Ray worker) writes a batch under a new
``part`` id, the fact tables first and the articles table last: a batch whose articles file
is missing was never committed, and its fact rows are not read. A batch written twice (a
retried task, a rerun of a partial article) leaves two article rows with one cache key;
``read_articles`` keeps one of them (a complete one first, then the latest), and the facts
are read through the (cache_key, part) it kept, so each article is read exactly once.
pyarrow is imported here and by ``_distributed`` and ``_sqlcheck``, never by ``import factx``;
the CLI imports this module lazily.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ._schemas import (
    SCHEMA_VERSION,
    ArticleError,
    ArticleFacts,
    Meeting,
    Source,
    Statement,
    TradeFigure,
    Treaty,
    Usage,
)
from ._store import cache_key

FACT_TABLES: dict[str, type[Meeting | Statement | Treaty | TradeFigure]] = {
    "meetings": Meeting,
    "statements": Statement,
    "treaties": Treaty,
    "trade_figures": TradeFigure,
}
TABLES = ("articles", *FACT_TABLES)

_STR = pa.string()
_STRS = pa.list_(pa.string())
_COMMON: list[tuple[str, pa.DataType]] = [
    ("cache_key", _STR),
    ("part", _STR),
    ("article_id", _STR),
    ("idx", pa.int32()),
    ("evidence", _STR),
    ("char_start", pa.int64()),
    ("char_end", pa.int64()),
    ("alignment", _STR),
    ("flags", _STRS),
    ("verified", pa.bool_()),
]
_TYPED: dict[str, list[tuple[str, pa.DataType]]] = {
    "meetings": [
        ("participants", _STRS), ("location", _STR), ("date", _STR), ("date_text", _STR),
        ("kind", _STR), ("status", _STR),
    ],
    "statements": [("speaker", _STR), ("quote", _STR), ("date", _STR), ("date_text", _STR)],
    "treaties": [
        ("name", _STR), ("parties", _STRS), ("status", _STR), ("date", _STR),
        ("date_text", _STR),
    ],
    "trade_figures": [
        ("value", pa.float64()), ("value_text", _STR), ("currency", _STR), ("unit", _STR),
        ("qualifier", _STR), ("period", _STR), ("period_text", _STR),
        ("period_from_context", pa.bool_()), ("metric", _STR), ("parties", _STRS),
        ("direction", _STRS),  # [from, to] for exports and imports, else null
    ],
}  # fmt: skip
_ARTICLES: list[tuple[str, pa.DataType]] = [
    ("cache_key", _STR),
    ("part", _STR),
    ("written_at", _STR),
    ("article_id", _STR),
    ("status", _STR),
    ("text_sha256", _STR),
    ("text", _STR),
    ("published", _STR),
    ("path", _STR),
    ("outlet", _STR),
    ("url", _STR),
    ("encoding", _STR),
    ("model", _STR),
    ("strategy", _STR),
    ("prompt_version", _STR),
    ("schema_version", _STR),
    ("calls", pa.int64()),
    ("prompt_tokens", pa.int64()),
    ("completion_tokens", pa.int64()),
    ("retries", pa.int64()),
    ("cached_answers", pa.int64()),
    ("errors", _STR),  # JSON list of {stage, error, message}
]
SCHEMAS: dict[str, pa.Schema] = {
    "articles": pa.schema(_ARTICLES),
    **{name: pa.schema(_COMMON + typed) for name, typed in _TYPED.items()},
}


def result_key(result: ArticleFacts, *, model: str, strategy: str, prompt_version: str) -> str:
    """The store's cache key of a result (what a rerun skips on); an article that could not
    be read has no text hash and gets a key of its own id, which no rerun skips on."""
    if not result.text_sha256:
        return f"unread:{result.article_id}"
    return cache_key(
        result.text_sha256, model, strategy, prompt_version, SCHEMA_VERSION,
        published=result.source.published,
    )  # fmt: skip


def flatten(
    result: ArticleFacts, key: str, part: str, written_at: str
) -> dict[str, list[dict[str, Any]]]:
    """One article as rows of each table: the one row-flattening of every Parquet writer."""
    src, usage = result.source, result.usage
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    rows["articles"].append(
        {
            "cache_key": key, "part": part, "written_at": written_at,
            "article_id": result.article_id, "status": result.status,
            "text_sha256": result.text_sha256, "text": result.text,
            "published": src.published, "path": src.path, "outlet": src.outlet, "url": src.url,
            "encoding": src.encoding, "model": result.model, "strategy": result.strategy,
            "prompt_version": result.prompt_version, "schema_version": result.schema_version,
            "calls": usage.calls, "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens, "retries": usage.retries,
            "cached_answers": usage.cached_answers,
            "errors": json.dumps([e.model_dump() for e in result.errors], ensure_ascii=False),
        }
    )  # fmt: skip
    for table in FACT_TABLES:
        facts: Sequence[Meeting | Statement | Treaty | TradeFigure] = getattr(result, table)
        for idx, fact in enumerate(facts):
            row = {
                k: list(v) if isinstance(v, tuple) else v
                for k, v in fact.model_dump(exclude={"type"}).items()
            }
            row.update(
                cache_key=key, part=part, article_id=result.article_id, idx=idx,
                verified=fact.verified,
            )  # fmt: skip
            rows[table].append(row)
    return rows


def to_tables(rows: dict[str, list[dict[str, Any]]]) -> dict[str, pa.Table]:
    return {name: pa.Table.from_pylist(rows[name], schema=SCHEMAS[name]) for name in TABLES}


@dataclass(frozen=True)
class Keyed:
    """A result with its cache key, ready to be written."""

    result: ArticleFacts
    key: str


def new_part() -> str:
    return uuid.uuid4().hex


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def write_batch(out: Path | str, batch: Iterable[Keyed], *, part: str | None = None) -> int:
    """Write one batch of results as a new part; articles last (the commit). Returns rows."""
    part = part or new_part()
    written_at = now()
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    for k in batch:
        for name, more in flatten(k.result, k.key, part, written_at).items():
            rows[name].extend(more)
    if not rows["articles"]:
        return 0
    out = Path(out)
    for name, table in to_tables(rows).items():
        if name == "articles":
            continue
        _write(table, out / name / f"part-{part}.parquet")
    _write(to_tables({"articles": rows["articles"], **{n: [] for n in FACT_TABLES}})["articles"],
           out / "articles" / f"part-{part}.parquet")  # fmt: skip
    return len(rows["articles"])


def _write(table: pa.Table, path: Path) -> None:
    """Write through a temporary name and rename, so no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def _files(out: Path, name: str) -> list[str]:
    folder = out / name
    return sorted(str(p) for p in folder.glob("part-*.parquet")) if folder.is_dir() else []


def _read(out: Path, name: str, columns: list[str] | None = None) -> pa.Table:
    files = _files(out, name)
    if not files:
        schema = SCHEMAS[name]
        return (
            schema.empty_table()
            if columns is None
            else pa.schema([schema.field(c) for c in columns]).empty_table()
        )
    return pa.concat_tables(
        [pq.read_table(f, columns=columns, schema=SCHEMAS[name]) for f in files]
    )


def _chosen(articles: pa.Table) -> list[dict[str, Any]]:
    """One row per cache key: a complete one first, then the latest written."""
    best: dict[str, dict[str, Any]] = {}
    for row in articles.to_pylist():
        old = best.get(row["cache_key"])
        rank = (row["status"] == "ok", row["written_at"], row["part"])
        if old is None or rank > (old["status"] == "ok", old["written_at"], old["part"]):
            best[row["cache_key"]] = row
    return sorted(best.values(), key=lambda r: (r["article_id"], r["cache_key"]))


def done_keys(out: Path | str) -> set[str]:
    """Cache keys already complete (status ``ok``) under ``out``: what a rerun skips."""
    t = _read(Path(out), "articles", ["cache_key", "status"])
    return {k for k, s in zip(t["cache_key"].to_pylist(), t["status"].to_pylist(), strict=True)
            if s == "ok"}  # fmt: skip


def read_results(out: Path | str) -> list[ArticleFacts]:
    """Everything under ``out`` back as ``ArticleFacts``, one per cache key, sorted by
    article id: for small outputs, tests and the in-memory cross-check."""
    out = Path(out)
    chosen = _chosen(_read(out, "articles"))
    wanted = {(r["cache_key"], r["part"]) for r in chosen}
    facts: dict[tuple[str, str], dict[str, list[Any]]] = {}
    for table, model in FACT_TABLES.items():
        rows = [r for r in _read(out, table).to_pylist() if (r["cache_key"], r["part"]) in wanted]
        rows.sort(key=lambda r: r["idx"])
        drop = {"cache_key", "part", "article_id", "idx", "verified"}
        for r in rows:
            fact = model.model_validate({k: v for k, v in r.items() if k not in drop})
            facts.setdefault((r["cache_key"], r["part"]), {}).setdefault(table, []).append(fact)
    results = []
    for r in chosen:
        mine = facts.get((r["cache_key"], r["part"]), {})
        results.append(
            ArticleFacts(
                article_id=r["article_id"], text_sha256=r["text_sha256"], text=r["text"],
                source=Source(published=r["published"], path=r["path"], outlet=r["outlet"],
                              url=r["url"], encoding=r["encoding"]),
                model=r["model"], strategy=r["strategy"], prompt_version=r["prompt_version"],
                schema_version=r["schema_version"], status=r["status"],
                usage=Usage(calls=r["calls"], prompt_tokens=r["prompt_tokens"],
                            completion_tokens=r["completion_tokens"], retries=r["retries"],
                            cached_answers=r["cached_answers"]),
                errors=tuple(ArticleError.model_validate(e) for e in json.loads(r["errors"])),
                **{t: tuple(mine.get(t, ())) for t in FACT_TABLES},
            )
        )  # fmt: skip
    return results


def is_output_dir(path: Path | str) -> bool:
    return (Path(path) / "articles").is_dir()
