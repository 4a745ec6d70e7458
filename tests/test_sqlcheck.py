"""The out-of-core cross-check of a Parquet folder against the in-memory checker.

The facts are a slice of the cross-check benchmark's synthetic set (bench/bench_crosscheck.py
generates it: events reported by several articles, spelling variants, translated quotes,
planted conflicts); ``bench/bench_parquet.py`` compares the two at 100k facts.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

import pyarrow.parquet as pq  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from factx import (  # noqa: E402
    ArticleFacts,
    ConsolidatedFact,
    Finding,
    _crossitems,  # noqa: E402
    _sqlcheck,  # noqa: E402
    _sqlreport,  # noqa: E402
    cross_check,
)
from factx._cli import cli  # noqa: E402
from factx._parquet import Keyed, read_results, result_key, write_batch  # noqa: E402
from factx._sqlcheck import check_parquet  # noqa: E402
from factx._sqlreport import check_parquet_to  # noqa: E402

from .conftest import ROOT, outputs_under_hash_seeds  # noqa: E402


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_crosscheck", ROOT / "bench" /
                                                  "bench_crosscheck.py")  # fmt: skip
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_synthetic_set_is_the_same_in_every_process() -> None:
    """The benchmark's figures once took their values from ``hash()`` of strings, which
    changes with PYTHONHASHSEED: each generation of the set was a little different."""
    code = (
        "import hashlib, importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('b', sys.argv[1])\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "h = hashlib.sha256()\n"
        "for r in m.generate(3000): h.update(r.model_dump_json().encode())\n"
        "print(h.hexdigest())\n"
    )
    digests = outputs_under_hash_seeds(code, str(ROOT / "bench" / "bench_crosscheck.py"))
    assert len(digests) == 1, digests


def _read_report(dest: Path) -> tuple[list[Finding], list[ConsolidatedFact]]:
    """The findings and consolidated facts that ``check_parquet_to`` wrote to ``dest``."""

    def column(name: str) -> list[str]:
        return list(pq.read_table(dest / f"{name}.parquet")["json"].to_pylist())

    return ([Finding.model_validate_json(j) for j in column("findings")],
            [ConsolidatedFact.model_validate_json(j) for j in column("consolidated")])  # fmt: skip


def _write(out: Path, results: list[ArticleFacts], chunk: int = 500) -> None:
    keyed = [Keyed(r, result_key(r, model="m", strategy="s", prompt_version="p")) for r in results]
    for k in range(0, len(keyed), chunk):
        write_batch(out, keyed[k : k + chunk])


@pytest.fixture(scope="module")
def bench_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[ArticleFacts], Path]:
    results = _bench().generate(20_000)
    out = tmp_path_factory.mktemp("bench20k")
    _write(out, results)
    # A batch written twice (a retried task): read once.
    _write(out, results[:300])
    return results, out


def test_parquet_check_equals_in_memory_check(
    bench_set: tuple[list[ArticleFacts], Path],
) -> None:
    results, out = bench_set
    expected = cross_check(results)
    kinds = {f.kind for f in expected.findings}
    # The slice has what the checks look for: it is no empty comparison.
    assert {"same_event", "date_conflict", "number_conflict", "speaker_conflict"} <= kinds
    assert expected.entities and len(expected.findings) > 5000
    assert read_results(out) == results
    got = check_parquet(out)
    assert got.articles == expected.articles
    assert got.entities == expected.entities
    assert got.findings == expected.findings
    assert got.consolidated == expected.consolidated


@pytest.mark.parametrize(("run_rows", "workers"), [(100_000, 1), (97, 1), (97, 2), (97, 3)])
def test_parquet_check_to_files_keeps_the_report_order(
    bench_set: tuple[list[ArticleFacts], Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, run_rows: int, workers: int,
) -> None:  # fmt: skip
    # 97 rows a run: the report is merged from dozens of sorted runs; with two or three
    # workers, from the runs of processes that each took some of the checks.
    monkeypatch.setattr(_sqlreport, "_RUN_ROWS", run_rows)
    # In this process, a check's findings also go out every 50, in the middle of blocks.
    monkeypatch.setattr(_crossitems, "_SPILL_AT", 50)
    results, out = bench_set
    expected = cross_check(results[:400])
    small = tmp_path / "small"
    _write(small, results[:400], chunk=70)
    counts = check_parquet_to(small, tmp_path / "report", workers=workers)
    findings, consolidated = _read_report(tmp_path / "report")
    assert counts == {"findings": len(findings), "consolidated": len(consolidated)}
    assert tuple(findings) == expected.findings
    assert tuple(consolidated) == expected.consolidated


def test_cli_check_reads_a_parquet_folder(
    bench_set: tuple[list[ArticleFacts], Path], tmp_path: Path
) -> None:
    results, _ = bench_set
    out = tmp_path / "out"
    _write(out, results[:500])
    res = CliRunner().invoke(cli, ["check", str(out), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report == json.loads(cross_check(results[:500]).model_dump_json())
    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(cli, ["check", str(empty)])
    assert res.exit_code == 2 and "articles/" in res.output


def test_every_check_is_scheduled_once_longest_first() -> None:
    assert sorted(_sqlreport._LONGEST_FIRST) == sorted(_sqlcheck.CHECKS)
    assert _sqlreport._LONGEST_FIRST[0] == "statements"


@pytest.mark.parametrize(
    ("limit", "n", "share"),
    [("2GB", 2, "1000MB"), ("2GB", 1, "2000MB"), ("1.5 GiB", 3, "536MB"), ("900mb", 2, "450MB")],
)
def test_memory_limit_is_shared_among_the_processes(limit: str, n: int, share: str) -> None:
    assert _sqlreport._memory_share(limit, n) == share


def test_a_memory_limit_that_is_no_size_is_refused() -> None:
    with pytest.raises(ValueError, match="not a memory size"):
        _sqlreport._memory_share("lots", 2)


def test_cli_check_to_a_folder_with_two_workers(
    bench_set: tuple[list[ArticleFacts], Path], tmp_path: Path
) -> None:
    results, _ = bench_set
    out = tmp_path / "out"
    _write(out, results[:300])
    dest = tmp_path / "report"
    res = CliRunner().invoke(cli, ["check", str(out), "--to", str(dest), "--workers", "2"])
    assert res.exit_code == 0, res.output
    expected = cross_check(results[:300])
    assert _read_report(dest)[0] == list(expected.findings)
    assert f"wrote {len(expected.findings)} findings" in res.stderr
    res = CliRunner().invoke(cli, ["check", str(out), "--workers", "2"])
    assert res.exit_code == 2 and "--workers needs --to" in res.output
    res = CliRunner().invoke(cli, ["check", str(out), "--to", str(dest), "--memory-limit", "lots"])
    assert res.exit_code == 2 and "not a memory size" in res.output


def test_the_memory_limit_is_split_among_the_processes_that_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 64 workers asked for, 5 checks to run: 5 processes, each with a fifth of the limit.
    seen: dict[str, object] = {}

    class Stop(Exception):
        pass

    def pool(processes: int, mp_context: object) -> None:
        seen["processes"] = processes
        raise Stop

    real = _sqlreport._memory_share
    monkeypatch.setattr(_sqlreport, "ProcessPoolExecutor", pool)
    monkeypatch.setattr(_sqlreport, "_memory_share",
                        lambda limit, n: seen.setdefault("share", real(limit, n)))  # fmt: skip
    with pytest.raises(Stop):
        check_parquet_to(tmp_path / "out", tmp_path / "report", workers=64)
    assert seen == {"processes": len(_sqlcheck.CHECKS), "share": "400MB"}
    assert not list((tmp_path / "report").glob("factx-findings-*"))  # its temp folder is gone


def test_weekday_names_are_found_as_in_memory(tmp_path: Path) -> None:
    # Monday 2024-03-04 against weekday names as text may spell them: only a named weekday
    # can conflict, and DuckDB's prefilter must not drop one Python's rule finds (a long
    # s, a dotless or dotted i).
    texts = ["am Montag", "am ſamstag", "DİENSTAG früh", "Mittwochabend", "Anfang März",
             "Äfreitag", "am Freıtag"]  # fmt: skip
    results = []
    for k, article in enumerate(r for r in _bench().generate(400) if r.meetings):
        if k == len(texts):
            break
        first = article.meetings[0].model_copy(update={"date": "2024-03-04", "date_text": texts[k]})
        results.append(article.model_copy(update={"meetings": (first, *article.meetings[1:])}))
    _write(tmp_path, results)

    def mismatches(findings: tuple[Finding, ...]) -> list[Finding]:
        return [f for f in findings if f.kind == "weekday_mismatch"]

    expected = mismatches(cross_check(results).findings)
    assert len(expected) == 4  # ſamstag, DİENSTAG, Mittwoch, Freıtag; Äfreitag is no word
    assert mismatches(check_parquet(tmp_path).findings) == expected
