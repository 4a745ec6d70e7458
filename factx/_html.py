"""The cross-check report as one self-contained HTML page.

The page needs no network at view time: CSS and JS are inline. Article text is untrusted,
so every piece of text is escaped, and the script only ever sets ``textContent``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ._report import FACT_TYPES, SEVERITIES, TYPE_COLORS, TYPE_LABEL, fact_summary
from ._schemas import (
    ArticleFacts,
    CrossCheckReport,
    FactRef,
    FactType,
    Finding,
    Meeting,
    Severity,
    Statement,
    TradeFigure,
    Treaty,
)

__all__ = ["render_html"]


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _json_for_script(data: Any) -> str:
    # Inside <script>, "</script>" or "<!--" in article text must not end the element.
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return raw.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _typed_facts(
    art: ArticleFacts,
) -> list[tuple[FactType, int, Meeting | Statement | Treaty | TradeFigure]]:
    out: list[tuple[FactType, int, Meeting | Statement | Treaty | TradeFigure]] = []
    out += [("meeting", i, f) for i, f in enumerate(art.meetings)]
    out += [("statement", i, f) for i, f in enumerate(art.statements)]
    out += [("treaty", i, f) for i, f in enumerate(art.treaties)]
    out += [("trade_figure", i, f) for i, f in enumerate(art.trade_figures)]
    return out


def _fact_key(article_id: str, ftype: str, index: int) -> tuple[str, str, int]:
    return article_id, ftype, index


def _highlighted(text: str, spans: Sequence[tuple[int, int, str, str, str]]) -> str:
    """Escaped text with ``<mark>`` around evidence; overlapping spans split into segments.

    ``spans``: (start, end, fact id, fact type, css extra). A segment covered by several facts
    takes the colour of the shortest (innermost) one and lists all ids in ``data-facts``.
    """
    bounds = sorted(
        {0, len(text), *(s for s, _, _, _, _ in spans), *(e for _, e, _, _, _ in spans)}
    )
    out: list[str] = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        covering = [sp for sp in spans if sp[0] <= a and b <= sp[1]]
        chunk = _esc(text[a:b])
        if not covering:
            out.append(chunk)
            continue
        covering.sort(key=lambda sp: sp[1] - sp[0])
        inner = covering[0]
        ids = " ".join(sp[2] for sp in covering)
        extra = " ".join(sorted({sp[4] for sp in covering if sp[4]}))
        multi = " multi" if len(covering) > 1 else ""
        out.append(
            f'<mark class="ev t-{inner[3]}{multi} {extra}" data-facts="{_esc(ids)}">{chunk}</mark>'
        )
    return "".join(out)


def render_html(
    results: Sequence[ArticleFacts],
    report: CrossCheckReport,
    *,
    title: str = "factx cross-check",
) -> str:
    """A self-contained review page: articles with highlighted evidence, findings linked to it."""
    fact_ids: dict[tuple[str, str, int], str] = {}
    facts_data: dict[str, dict[str, Any]] = {}
    for art in results:
        for ftype, index, fact in _typed_facts(art):
            fid = f"f{len(fact_ids)}"
            fact_ids[_fact_key(art.article_id, ftype, index)] = fid
            fields = fact.model_dump(
                mode="json",
                exclude={"evidence", "char_start", "char_end", "alignment", "flags", "type"},
            )
            facts_data[fid] = {
                "article": art.article_id,
                "type": ftype,
                "index": index,
                "summary": fact_summary(fact),
                "evidence": fact.evidence,
                "start": fact.char_start,
                "end": fact.char_end,
                "alignment": fact.alignment,
                "flags": list(fact.flags),
                "fields": {k: v for k, v in fields.items() if v not in (None, [], "")},
                "findings": [],
            }

    def fid_of(ref: FactRef) -> str | None:
        return fact_ids.get(_fact_key(ref.article_id, ref.type, ref.index))

    worst: dict[str, Severity] = {}
    for n, finding in enumerate(report.findings):
        for ref in finding.facts:
            linked = fid_of(ref)
            if linked is None:
                continue
            facts_data[linked]["findings"].append(n)
            if finding.severity != "info" and worst.get(linked) != "error":
                worst[linked] = finding.severity

    counts = Counter(f.severity for f in report.findings)
    n_facts = len(fact_ids)
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="de"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # No network at view time, and no script but our own (pinned by its hash).
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        f"style-src 'unsafe-inline'; script-src '{_JS_HASH}'; img-src data:\">",
        f"<title>{_esc(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<header><h1>{_esc(title)}</h1><p class='stats'>{len(results)} articles · "
        f"{n_facts} facts · <span id='stat-spans'>?</span> highlighted · "
        f"<span class='sev-error'>{counts['error']} errors</span> · "
        f"<span class='sev-warning'>{counts['warning']} warnings</span> · "
        f"<span class='sev-info'>{counts['info']} info</span></p>",
        "<div class='controls'><span class='label'>Fact types</span>",
    ]
    for ftype in FACT_TYPES:
        parts.append(
            f"<label class='chip t-{ftype}'><input type='checkbox' class='f-type' "
            f"value='{ftype}' checked> {TYPE_LABEL[ftype]}</label>"
        )
    parts.append("<span class='label'>Severity</span>")
    for sev in SEVERITIES:
        parts.append(
            f"<label class='chip sevchip sev-{sev}'><input type='checkbox' class='f-sev' "
            f"value='{sev}' checked> {sev} ({counts[sev]})</label>"
        )
    parts.append(
        "<span class='stepper'><button type='button' id='prev' title='previous fact (←)'>◀</button>"
        "<span id='pos'>–</span>"
        "<button type='button' id='next' title='next fact (→)'>▶</button></span></div></header>"
    )
    parts.append("<div class='layout'><main>")

    # Findings
    parts.append(f"<section id='findings'><h2>Findings ({len(report.findings)})</h2><ol>")
    for n, finding in enumerate(report.findings):
        parts.append(_finding_html(n, finding, fid_of))
    parts.append("</ol></section>")

    # Articles
    for a_index, art in enumerate(results):
        spans: list[tuple[int, int, str, str, str]] = []
        ungrounded: list[str] = []
        for ftype, index, fact in _typed_facts(art):
            fid = fact_ids[_fact_key(art.article_id, ftype, index)]
            start, end = fact.char_start, fact.char_end
            if start is not None and end is not None and 0 <= start < end <= len(art.text):
                extra = f"has-{worst[fid]}" if fid in worst else ""
                spans.append((start, end, fid, ftype, extra))
            else:
                ungrounded.append(fid)
        meta = " · ".join(
            _esc(x) for x in (art.source.outlet, art.source.published, art.source.url) if x
        )
        parts.append(
            f"<section class='article' id='a{a_index}'><h2>{_esc(art.article_id)}</h2>"
            f"<p class='meta'>{meta} · {len(art.facts())} facts</p>"
            f"<div class='text'>{_highlighted(art.text, spans)}</div>"
        )
        if ungrounded:
            parts.append("<p class='ungrounded'>Not located in the text: ")
            parts.append(
                ", ".join(
                    f"<a href='#' class='fref' data-fact='{fid}'>"
                    f"{_esc(facts_data[fid]['summary'])}</a>"
                    for fid in ungrounded
                )
            )
            parts.append("</p>")
        parts.append("</section>")

    # Consolidated facts
    parts.append(
        f"<section id='consolidated'><h2>Consolidated facts ({len(report.consolidated)})</h2>"
        "<table><thead><tr><th>type</th><th>fact</th><th>articles</th>"
        "<th title='independent articles'>corr.</th></tr></thead><tbody>"
    )
    for c in report.consolidated:
        ids = " ".join(i for i in (fid_of(r) for r in c.facts) if i)
        parts.append(
            f"<tr class='cons' data-type='{c.type}' data-facts='{ids}'>"
            f"<td><span class='dot t-{c.type}'></span>{TYPE_LABEL[c.type]}</td>"
            f"<td><a href='#' class='fref' data-fact='{ids.split(' ')[0] if ids else ''}'>"
            f"{_esc(c.summary)}</a></td><td>{_esc(', '.join(c.articles))}</td>"
            f"<td class='num'>{c.corroboration}</td></tr>"
        )
    parts.append("</tbody></table></section>")

    if report.entities:
        parts.append(
            "<section id='entities'><h2>Merged names</h2><table><thead><tr><th>kind</th>"
            "<th>as written</th><th>canonical</th><th>rule</th></tr></thead><tbody>"
        )
        for merge in report.entities:
            parts.append(
                f"<tr><td>{_esc(merge.kind)}</td><td>{_esc(merge.text)}</td>"
                f"<td>{_esc(merge.canonical)}</td><td>{_esc(merge.rule)}</td></tr>"
            )
        parts.append("</tbody></table></section>")

    parts.append(
        "</main><aside id='details'><h2>Details</h2>"
        "<p class='hint'>Click highlighted evidence or a finding. ← → step through facts.</p>"
        "<div id='detail-body'></div></aside></div>"
    )
    findings_data = [
        {
            "kind": f.kind,
            "severity": f.severity,
            "message": f.message,
            "facts": [i for i in (fid_of(r) for r in f.facts) if i],
        }
        for f in report.findings
    ]
    parts.append(
        "<script type='application/json' id='facts-data'>"
        f"{_json_for_script({'facts': facts_data, 'findings': findings_data})}</script>"
    )
    parts.append(f"<script>{_JS}</script></body></html>")
    return "".join(parts)


def _finding_html(n: int, f: Finding, fid_of: Any) -> str:
    ids = [i for i in (fid_of(r) for r in f.facts) if i]
    types = sorted({r.type for r in f.facts})
    links = "".join(
        f"<a href='#' class='fref t-{r.type}' data-fact='{fid_of(r) or ''}'>"
        f"{_esc(r.article_id)} · {TYPE_LABEL[r.type]} #{r.index}</a>"
        for r in f.facts
    )
    return (
        f"<li class='finding sev-{f.severity}' id='finding-{n}' data-n='{n}' "
        f"data-severity='{f.severity}' data-types='{' '.join(types)}' "
        f"data-facts='{' '.join(ids)}'>"
        f"<span class='badge sev-{f.severity}'>{f.severity}</span> "
        f"<b>{_esc(f.kind)}</b> {_esc(f.message)}"
        f"<div class='rule'>rule: {_esc(f.rule)}</div><div class='refs'>{links}</div>"
        f"{_evidence_pair(f)}</li>"
    )


def _evidence_pair(f: Finding) -> str:
    """The evidence of a finding that joins several articles, side by side: one span per
    article (the first two articles, then up to two more)."""
    firsts: dict[str, FactRef] = {}
    for r in f.facts:
        firsts.setdefault(r.article_id, r)
    if len(firsts) < 2:
        return ""
    cells = "".join(
        f"<div class='side'><div class='src'>{_esc(r.article_id)} · {TYPE_LABEL[r.type]} "
        f"#{r.index}</div><q>{_esc(r.evidence)}</q></div>"
        for r in list(firsts.values())[:4]
    )
    return f"<div class='pair'>{cells}</div>"


_CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 "DejaVu Sans","Liberation Sans",Arial,sans-serif;color:#1f2937;
background:#f8fafc}
header{position:sticky;top:0;z-index:5;background:#fff;border-bottom:1px solid #e5e7eb;
padding:8px 20px}
h1{font-size:20px;margin:0}
h2{font-size:16px;margin:0 0 8px}
.stats{margin:2px 0 6px;color:#4b5563}
.controls{display:flex;flex-wrap:wrap;gap:6px;align-items:center}
.label{font-weight:bold;margin-left:8px;color:#374151}
.chip{border-radius:12px;padding:1px 10px;border:1px solid #d1d5db;cursor:pointer;
user-select:none}
.chip.t-meeting{background:#93c5fd}.chip.t-statement{background:#fcd34d}
.chip.t-treaty{background:#86efac}.chip.t-trade_figure{background:#f9a8d4}
.sevchip{background:#fff}
.stepper{margin-left:auto;display:flex;gap:6px;align-items:center}
.stepper button{border:1px solid #9ca3af;background:#fff;border-radius:4px;cursor:pointer;
padding:1px 10px}
.layout{display:flex;gap:16px;padding:12px 20px;align-items:flex-start}
main{flex:1;min-width:0}
aside{position:sticky;top:96px;width:340px;flex:none;background:#fff;border:1px solid #e5e7eb;
border-radius:8px;padding:12px;max-height:80vh;overflow:auto;font-size:13px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px;
margin-bottom:14px}
.meta{color:#6b7280;font-size:13px;margin:0 0 8px}
.text{white-space:pre-wrap;line-height:1.75}
mark.ev{border-radius:3px;padding:1px 0;cursor:pointer;color:inherit}
mark.multi{box-shadow:inset 0 -3px 0 rgba(55,65,81,.45)}
mark.has-error{border-bottom:3px solid #dc2626}
mark.has-warning{border-bottom:3px dashed #d97706}
mark.focus{outline:2px solid #111827;outline-offset:1px}
mark.off{background:transparent;box-shadow:none;border-bottom:none;cursor:default}
#findings ol{margin:0;padding-left:28px;max-height:42vh;overflow:auto}
.finding{margin:4px 0;padding:4px 6px;border-radius:6px}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:8px;margin:4px 0 2px}
.pair .side{border:1px solid #e5e7eb;border-radius:6px;padding:4px 8px;background:#fff;
font-size:13px}
.pair .src{color:#6b7280;font-size:12px}
.finding.related{background:#eef2ff}
.finding.hidden,.cons.hidden{display:none}
.badge{font-size:11px;font-weight:bold;color:#fff;border-radius:8px;padding:0 7px}
.badge.sev-error{background:#dc2626;color:#fff}.badge.sev-warning{background:#d97706;color:#fff}
.badge.sev-info{background:#2563eb;color:#fff}
span.sev-error{color:#dc2626}span.sev-warning{color:#b45309}span.sev-info{color:#2563eb}
.rule{color:#6b7280;font-size:12px}
.refs a{display:inline-block;margin:2px 6px 0 0;font-size:12px;border-radius:4px;padding:0 5px;
color:#1f2937;text-decoration:none;border:1px solid #d1d5db}
.refs a.t-meeting{border-color:#3b82f6}.refs a.t-statement{border-color:#d97706}
.refs a.t-treaty{border-color:#16a34a}.refs a.t-trade_figure{border-color:#db2777}
table{border-collapse:collapse;width:100%;font-size:13px}
td,th{border-bottom:1px solid #e5e7eb;padding:3px 6px;text-align:left;vertical-align:top}
td.num{text-align:right}
.dot{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:5px}
.dot.t-meeting{background:#93c5fd}.dot.t-statement{background:#fcd34d}
.dot.t-treaty{background:#86efac}.dot.t-trade_figure{background:#f9a8d4}
.ungrounded{color:#92400e;font-size:13px}
#detail-body dl{display:grid;grid-template-columns:auto 1fr;gap:2px 8px;margin:6px 0}
#detail-body dt{color:#6b7280}#detail-body dd{margin:0;word-break:break-word}
.hint{color:#6b7280;margin:0 0 6px}
""" + "".join(f"mark.t-{t}{{background:{c}}}" for t, c in TYPE_COLORS.items())

# Plain JS, no libraries. Untrusted strings only ever go through textContent.
_JS = """
(function(){
'use strict';
var data = JSON.parse(document.getElementById('facts-data').textContent);
var marks = Array.prototype.slice.call(document.querySelectorAll('mark.ev'));
var byFact = {};
marks.forEach(function(m){
  m.getAttribute('data-facts').split(' ').forEach(function(id){
    (byFact[id] = byFact[id] || []).push(m);
  });
});
var order = Object.keys(data.facts).filter(function(id){ return byFact[id]; });
document.getElementById('stat-spans').textContent = String(order.length);
var current = -1;

function checked(cls){
  var out = {};
  document.querySelectorAll('input.' + cls).forEach(function(i){ out[i.value] = i.checked; });
  return out;
}
function visible(id){ return checked('f-type')[data.facts[id].type]; }

function applyFilters(){
  var types = checked('f-type'), sevs = checked('f-sev');
  marks.forEach(function(m){
    var on = m.getAttribute('data-facts').split(' ').some(function(id){
      return types[data.facts[id].type];
    });
    m.classList.toggle('off', !on);
  });
  document.querySelectorAll('li.finding').forEach(function(li){
    var ts = li.getAttribute('data-types').split(' ');
    var on = sevs[li.getAttribute('data-severity')] && ts.some(function(t){ return types[t]; });
    li.classList.toggle('hidden', !on);
  });
  document.querySelectorAll('tr.cons').forEach(function(tr){
    tr.classList.toggle('hidden', !types[tr.getAttribute('data-type')]);
  });
}

function clearFocus(){
  document.querySelectorAll('mark.focus').forEach(function(m){ m.classList.remove('focus'); });
  document.querySelectorAll('li.related').forEach(function(l){ l.classList.remove('related'); });
}
function focusFacts(ids, scroll){
  clearFocus();
  var first = null;
  ids.forEach(function(id){
    (byFact[id] || []).forEach(function(m){ m.classList.add('focus'); first = first || m; });
  });
  if (first && scroll) { first.scrollIntoView({block: 'center'}); }
}
function row(dl, key, value){
  var dt = document.createElement('dt'); dt.textContent = key;
  var dd = document.createElement('dd'); dd.textContent = value;
  dl.appendChild(dt); dl.appendChild(dd);
}
function showFact(id, scroll){
  var f = data.facts[id]; if (!f) { return; }
  focusFacts([id], scroll);
  current = order.indexOf(id);
  document.getElementById('pos').textContent =
    (current >= 0 ? (current + 1) : '–') + ' / ' + order.length;
  var body = document.getElementById('detail-body');
  body.textContent = '';
  var h = document.createElement('h3'); h.textContent = f.summary; body.appendChild(h);
  var dl = document.createElement('dl');
  row(dl, 'article', f.article);
  row(dl, 'fact', f.type + ' #' + f.index);
  row(dl, 'offsets', f.start === null ? 'not located' : f.start + '–' + f.end);
  row(dl, 'alignment', f.alignment);
  if (f.flags.length) { row(dl, 'flags', f.flags.join(', ')); }
  Object.keys(f.fields).forEach(function(k){
    var v = f.fields[k]; row(dl, k, Array.isArray(v) ? v.join(', ') : String(v));
  });
  row(dl, 'evidence', f.evidence);
  body.appendChild(dl);
  if (f.findings.length) {
    var t = document.createElement('h3'); t.textContent = 'Findings'; body.appendChild(t);
    var ul = document.createElement('ul');
    f.findings.forEach(function(n){
      var g = data.findings[n];
      var li = document.createElement('li');
      li.textContent = g.severity + ' · ' + g.kind + ': ' + g.message;
      ul.appendChild(li);
      var item = document.getElementById('finding-' + n);
      if (item) { item.classList.add('related'); }
    });
    body.appendChild(ul);
  }
}
function step(delta){
  var n = order.length, i = current;
  for (var k = 0; k < n; k++) {
    i = (i + delta + n) % n;
    if (visible(order[i])) { showFact(order[i], true); return; }
  }
}

document.querySelectorAll('input.f-type, input.f-sev').forEach(function(i){
  i.addEventListener('change', applyFilters);
});
marks.forEach(function(m){
  m.addEventListener('click', function(){
    if (m.classList.contains('off')) { return; }
    var ids = m.getAttribute('data-facts').split(' ').filter(visible);
    var at = ids.indexOf(order[current]);
    showFact(ids[(at + 1) % ids.length], false);
  });
});
document.querySelectorAll('li.finding').forEach(function(li){
  li.addEventListener('click', function(ev){
    if (ev.target.closest && ev.target.closest('a.fref')) { return; }
    var ids = li.getAttribute('data-facts').split(' ').filter(Boolean);
    focusFacts(ids, true);
    li.classList.add('related');
  });
});
document.querySelectorAll('a.fref').forEach(function(a){
  a.addEventListener('click', function(ev){
    ev.preventDefault();
    showFact(a.getAttribute('data-fact'), true);
  });
});
document.getElementById('prev').addEventListener('click', function(){ step(-1); });
document.getElementById('next').addEventListener('click', function(){ step(1); });
document.addEventListener('keydown', function(ev){
  if (ev.key === 'ArrowRight') { step(1); } else if (ev.key === 'ArrowLeft') { step(-1); }
});
applyFilters();
document.documentElement.setAttribute('data-ready', String(order.length));
})();
"""

_JS_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_JS.encode()).digest()).decode()
