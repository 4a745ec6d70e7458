"""Bad input: every file gets a clear error of its own, and the batch goes on.

Each test runs a small batch of the bad file and a good one (a recorded sample article,
answered by the cassette replay) and checks the exact error class, the message shape
(file name first) and that the good article was still extracted.
"""

from __future__ import annotations

import codecs
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from factx import ArticleFacts, Pipeline
from factx._batch import BatchStats, Item
from factx._cli import cli
from factx._errors import BinaryInputError, EmptyArticleError, MetadataError, MissingInputError
from factx._read import decode, read_document
from factx._store import Store
from factx._whole import chunks

from .faults import (
    RECORD_MODEL,
    FaultProxy,
    ReplayServer,
    recorded_articles,
    require_replay_coverage,
    settings_for,
)
from .test_store import _corrupt_table

GOOD = recorded_articles()[0]


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplayServer]:
    require_replay_coverage(tmp_path_factory.mktemp("coverage"))
    with ReplayServer() as server:
        yield server


@pytest.fixture(scope="module")
def reference(replay: ReplayServer, tmp_path_factory: pytest.TempPathFactory) -> ArticleFacts:
    tmp = tmp_path_factory.mktemp("ref")
    with Pipeline(settings_for(replay.base_url, tmp)) as pipe:
        (r,) = pipe.run([Item(path=GOOD)])
    assert r.status == "ok" and r.facts()
    return r


def _batch(
    replay: ReplayServer, tmp: Path, bad: Path, **kw: object
) -> tuple[ArticleFacts, ArticleFacts, BatchStats]:
    good = tmp / "good.txt"
    shutil.copyfile(GOOD, good)
    shutil.copyfile(GOOD.with_name(GOOD.stem + ".meta.json"), tmp / "good.meta.json")
    with Pipeline(settings_for(replay.base_url, tmp), **kw) as pipe:  # type: ignore[arg-type]
        first, second = pipe.run([Item(path=bad), Item(path=good)])
        stats = pipe.stats
    assert second.article_id == "good" and second.status == "ok" and second.facts()
    return first, second, stats


def _same_date(path: Path) -> None:
    """Give ``path`` the good article's publication date, so the facts compare equal."""
    shutil.copyfile(GOOD.with_name(GOOD.stem + ".meta.json"), path.with_suffix(".meta.json"))


def _failed(result: ArticleFacts, error: type[Exception], message: str) -> None:
    assert result.status == "failed" and not result.facts()
    (err,) = result.errors
    assert (err.stage, err.error) == ("read", error.__name__)
    assert re.fullmatch(message, err.message), err.message


# ------------------------------------------------------------------ unreadable as text


@pytest.mark.parametrize("content", [b"", b" \n\t \r\n  \n"], ids=["empty", "whitespace"])
def test_empty_and_whitespace_only(replay: ReplayServer, tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "leer.txt"
    bad.write_bytes(content)
    first, _, stats = _batch(replay, tmp_path, bad)
    _failed(first, EmptyArticleError, re.escape(f"{bad}: article is empty or whitespace only"))
    assert (stats.extracted, stats.failed) == (1, 1)
    assert stats.failures == [(str(bad), "EmptyArticleError", first.errors[0].message)]
    with Store(tmp_path / "store.sqlite3") as store:
        assert store.count("failures") == 1


def test_utf16_whitespace_only_is_empty(replay: ReplayServer, tmp_path: Path) -> None:
    bad = tmp_path / "leer16.txt"
    bad.write_bytes(" \n \n".encode("utf-16"))
    first, _, _ = _batch(replay, tmp_path, bad)
    _failed(first, EmptyArticleError, re.escape(f"{bad}: article is empty or whitespace only"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, "contains NUL bytes"),
        (bytes(range(1, 32)) * 40 + "Grüße".encode("latin-1"), "not decodable as UTF-8"),
        (codecs.BOM_UTF16_LE + b"\x00\xd8A\x00", "looks like UTF-16 but is not"),
    ],
    ids=["png", "control-bytes", "broken-utf16"],
)
def test_binary_file(replay: ReplayServer, tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "bild.txt"
    bad.write_bytes(content)
    first, _, _ = _batch(replay, tmp_path, bad)
    _failed(first, BinaryInputError, re.escape(f"{bad}: {message}") + ".*")


def test_utf16_without_bom_that_does_not_decode_is_binary_not_a_crash() -> None:
    # A lone surrogate in UTF-16-LE text used to escape as UnicodeDecodeError.
    text = "Grüße aus Moskau, sagte Lawrow am Dienstag. " * 3
    data = text.encode("utf-16-le") + b"\x00\xdc" + "!!".encode("utf-16-le")
    with pytest.raises(BinaryInputError, match="looks like UTF-16-LE but is not"):
        decode(data)


# ------------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("codec", "expected"),
    [
        ("cp1252", "cp1252"),  # „…“ are 0x84/0x93 there: Windows' Latin-1
        ("utf-16", "utf-16"),  # with BOM
        ("utf-16-le", "utf-16-le"),  # no BOM
        ("utf-16-be", "utf-16-be"),  # no BOM
        ("utf-8-sig", "utf-8-sig"),
    ],
)
def test_german_in_other_encodings_is_decoded_and_recorded(
    replay: ReplayServer, reference: ArticleFacts, tmp_path: Path, codec: str, expected: str
) -> None:
    text = GOOD.read_text(encoding="utf-8")
    bad = tmp_path / f"kodiert_{codec}.txt"
    bad.write_bytes(text.encode(codec))
    _same_date(bad)
    first, _, _ = _batch(replay, tmp_path, bad)
    assert first.status == "ok"
    assert first.source.encoding == expected
    assert first.text == reference.text  # umlauts, ß and „“ intact
    assert first.facts() == reference.facts()


def test_plain_latin1_is_named_latin1(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("Außenminister Lawrow traf Wang Yi in Peking. Größere Nähe.".encode("latin-1"))
    doc = read_document(path)
    assert doc.source.encoding == "latin-1"
    assert "Außenminister" in doc.text and "Größere Nähe" in doc.text


# ------------------------------------------------------------------------ HTML, size


def test_html_instead_of_text(
    replay: ReplayServer, reference: ArticleFacts, tmp_path: Path
) -> None:
    title, *paragraphs = GOOD.read_text(encoding="utf-8").strip().split("\n\n")

    def ent(s: str) -> str:
        table = {"ä": "&auml;", "ö": "&ouml;", "ü": "&uuml;", "ß": "&szlig;"}
        table |= {"„": "&bdquo;", "“": "&ldquo;"}
        return "".join(table.get(c, c) for c in s)

    body = "\n".join(f"<p class='x'>{ent(p)}</p>" for p in paragraphs)
    html = (
        "<!DOCTYPE html><html><head><title>Xi und Putin | Zeitung</title>"
        "<style>p { color: red }</style><script>var x = '<p>nein</p>';</script></head>"
        f"<body><!-- Werbung --><article><h1>{ent(title)}</h1>\n{body}</article></body></html>"
    )
    bad = tmp_path / "seite.txt"
    bad.write_text(html, encoding="utf-8")
    _same_date(bad)
    first, _, _ = _batch(replay, tmp_path, bad)
    assert first.status == "ok"
    assert first.text == reference.text
    assert first.facts() == reference.facts()


def _two_megabytes(tmp: Path) -> tuple[Path, str]:
    one = GOOD.read_text(encoding="utf-8").strip()
    text = "\n\n".join([one] * (2_000_000 // len(one) + 1))
    assert len(text.encode("utf-8")) > 2_000_000
    path = tmp / "riesig.txt"
    path.write_text(text, encoding="utf-8")
    _same_date(path)
    return path, one


def test_two_megabyte_article(
    replay: ReplayServer, reference: ArticleFacts, tmp_path: Path
) -> None:
    bad, one = _two_megabytes(tmp_path)
    first, _, _ = _batch(replay, tmp_path, bad)
    assert len(first.text) > 2_000_000 and first.status in ("ok", "partial")
    # The same facts told 3,400 times are one fact each, anchored in the first telling.
    assert first.facts() and set(first.facts()) <= set(reference.facts())
    for fact in first.facts():
        assert fact.char_start is not None and fact.char_end is not None
        assert fact.char_end <= len(one)
        assert first.text[fact.char_start : fact.char_end] == fact.evidence
    # A long article ends at the token budget at the latest, reported, never silently.
    with Store(tmp_path / "store.sqlite3") as store:
        row = store._db.execute("SELECT MAX(prompt_tokens + completion_tokens) FROM calls")
        largest = int(row.fetchone()[0])
    assert first.usage.prompt_tokens + first.usage.completion_tokens <= 60_000 + 2 * largest
    assert first.status == "ok" or first.errors[-1].error == "BudgetExceededError"


def test_two_megabyte_article_asks_each_distinct_question_once(
    replay: ReplayServer, reference: ArticleFacts, tmp_path: Path
) -> None:
    bad, _ = _two_megabytes(tmp_path)
    first, _, _ = _batch(replay, tmp_path, bad)
    assert first.status == "ok"
    assert first.facts() == reference.facts()
    assert first.usage.calls <= reference.usage.calls


def test_chunks_of_a_two_megabyte_text_overlap_and_cover_it() -> None:
    """The ``whole`` strategy's chunker: bounded pieces, each overlapping the next."""
    para = GOOD.read_text(encoding="utf-8").strip()
    text = "\n\n".join(f"{i}. {para}" for i in range(2_000_000 // len(para) + 1))
    size, overlap = 12_000, 400
    pieces = list(chunks(text, size, overlap))
    assert len(pieces) > 2_000_000 // size
    assert pieces[0][0] == 0 and pieces[-1][0] + len(pieces[-1][1]) == len(text)
    for (start, piece), (nxt, _) in zip(pieces, pieces[1:], strict=False):
        assert text[start : start + len(piece)] == piece and len(piece) <= size
        assert start < nxt <= start + len(piece) - overlap + 1  # overlap, no gap


# ------------------------------------------------------------------------- metadata


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ('{"published": "2024-02-09",', r"malformed metadata: .*"),
        ('["2024-02-09"]', r"expected a JSON object, got list"),
        ('{"published": "2024-02-30"}', r"impossible publication date '2024-02-30'"),
        ('{"published": "9. Februar"}', r"impossible publication date '9. Februar'"),
    ],
    ids=["malformed", "not-an-object", "feb-30", "not-iso"],
)
def test_bad_meta_json_is_reported_and_the_article_still_extracted(
    replay: ReplayServer, tmp_path: Path, meta: str, message: str
) -> None:
    bad = tmp_path / "artikel.txt"
    shutil.copyfile(GOOD, bad)
    (tmp_path / "artikel.meta.json").write_text(meta, encoding="utf-8")
    first, _, stats = _batch(replay, tmp_path, bad)
    assert first.status == "ok" and first.facts()
    assert first.source.published is None  # no date rather than a wrong one
    (err,) = first.errors
    assert (err.stage, err.error) == ("read", MetadataError.__name__)
    assert re.fullmatch(r"artikel\.meta\.json: " + message, err.message), err.message
    assert stats.warnings == [(str(bad), "MetadataError", err.message)]


def test_impossible_date_given_by_the_caller(replay: ReplayServer, tmp_path: Path) -> None:
    with Pipeline(settings_for(replay.base_url, tmp_path)) as pipe:
        first, second = pipe.run(
            [
                Item(text="Lawrow traf Wang.", article_id="a1", published="2024-13-01"),
                Item(path=GOOD),
            ]
        )
    _failed(first, MetadataError, re.escape("a1: impossible publication date '2024-13-01'"))
    assert second.status == "ok"


# ----------------------------------------------------------------- files that go away


def test_file_that_vanishes_during_the_batch(replay: ReplayServer, tmp_path: Path) -> None:
    a, gone, c = (tmp_path / f"{n}.txt" for n in ("a", "weg", "c"))
    for p in (a, gone, c):
        shutil.copyfile(GOOD, p)

    def remove_after_first(result: ArticleFacts, outcome: str, stats: BatchStats) -> None:
        gone.unlink(missing_ok=True)

    with Pipeline(settings_for(replay.base_url, tmp_path)) as pipe:
        results = list(pipe.run([Item(path=p) for p in (a, gone, c)], on_result=remove_after_first))
    assert [r.status for r in results] == ["ok", "failed", "ok"]
    (err,) = results[1].errors
    assert (err.stage, err.error) == ("read", "MissingInputError")
    assert err.message == f"{gone}: file vanished before it could be read"
    # "c" has the same text and date as "a": served from the store, under its own name.
    assert results[2].article_id == "c" and results[2].source.path == str(c)
    assert pipe.stats.cached == 1


# -------------------------------------------------------------------- output, store


@pytest.fixture
def counting_proxy(replay: ReplayServer) -> Iterator[FaultProxy]:
    with FaultProxy(replay.base_url) as proxy:
        yield proxy


def _cli(proxy: FaultProxy, tmp: Path, *extra: str) -> tuple[int, str]:
    good = tmp / "good.txt"
    shutil.copyfile(GOOD, good)
    args = ["extract", str(good), "--base-url", proxy.base_url, "-m", RECORD_MODEL, *extra]
    res = CliRunner().invoke(cli, args)
    return res.exit_code, res.stderr


def test_unwritable_output_fails_before_any_llm_call(
    counting_proxy: FaultProxy, tmp_path: Path
) -> None:
    blocker = tmp_path / "datei"
    blocker.write_text("x")
    target = blocker / "facts.jsonl"
    code, err = _cli(counting_proxy, tmp_path, "-o", str(target), "--store", str(tmp_path / "s"))
    assert code == 2
    assert f"Invalid value for '-o': cannot write {target}: {blocker} is not a folder" in err
    code, err = _cli(counting_proxy, tmp_path, "-o", str(tmp_path), "--store", str(tmp_path / "s"))
    assert code == 2 and f"'{tmp_path}' is a directory" in err  # click's own check
    assert counting_proxy.log.requests == 0
    assert not list(tmp_path.glob(".facts.jsonl.*"))


def test_unusable_store_fails_before_any_llm_call(
    counting_proxy: FaultProxy, tmp_path: Path
) -> None:
    blocker = tmp_path / "datei"
    blocker.write_text("x")
    out = tmp_path / "facts.jsonl"
    code, err = _cli(counting_proxy, tmp_path, "-o", str(out), "--store", str(blocker / "s.db"))
    assert code == 1
    assert re.search(r"error: cannot open the store at .*datei/s\.db: ", err), err
    assert counting_proxy.log.requests == 0
    assert not out.exists() and not list(tmp_path.glob(".facts.jsonl.*"))


def test_cli_reports_each_bad_file_and_goes_on(counting_proxy: FaultProxy, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_leer.txt").write_bytes(b"")
    (folder / "b_bild.txt").write_bytes(b"\x00\x01\x02PNG")
    shutil.copyfile(GOOD, folder / "c_gut.txt")
    (folder / "c_gut.meta.json").write_text("{kaputt", encoding="utf-8")
    out = tmp_path / "facts.jsonl"
    code, err = _cli(
        counting_proxy, tmp_path, str(folder), "-o", str(out), "--store", str(tmp_path / "s")
    )
    assert code == 1
    assert f"failed: {folder / 'a_leer.txt'}: EmptyArticleError: " in err
    assert f"failed: {folder / 'b_bild.txt'}: BinaryInputError: " in err
    assert f"warning: {folder / 'c_gut.txt'}: MetadataError: c_gut.meta.json: malformed" in err
    # c_gut.txt has good.txt's text and (with its date unreadable) no date: cached.
    assert "1 extracted, 1 cached, 2 failed" in err
    lines = [ArticleFacts.model_validate_json(x) for x in out.read_text("utf-8").splitlines()]
    assert [(r.article_id, r.status) for r in lines] == [
        ("good", "ok"), ("a_leer", "failed"), ("b_bild", "failed"), ("c_gut", "ok"),
    ]  # fmt: skip


def test_damaged_store_mid_batch_keeps_the_finished_results(
    counting_proxy: FaultProxy, tmp_path: Path
) -> None:
    store, out = tmp_path / "s.sqlite3", tmp_path / "facts.jsonl"
    code, err = _cli(counting_proxy, tmp_path, "--store", str(store))
    assert code == 0, err
    _corrupt_table(store, "calls")  # a bad sector under the calls table
    other = tmp_path / "other.txt"
    shutil.copyfile(recorded_articles()[1], other)
    code, err = _cli(counting_proxy, tmp_path, str(other), "-o", str(out), "--store", str(store))
    assert code == 1, err
    assert f"error: the store at {store} failed: database disk image is malformed" in err
    assert f"`sqlite3 {store} .recover`" in err
    assert "Traceback" not in err
    # good.txt came from the cache, other.txt was extracted but could not be stored:
    # both are in -o all the same.
    lines = [ArticleFacts.model_validate_json(x) for x in out.read_text("utf-8").splitlines()]
    assert [(r.article_id, r.status) for r in lines] == [("good", "ok"), ("other", "ok")]


def test_a_path_that_never_existed_says_so(replay: ReplayServer, tmp_path: Path) -> None:
    never = tmp_path / "nie.txt"
    first, _, stats = _batch(replay, tmp_path, never)
    _failed(first, MissingInputError, re.escape(f"{never}: does not exist"))
    dangling = tmp_path / "verweis.txt"
    dangling.symlink_to(tmp_path / "ziel.txt")
    first, _, _ = _batch(replay, tmp_path, dangling)
    _failed(first, MissingInputError, re.escape(f"{dangling}: broken symbolic link"))


def test_links_in_a_folder_that_lead_nowhere_are_skipped_with_a_warning(
    counting_proxy: FaultProxy, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copyfile(GOOD, folder / "c_gut.txt")
    (folder / "a.txt").symlink_to(folder / "b.txt")
    (folder / "b.txt").symlink_to(folder / "a.txt")
    (folder / "d.txt").symlink_to(folder / "fehlt.txt")
    out = tmp_path / "facts.jsonl"
    code, err = _cli(
        counting_proxy, tmp_path, str(folder), "-o", str(out), "--store", str(tmp_path / "s")
    )
    assert code == 0, err
    for name, why in (("a", "symbolic link loop"), ("b", "symbolic link loop"), ("d", "broken")):
        assert f"warning: {folder / name}.txt: skipped: {why}" in err
    assert "2 extracted" not in err and "1 cached" in err  # good.txt and c_gut.txt only
    assert len(out.read_text("utf-8").splitlines()) == 2
