"""Files -> ``Document``: decode, clean, attach the publication date from ``.meta.json``."""

from __future__ import annotations

import codecs
import errno
import hashlib
import html
import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from ._errors import (
    BinaryInputError,
    EmptyArticleError,
    InputError,
    MetadataError,
    MissingInputError,
)
from ._schemas import ArticleError, Document, Source

_HTML_HINT = re.compile(r"<\s*(html|body|p|div|article|br|span|h[1-6])\b", re.IGNORECASE)
_BLOCK_TAGS = re.compile(r"<\s*/?\s*(p|div|br|li|h[1-6]|article|section|tr)\b[^>]*>", re.I)
_DROP = re.compile(r"<(script|style|noscript|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def decode(data: bytes) -> tuple[str, str]:
    """Bytes -> (text, encoding). UTF-8 first, then UTF-16 by BOM or NUL pattern, then Latin-1.

    The encoding names what was detected: ``utf-8``, ``utf-8-sig``, ``utf-16`` (BOM),
    ``utf-16-le``/``utf-16-be`` (no BOM), ``latin-1``, or ``cp1252`` when bytes 0x80-0x9F
    (Windows quotes, dashes, the euro sign) show it is Windows' superset of Latin-1.
    Binary data is refused rather than turned into mojibake.
    """
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as e:
            raise BinaryInputError(f"UTF-8 BOM but not UTF-8: {e.reason}") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _utf16(data, "utf-16"), "utf-16"
    # UTF-16 without BOM: the high byte of every Latin character is NUL.
    if len(data) >= 4 and len(data) % 2 == 0:
        half = len(data) // 2
        even, odd = data[0::2].count(0), data[1::2].count(0)
        if odd > 0.4 * half and even < 0.05 * half:
            return _utf16(data, "utf-16-le"), "utf-16-le"
        if even > 0.4 * half and odd < 0.05 * half:
            return _utf16(data, "utf-16-be"), "utf-16-be"
    if b"\x00" in data:
        raise BinaryInputError("contains NUL bytes; not a text file")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = data.decode("cp1252", errors="replace")
    # Control characters outside whitespace betray binary data in a single-byte decode.
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\t\n\r\f")
    if controls > max(2, len(text) // 100) or text.count("\ufffd") > max(2, len(text) // 100):
        raise BinaryInputError("not decodable as UTF-8, UTF-16 or Latin-1 text")
    windows = any(0x80 <= b <= 0x9F for b in data)
    return text, "cp1252" if windows else "latin-1"


def _utf16(data: bytes, codec: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as e:
        raise BinaryInputError(f"looks like {codec.upper()} but is not: {e.reason}") from None


def clean(text: str) -> str:
    """Normalise line ends and strip HTML to text; offsets later point into the result."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _HTML_HINT.search(text):
        text = _DROP.sub(" ", _COMMENT.sub(" ", text))
        text = _BLOCK_TAGS.sub("\n", text)
        text = html.unescape(_TAG.sub("", text))
        text = re.sub(r"[ \t]+", " ", text)
        text = re.sub(r"\n\s*\n+", "\n\n", text)
    return text.strip()


def read_meta(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_text(encoding="utf-8")
        meta = json.loads(raw)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MetadataError(f"{path.name}: malformed metadata: {e}") from None
    if not isinstance(meta, dict):
        raise MetadataError(f"{path.name}: expected a JSON object, got {type(meta).__name__}")
    published = meta.get("published")
    if published is not None:
        try:
            # Normalised to YYYY-MM-DD: Python also reads 20240209 and 2024-W06-5.
            meta["published"] = date.fromisoformat(str(published)).isoformat()
        except ValueError:
            raise MetadataError(f"{path.name}: impossible publication date {published!r}") from None
    return meta


def meta_path_for(path: Path) -> Path:
    return path.with_name(path.stem + ".meta.json")


def read_text_document(
    text: str,
    *,
    doc_id: str | None = None,
    published: date | str | None = None,
    source: Source | None = None,
) -> Document:
    text = clean(text)
    if not text:
        raise EmptyArticleError("article is empty or whitespace only")
    sha = text_sha256(text)
    src = source or Source()
    if published is not None:
        src = src.model_copy(update={"published": str(published)})
    return Document(id=doc_id or f"text-{sha[:12]}", text=text, sha256=sha, source=src)


def read_document(path: Path, *, published: date | None = None, existed: bool = True) -> Document:
    """Read one article file. Raises an ``InputError`` subclass with the file name in it.

    ``existed``: whether the path was there when the batch started, which tells a file
    that vanished from one that never was."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if path.is_symlink():
            raise MissingInputError(f"{path}: broken symbolic link") from None
        if not existed:
            raise MissingInputError(f"{path}: does not exist") from None
        raise MissingInputError(f"{path}: file vanished before it could be read") from None
    except OSError as e:
        raise MissingInputError(f"{path}: cannot read: {e.strerror}") from None
    if not data.strip():
        raise EmptyArticleError(f"{path}: article is empty or whitespace only")
    try:
        text, encoding = decode(data)
    except InputError as e:
        raise type(e)(f"{path}: {e}") from None
    warnings: list[ArticleError] = []
    meta: dict[str, Any] = {}
    mp = meta_path_for(path)
    if mp.exists():
        try:
            meta = read_meta(mp)
        except MetadataError as e:
            # The article is still worth extracting; only relative dates stay unresolved.
            warnings.append(ArticleError(stage="read", error=type(e).__name__, message=str(e)))
    pub = str(published) if published is not None else meta.get("published")
    src = Source(
        path=str(path),
        published=str(pub) if pub is not None else None,
        outlet=meta.get("outlet") if isinstance(meta.get("outlet"), str) else None,
        url=meta.get("url") if isinstance(meta.get("url"), str) else None,
        encoding=encoding,
    )
    try:
        doc = read_text_document(text, doc_id=path.stem, source=src)
    except EmptyArticleError:
        raise EmptyArticleError(f"{path}: article is empty or whitespace only") from None
    return doc.model_copy(update={"warnings": tuple(warnings)})


def discover(
    paths: list[Path], *, on_skip: Callable[[Path, str], None] | None = None
) -> list[Path]:
    """Expand folders into their ``.txt`` files (sorted); keep files as given.

    A ``.txt`` link in a folder that leads nowhere (a loop, a missing target) is skipped
    and told to ``on_skip(path, reason)``."""
    out: list[Path] = []
    for p in paths:
        if not p.is_dir():
            out.append(p)
            continue
        for q in sorted(p.rglob("*.txt")):
            if q.is_file():
                out.append(q)
            elif q.is_symlink() and on_skip is not None:
                on_skip(q, _dead_link(q))
    return out


def _dead_link(path: Path) -> str:
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports a loop so
        return "symbolic link loop"
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "symbolic link loop"
        return "broken symbolic link" if isinstance(e, FileNotFoundError) else e.strerror or "?"
    return "not a regular file"
