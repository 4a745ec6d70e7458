"""Grounding: exact -> normalized -> fuzzy -> none, offsets into the original text."""

from __future__ import annotations

import pytest

from factx._ground import Grounder, ground, normalize_for_match

# A made-up article in the style of the seeds (not seed text).
ARTICLE = (
    "Moskau – Der russische Außenminister Sergej Lawrow hat am Dienstag in Peking\n"
    "seinen Amtskollegen Wang Yi getroffen. „Unsere Beziehungen sind so stabil wie nie "
    "zuvor“, sagte Lawrow nach dem Gespräch.\n"
    "Der Handel zwischen beiden Ländern stieg im vergangenen Jahr auf einen Rekordwert "
    "von 240 Milliarden US-Dollar – mehr als je zuvor.\n"
    "Wang betonte, China sei „bereit, die strategische Zusammenarbeit mit Russland weiter "
    "zu vertiefen“.\n"
    "Die beiden Minister sprachen auch über die Lage in der Ukraine und im Nahen Osten.\n"
    "Ein Treffen der Staats- und Regierungschefs ist für Mai geplant.\n"
    "Wang betonte, China sei „bereit, die strategische Zusammenarbeit mit Russland weiter "
    "zu vertiefen“.\n"
    "Kre\u00adml-Sprecher Dmitri Peskow nannte das Treffen \u201econstruktiv\u201c.\n"
)

# (evidence as an LLM might return it, status, the original span it must land on)
CASES: list[tuple[str, str, str | None]] = [
    # exact
    ("Sergej Lawrow hat am Dienstag in Peking", "exact", "Sergej Lawrow hat am Dienstag in Peking"),
    ("240 Milliarden US-Dollar", "exact", "240 Milliarden US-Dollar"),
    ("Unsere Beziehungen sind so stabil wie nie zuvor", "exact", None),
    ("für Mai geplant", "exact", None),
    # normalized: quotes, dashes, whitespace, soft hyphen, case
    (
        '"Unsere Beziehungen sind so stabil wie nie zuvor", sagte Lawrow',
        "normalized",
        "„Unsere Beziehungen sind so stabil wie nie zuvor“, sagte Lawrow",
    ),
    (
        "«Unsere Beziehungen sind so stabil wie nie zuvor», sagte Lawrow",
        "normalized",
        "„Unsere Beziehungen sind so stabil wie nie zuvor“, sagte Lawrow",
    ),
    (
        "240 Milliarden US-Dollar - mehr als je zuvor",
        "normalized",
        "240 Milliarden US-Dollar – mehr als je zuvor",
    ),
    (
        "240 Milliarden US\u2013Dollar",
        "normalized",
        "240 Milliarden US-Dollar",
    ),
    (
        "hat am Dienstag in Peking seinen Amtskollegen",
        "normalized",
        "hat am Dienstag in Peking\nseinen Amtskollegen",
    ),
    (
        "Lawrow  hat  am   Dienstag",
        "normalized",
        "Lawrow hat am Dienstag",
    ),
    ("Kreml-Sprecher Dmitri Peskow", "normalized", "Kre\u00adml-Sprecher Dmitri Peskow"),
    ("DER HANDEL ZWISCHEN BEIDEN LÄNDERN", "normalized", "Der Handel zwischen beiden Ländern"),
    (
        "\u201aconstruktiv\u2018",
        "none",  # single vs double quotes are different classes
        None,
    ),
    ("  Wang Yi getroffen.  ", "exact", None),
    # fuzzy: one word changed, inflection, a word dropped
    (
        "Unsere Beziehungen sind so eng wie nie zuvor",
        "fuzzy",
        "Unsere Beziehungen sind so stabil wie nie zuvor",
    ),
    (
        "Der Handel zwischen den beiden Ländern stieg im vergangenen Jahr auf einen Rekord",
        "fuzzy",
        "Der Handel zwischen beiden Ländern stieg im vergangenen Jahr auf einen Rekordwert",
    ),
    (
        "Die beiden Minister redeten auch über die Lage in der Ukraine",
        "fuzzy",
        "Die beiden Minister sprachen auch über die Lage in der Ukraine",
    ),
    (
        "Die beiden Außenminister sprachen auch über die Lage in der Ukraine",
        "fuzzy",
        "Die beiden Minister sprachen auch über die Lage in der Ukraine",
    ),
    # none
    ("Die Bundesregierung kündigte am Freitag neue Sanktionen an.", "none", None),
    ("Putin und Xi unterzeichneten ein Abkommen über Gaslieferungen", "none", None),
    ("Lawrow traf sich am Freitag mit dem indischen Außenminister", "none", None),
    ("Lage in Syrien", "none", None),  # three words: too short for fuzzy
    ("", "none", None),
    ("   ", "none", None),
]


@pytest.mark.parametrize(("evidence", "status", "span"), CASES)
def test_ground(evidence: str, status: str, span: str | None) -> None:
    g = ground(evidence, ARTICLE)
    assert g.status == status
    if status == "none":
        assert (g.char_start, g.char_end) == (None, None)
        return
    assert g.char_start is not None and g.char_end is not None
    assert ARTICLE[g.char_start : g.char_end] == (span if span is not None else evidence.strip())


def test_grounder_assigns_repeated_evidence_in_order() -> None:
    ev = "bereit, die strategische Zusammenarbeit mit Russland weiter zu vertiefen"
    first = ARTICLE.index(ev)
    second = ARTICLE.index(ev, first + 1)
    g = Grounder(ARTICLE)
    assert g.ground(ev)[:2] == (first, first + len(ev))
    assert g.ground(ev)[:2] == (second, second + len(ev))
    assert g.ground(ev)[:2] == (first, first + len(ev))  # wraps when occurrences run out
    # other evidence is unaffected
    assert g.ground("Wang betonte")[0] == ARTICLE.index("Wang betonte")


def test_grounder_orders_normalized_and_fuzzy_repeats_too() -> None:
    g = Grounder(ARTICLE)
    ev = 'Wang betonte, China sei "bereit, die strategische Zusammenarbeit'
    a, b = g.ground(ev), g.ground(ev)
    assert a.status == b.status == "normalized"
    assert a.char_start is not None and b.char_start is not None and b.char_start > a.char_start
    fz = "Wang sagte, China sei bereit, die strategische Zusammenarbeit mit Russland"
    c, d = g.ground(fz), g.ground(fz)
    assert c.status == d.status == "fuzzy"
    assert c.char_start == a.char_start and d.char_start == b.char_start


def test_start_offset() -> None:
    ev = "Wang betonte"
    second = ARTICLE.index(ev, ARTICLE.index(ev) + 1)
    assert ground(ev, ARTICLE, start=ARTICLE.index(ev) + 1).char_start == second
    assert ground(ev, ARTICLE, start=len(ARTICLE) - 5).char_start == ARTICLE.index(ev)


def test_normalize_for_match() -> None:
    assert normalize_for_match(" „A  b“ – C\u00ad\u00adD… ") == '"a b" - cd...'
