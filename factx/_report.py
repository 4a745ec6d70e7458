"""Rendering a ``CrossCheckReport`` in the terminal (rich), and what the HTML page
(``_html``) shares with it: severities, fact types, their colours and labels, one-line
fact summaries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ._schemas import (
    CrossCheckReport,
    FactType,
    Meeting,
    Severity,
    Statement,
    TradeFigure,
    Treaty,
)

__all__ = [
    "FACT_TYPES",
    "SEVERITIES",
    "TYPE_COLORS",
    "TYPE_LABEL",
    "fact_summary",
    "render_terminal",
]

SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
FACT_TYPES: tuple[FactType, ...] = ("meeting", "statement", "treaty", "trade_figure")
# Highlight colours, used for evidence marks only (legend chips are a shade darker): the
# chromium test looks for these pixels in the screenshot.
TYPE_COLORS: dict[FactType, str] = {
    "meeting": "#bfdbfe",
    "statement": "#fde68a",
    "treaty": "#bbf7d0",
    "trade_figure": "#fbcfe8",
}
_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
TYPE_LABEL = {
    "meeting": "meeting",
    "statement": "statement",
    "treaty": "treaty",
    "trade_figure": "trade figure",
}


def fact_summary(fact: Meeting | Statement | Treaty | TradeFigure) -> str:
    """One line describing a fact, for tooltips and lists."""
    if isinstance(fact, Meeting):
        parts = [", ".join(fact.participants), fact.location, fact.date, fact.status, fact.kind]
        return "Meeting: " + " · ".join(p for p in parts if p)
    if isinstance(fact, Statement):
        quote = fact.quote if len(fact.quote) <= 80 else fact.quote[:77] + "…"
        return f"Statement by {fact.speaker}{f' ({fact.date})' if fact.date else ''}: „{quote}“"
    if isinstance(fact, Treaty):
        parts = [fact.name, "/".join(fact.parties), fact.status, fact.date]
        return "Treaty: " + " · ".join(p for p in parts if p)
    unit = "%" if fact.unit == "percent" else fact.currency or ""
    flow = " → ".join(fact.direction) if fact.direction else None
    parts = [
        f"{fact.value:,.0f} {unit}".strip(),
        fact.period,
        fact.metric,
        flow or "/".join(fact.parties),
    ]
    return "Trade figure: " + " · ".join(p for p in parts if p)


# Terminal ---------------------------------------------------------------------------


def render_terminal(report: CrossCheckReport, console: Console) -> None:
    """Findings by severity and kind, then every finding, then the corroborated facts."""
    counts: Counter[tuple[str, str]] = Counter((f.severity, f.kind) for f in report.findings)
    summary = Table(title=f"Cross-check of {len(report.articles)} articles", title_justify="left")
    summary.add_column("severity")
    summary.add_column("kind")
    summary.add_column("findings", justify="right")
    for severity in SEVERITIES:
        for (sev, kind), n in sorted(counts.items()):
            if sev == severity:
                summary.add_row(Text(sev, style=_SEVERITY_STYLE[sev]), kind, str(n))
    if not report.findings:
        summary.add_row("-", "no findings", "0")
    console.print(summary)

    if report.findings:
        short = _short_ids(report.articles)
        table = Table(title="Findings", title_justify="left", show_lines=False)
        table.add_column("severity", no_wrap=True)
        table.add_column("kind", no_wrap=True)
        table.add_column("articles")
        table.add_column("message", ratio=1)
        for f in report.findings:
            arts = ", ".join(sorted({short.get(r.article_id, r.article_id) for r in f.facts}))
            message = f.message
            for long_id, short_id in short.items():
                message = message.replace(long_id, short_id)
            table.add_row(
                Text(f.severity, style=_SEVERITY_STYLE[f.severity]),
                f.kind,
                Text(arts),
                Text(message),
            )
        console.print(table)

    corroborated = [c for c in report.consolidated if c.corroboration > 1]
    by_sev = Counter(f.severity for f in report.findings)
    console.print(
        f"{len(report.consolidated)} consolidated facts, {len(corroborated)} corroborated by "
        f"several articles; {by_sev['error']} errors, {by_sev['warning']} warnings, "
        f"{by_sev['info']} info.",
        highlight=False,
    )


def _short_ids(ids: Sequence[str]) -> dict[str, str]:
    """ "000_75cd6d7d277b82da" -> "000" when those prefixes tell the articles apart."""
    prefixes = {i: i.split("_", 1)[0] for i in ids}
    if len(set(prefixes.values())) < len(prefixes):
        return {}
    return {i: p for i, p in prefixes.items() if p != i}


# HTML -------------------------------------------------------------------------------
