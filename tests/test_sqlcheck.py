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

from factx import ArticleFacts, ConsolidatedFact, Finding, cross_check  # noqa: E402
from factx._cli import cli  # noqa: E402
from factx._parquet import Keyed, read_results, result_key, write_batch  # noqa: E402
from factx._sqlcheck import check_parquet, check_parquet_to  # noqa: E402

from .conftest import ROOT  # noqa: E402


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_crosscheck", ROOT / "bench" /
                                                  "bench_crosscheck.py")  # fmt: skip
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def test_parquet_check_to_files_keeps_the_report_order(
    bench_set: tuple[list[ArticleFacts], Path], tmp_path: Path
) -> None:
    results, out = bench_set
    expected = cross_check(results[:400])
    small = tmp_path / "small"
    _write(small, results[:400], chunk=70)
    counts = check_parquet_to(small, tmp_path / "report")
    findings = [
        Finding.model_validate_json(j)
        for j in pq.read_table(tmp_path / "report" / "findings.parquet")["json"].to_pylist()
    ]
    consolidated = [ConsolidatedFact.model_validate_json(j) for j in
                    pq.read_table(tmp_path / "report" / "consolidated.parquet")["json"]
                    .to_pylist()]  # fmt: skip
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
