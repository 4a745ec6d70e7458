"""Review report: terminal summary, escaped self-contained HTML, and the page in Chromium."""

from __future__ import annotations

import html
import os
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from factx._crosscheck import cross_check
from factx._html import render_html
from factx._report import TYPE_COLORS, render_terminal
from factx._schemas import ArticleFacts, Meeting, Source, Statement, TradeFigure

HOSTILE = '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'">'


def _article(article_id: str, text: str, **facts: object) -> ArticleFacts:
    return ArticleFacts(
        article_id=article_id,
        text_sha256=article_id,
        text=text,
        source=Source(published="2023-02-22", outlet="Test"),
        **facts,  # type: ignore[arg-type]
    )


def _span(text: str, evidence: str) -> dict[str, object]:
    start = text.index(evidence)
    return {
        "evidence": evidence,
        "char_start": start,
        "char_end": start + len(evidence),
        "alignment": "exact",
    }


def _results() -> list[ArticleFacts]:
    """Two articles on one meeting, a statement, overlapping figures, hostile markup."""
    t1 = (
        "Wang Yi traf am Mittwoch in Moskau Sergej Lawrow. "
        f"„Die Beziehungen sind felsenfest und ausgereift“, sagte Wang. {HOSTILE} "
        "Der Handel erreichte 218,2 Milliarden US-Dollar (173,12 Milliarden Pfund)."
    )
    t2 = "Am Mittwoch sprach Wang mit Lavrov in Moscow über die Lage. Ungeerdet."
    a1 = _article(
        "a1",
        t1,
        meetings=(
            Meeting(
                participants=("Wang Yi", "Sergej Lawrow"),
                location="Moskau",
                date="2023-02-22",
                **_span(t1, "Wang Yi traf am Mittwoch in Moskau Sergej Lawrow"),  # type: ignore[arg-type]
            ),
        ),
        statements=(
            Statement(
                speaker="Wang Yi",
                quote="Die Beziehungen sind felsenfest und ausgereift",
                **_span(t1, "Die Beziehungen sind felsenfest und ausgereift"),  # type: ignore[arg-type]
            ),
            # Evidence containing the hostile markup: must be shown as text.
            Statement(
                speaker="Wang Yi </script>",
                quote=HOSTILE,
                **_span(t1, HOSTILE),  # type: ignore[arg-type]
            ),
        ),
        trade_figures=(
            TradeFigure(
                value=218.2e9,
                value_text="218,2 Milliarden US-Dollar",
                currency="USD",
                period="2023-01..2023-11",
                **_span(t1, "218,2 Milliarden US-Dollar (173,12 Milliarden Pfund)"),  # type: ignore[arg-type]
            ),
            TradeFigure(  # nested inside the span above
                value=173.12e9,
                value_text="173,12 Milliarden Pfund",
                currency="GBP",
                period="2023-01..2023-11",
                **_span(t1, "173,12 Milliarden Pfund"),  # type: ignore[arg-type]
            ),
        ),
    )
    a2 = _article(
        "a2",
        t2,
        meetings=(
            Meeting(
                participants=("Wang", "Lavrov"),
                location="Moscow",
                date="2023-02-22",
                date_text="am Dienstag",  # 2023-02-22 was a Wednesday: a finding
                **_span(t2, "Am Mittwoch sprach Wang mit Lavrov in Moscow"),  # type: ignore[arg-type]
            ),
        ),
        # Not located in the text: listed, not highlighted.
        statements=(
            Statement(speaker="Wang Yi", quote="nirgends zu finden im Text", evidence="x"),
        ),
    )
    return [a1, a2]


N_GROUNDED = 6  # facts with offsets in _results()


def test_html_escapes_untrusted_text() -> None:
    results = _results()
    page = render_html(results, cross_check(results))
    assert "<script>document.title" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;" in page
    # Only our own script elements end: article text cannot close them early.
    assert page.count("</script>") == 2
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page


def test_html_marks_every_grounded_fact_and_links_findings() -> None:
    results = _results()
    report = cross_check(results)
    page = render_html(results, report)
    ids = set()
    for m in re.finditer(r'<mark class="ev [^"]*" data-facts="([^"]+)"', page):
        ids.update(m.group(1).split())
    assert len(ids) == N_GROUNDED
    kinds = {f.kind for f in report.findings}
    assert {"same_event", "weekday_mismatch", "currency_consistent"} <= kinds
    for n, finding in enumerate(report.findings):
        li = re.search(rf"<li class='finding sev-{finding.severity}' id='finding-{n}'", page)
        assert li is not None
    # The weekday finding's span carries the error style.
    assert re.search(r'<mark class="ev t-meeting has-error" data-facts="f\d+">Am Mittwoch', page)


def test_terminal_summary_lists_findings_by_severity() -> None:
    results = _results()
    report = cross_check(results)
    console = Console(record=True, width=160, color_system=None)
    render_terminal(report, console)
    out = console.export_text()
    assert "weekday_mismatch" in out and "same_event" in out
    assert re.search(r"error\s+│\s+weekday_mismatch\s+│\s+1", out)
    console = Console(record=True, width=100, color_system=None)
    render_terminal(cross_check([]), console)
    assert "no findings" in console.export_text()


# Headless Chromium ---------------------------------------------------------------------


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (apt-get install -y chromium)")
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    return path


def _run_chromium(tmp_path: Path, *args: str) -> str:
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _png_rows(data: bytes) -> Iterator[bytes]:
    """A minimal PNG decoder (8-bit RGB or RGBA, not interlaced): yields rows of RGB bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and color in (2, 6)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride, n = width * channels, channels
    prev = bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if ftype == 1:  # Sub
            for x in range(n, stride):
                line[x] = (line[x] + line[x - n]) & 0xFF
        elif ftype == 2:  # Up
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
        elif ftype == 3:  # Average
            for x in range(stride):
                left = line[x - n] if x >= n else 0
                line[x] = (line[x] + ((left + prev[x]) >> 1)) & 0xFF
        elif ftype == 4:  # Paeth
            for x in range(stride):
                a = line[x - n] if x >= n else 0
                b = prev[x]
                c = prev[x - n] if x >= n else 0
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        prev = line
        yield bytes(line) if n == 3 else bytes(v for i, v in enumerate(line) if i % 4 != 3)


def _colour_pixels(png: bytes, colours: list[str], enough: int) -> dict[str, int]:
    """Pixels of each colour, exact; decoding stops once every colour has ``enough``."""
    targets = {c: bytes.fromhex(c.lstrip("#")) for c in colours}
    counts = dict.fromkeys(colours, 0)
    for row in _png_rows(png):
        for c, t in targets.items():
            # Solid backgrounds render exactly; count only pixel-aligned matches.
            start = row.find(t)
            while start >= 0:
                counts[c] += start % 3 == 0
                start = row.find(t, start + 1)
        if min(counts.values()) >= enough:
            break
    return counts


def test_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    results = _results()
    page_path = tmp_path / "report.html"
    page_path.write_text(render_html(results, cross_check(results)), encoding="utf-8")
    dom = _run_chromium(tmp_path, "--dump-dom", page_path.as_uri())
    # The script ran: it counted the highlighted facts and marked the page ready.
    assert f'data-ready="{N_GROUNDED}"' in dom
    assert re.search(rf'<span id="stat-spans">{N_GROUNDED}</span>', dom)
    ids = set()
    for m in re.finditer(r'<mark class="ev [^"]*" data-facts="([^"]+)"', dom):
        ids.update(m.group(1).split())
    assert len(ids) == N_GROUNDED
    # The hostile markup did not run and did not become elements.
    assert "pwned</title>" not in dom and "<img" not in dom

    shot = tmp_path / "shot.png"
    _run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page_path.as_uri())
    png = shot.read_bytes()
    assert struct.unpack(">II", png[16:24]) == (1280, 2000)
    # Highlighted evidence is visible: pixels of the meeting, statement and figure colours.
    wanted = [TYPE_COLORS[t] for t in ("meeting", "statement", "trade_figure")]
    counts = _colour_pixels(png, wanted, enough=500)
    assert min(counts.values()) >= 500, counts

    # Control: the same page with no located evidence has none of those pixels.
    bare = [
        r.model_copy(
            update={
                field: tuple(f.model_copy(update={"char_start": None}) for f in getattr(r, field))
                for field in ("meetings", "statements", "trade_figures")
            }
        )
        for r in results
    ]
    page_path.write_text(render_html(bare, cross_check(bare)), encoding="utf-8")
    _run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page_path.as_uri())
    assert _colour_pixels(shot.read_bytes(), wanted, enough=1) == dict.fromkeys(wanted, 0)


def test_a_finding_across_articles_shows_both_evidence_spans_side_by_side() -> None:
    results = _results()
    report = cross_check(results)
    page = render_html(results, report)
    (n, event) = next(
        (n, f) for n, f in enumerate(report.findings) if len({r.article_id for r in f.facts}) == 2
    )
    li = page[page.index(f"id='finding-{n}'") :]
    li = li[: li.index("</li>")]
    pair = li[li.index("<div class='pair'>") :]
    sides = re.findall(r"<div class='side'>.*?<q>(.*?)</q></div>", pair)
    firsts: dict[str, str] = {}
    for r in event.facts:
        firsts.setdefault(r.article_id, r.evidence)
    assert len(firsts) == 2 and sides == [html.escape(e, quote=True) for e in firsts.values()]
    assert event.message.endswith(f"Rule: {event.rule.split('; names:')[0]}.")
