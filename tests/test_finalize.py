"""finalize(): every draft is grounded, re-derived from its evidence, flagged or merged."""

from __future__ import annotations

from datetime import date
from typing import Any

from factx._drafts import Drafts, MeetingDraft, StatementDraft, TradeDraft, TreatyDraft
from factx._finalize import finalize
from factx._read import read_text_document
from factx._rules import tense as _tense
from factx._rules import treaty_status as _treaty_status
from factx._rules import with_proper_name as _with_proper_name
from factx._schemas import Usage
from factx._whole import chunks

TEXT = (
    "Xi und Putin telefonierten am Donnerstag. Der Handel erreichte 218,2 Milliarden US-Dollar. "
    "„Wir bleiben enge Partner“, sagte Putin. Beide unterzeichneten ein Abkommen über Gas. "
    "Das Abkommen über Gaslieferungen gilt ab sofort."
)


def _final(text: str = TEXT, **drafts: list[dict[str, Any]]) -> Any:
    doc = read_text_document(text, doc_id="t", published=date(2024, 2, 9))
    d = Drafts()
    for k, v in drafts.items():
        getattr(d, k).extend(_typed(k, x) for x in v)
    return finalize(
        doc,
        d,
        model="m",
        strategy="questions",
        prompt_version="p",
        usage=Usage(),
        errors=[],
        status="ok",
    )


_DRAFT = {"meetings": MeetingDraft, "statements": StatementDraft, "treaties": TreatyDraft,
          "trade_figures": TradeDraft}  # fmt: skip
_DEFAULTS: dict[str, Any] = {"unit": "currency", "qualifier": None, "date_text": None}


def _typed(kind: str, d: dict[str, Any]) -> Any:
    """A typed draft from the dict a test writes; "_pos" is its place in the text."""
    cls = _DRAFT[kind]
    names = set(cls.__dataclass_fields__)
    values = {k: v for k, v in {**_DEFAULTS, **d}.items() if k in names}
    return cls(**values, pos=d.get("_pos", 0))


def _figure(value: float, evidence: str) -> dict[str, Any]:
    return {
        "value": value,
        "value_text": "218,2 Milliarden US-Dollar",
        "currency": "USD",
        "period": None,
        "period_text": None,
        "metric": "bilateral trade volume",
        "parties": (),  # the parties' own check is in test_field_grounding
        "evidence": evidence,
    }


def test_grounded_facts_slice_the_text_and_pass() -> None:
    r = _final(trade_figures=[_figure(218.2e9, "Der Handel erreichte 218,2 Milliarden US-Dollar.")])
    (f,) = r.trade_figures
    assert f.alignment == "exact" and f.flags == ()
    assert r.text[f.char_start : f.char_end] == f.evidence
    assert r.validated().trade_figures == (f,)


def test_a_value_not_in_its_evidence_is_flagged_and_left_out_of_validated() -> None:
    r = _final(trade_figures=[_figure(240e9, "Der Handel erreichte 218,2 Milliarden US-Dollar.")])
    assert r.trade_figures[0].flags == ("value_not_in_evidence",)
    assert r.validated().trade_figures == ()


def test_invented_evidence_is_ungrounded_but_kept() -> None:
    draft = {
        "speaker": "Wladimir Putin",
        "quote": "Mars und Venus schließen einen Vertrag",
        "evidence": "Mars und Venus schließen einen Vertrag",
        "date": None,
        "date_text": None,
    }
    r = _final(statements=[draft])
    (s,) = r.statements
    assert s.alignment == "none" and "ungrounded" in s.flags and s.char_start is None
    assert r.validated().statements == ()


def test_a_date_not_in_its_evidence_is_flagged() -> None:
    meeting = {
        "participants": ("Xi Jinping", "Wladimir Putin"),
        "location": None,
        "kind": "phone",
        "status": "held",
        "evidence": "Xi und Putin telefonierten am Donnerstag.",
    }
    ok = _final(meetings=[{**meeting, "date": "2024-02-08", "date_text": "am Donnerstag"}])
    bad = _final(meetings=[{**meeting, "date": "2024-02-01", "date_text": "am Donnerstag"}])
    assert ok.meetings[0].flags == ()
    assert bad.meetings[0].flags == ("date_not_in_evidence",)


def test_one_meeting_told_twice_is_kept_once_with_its_date() -> None:
    base = {
        "participants": ("Xi Jinping", "Wladimir Putin"),
        "location": None,
        "kind": "phone",
        "status": "held",
        "evidence": "Xi und Putin telefonierten am Donnerstag.",
    }
    r = _final(
        meetings=[
            {**base, "date": None, "date_text": None, "_pos": 0},
            {
                **base,
                "participants": ("Wladimir Putin", "Xi Jinping"),
                "date": "2024-02-08",
                "date_text": "am Donnerstag",
                "_pos": 1,
            },
        ]
    )
    assert [m.date for m in r.meetings] == ["2024-02-08"]


def test_one_treaty_named_twice_is_kept_once() -> None:
    t = {"parties": ("China", "Russland"), "status": "signed", "date": None, "date_text": None}
    r = _final(
        treaties=[
            {
                **t,
                "name": "Abkommen über Gas",
                "evidence": "Beide unterzeichneten ein Abkommen über Gas.",
            },
            {
                **t,
                "name": "Abkommen über Gaslieferungen",
                "evidence": "Das Abkommen über Gaslieferungen gilt ab sofort.",
            },
        ]
    )
    assert [x.name for x in r.treaties] == ["Abkommen über Gas"]


def test_cues_outrank_the_model() -> None:
    assert _tense("Wang traf sich heute früh mit Lawrow.") == "held"
    assert _tense("Putin werde im Mai nach China reisen.") == "planned"
    assert _tense("Sie sprachen über die Lage, ein Besuch wird erwartet.") == "planned"
    assert _tense("Sie sprechen über die Lage.") is None
    assert _treaty_status("Russland hat seine Teilnahme am Vertrag ausgesetzt.") == "suspended"
    assert _treaty_status("China hat einen Friedensplan vorgeschlagen.") == "proposed"
    assert _treaty_status("Die Lage ist ernst.") is None


def test_chunks_cover_the_text_with_overlap() -> None:
    text = ("Satz Nummer eins ist hier. " * 400).strip()
    parts = list(chunks(text, 1000, 100))
    assert len(parts) > 5 and all(len(c) <= 1000 for _, c in parts)
    for (o1, c1), (o2, _) in zip(parts, parts[1:], strict=False):
        assert o2 < o1 + len(c1)  # overlap
        assert text[o1 : o1 + len(c1)] == c1
    assert parts[-1][0] + len(parts[-1][1]) == len(text)


def _treaty(name: str) -> dict[str, Any]:
    evidence = "Beide unterzeichneten ein Abkommen über Gas."
    return {
        "name": name, "parties": (), "status": "signed", "date": None,
        "date_text": None, "evidence": evidence, "_pos": TEXT.index(evidence),
    }  # fmt: skip


def test_a_treaty_name_made_of_its_evidence_words_passes() -> None:
    # Inflected and shortened forms of the evidence's own words.
    (t,) = _final(treaties=[_treaty("Abkommens über Gas")]).treaties
    assert t.flags == ()


def test_a_treaty_name_not_in_its_evidence_is_flagged() -> None:
    (t,) = _final(treaties=[_treaty("Abkommen über Gas und Öl zwischen Mars und Venus")]).treaties
    assert t.flags == ("name_not_in_evidence",)
    assert _final(treaties=[_treaty("Abkommen über Gas")]).validated().treaties


# Written for these tests: the suspension of New START in February 2023.
START = (
    "Russland hat die Teilnahme am letzten Abrüstungsvertrag mit Washington ausgesetzt. "
    "Am Dienstag setzte Putin den Atomvertrag New START aus. "
    "Der Pakt begrenzt die Zahl der Sprengköpfe."
)


def _suspended(name: str, sentence: str) -> dict[str, Any]:
    return {
        "name": name, "parties": ("Russland", "USA"), "status": "suspended", "date": None,
        "date_text": None, "evidence": sentence, "_pos": START.index(sentence),
    }  # fmt: skip


def test_a_name_is_extended_by_the_proper_name_that_follows_it() -> None:
    s = "Am Dienstag setzte Putin den Atomvertrag New START aus."
    assert _with_proper_name("Atomvertrag", s) == "Atomvertrag New START"
    assert _with_proper_name("Vertrag", "Der INF Vertrag ist tot.") == "Vertrag"
    assert _with_proper_name("INF-Vertrag", "Der INF-Vertrag AUKUS") == "INF-Vertrag AUKUS"
    # A party is not a name, and a lower-case word is not a proper name.
    assert _with_proper_name("Abkommen", "Das Abkommen mit den USA gilt.") == "Abkommen"
    assert _with_proper_name("Pakt", "Der Pakt begrenzt die Zahl.") == "Pakt"
    assert _with_proper_name("", s) == ""


def test_a_later_telling_that_names_the_treaty_replaces_the_first() -> None:
    first = "Russland hat die Teilnahme am letzten Abrüstungsvertrag mit Washington ausgesetzt."
    named = "Am Dienstag setzte Putin den Atomvertrag New START aus."
    r = _final(
        START,
        treaties=[_suspended("Abrüstungsvertrag", first), _suspended("Atomvertrag", named)],
    )
    (t,) = r.treaties
    assert t.name == "Atomvertrag New START"
    assert START[t.char_start : t.char_end] == named
    assert t.flags == ()


def test_a_named_treaty_is_not_replaced_by_a_later_common_noun() -> None:
    named = "Am Dienstag setzte Putin den Atomvertrag New START aus."
    later = "Russland hat die Teilnahme am letzten Abrüstungsvertrag mit Washington ausgesetzt."
    text = named + " " + later
    r = _final(
        text,
        treaties=[
            {**_suspended("Atomvertrag", named), "_pos": 0},
            {**_suspended("Abrüstungsvertrag", later), "_pos": len(named) + 1},
        ],
    )
    assert [t.name for t in r.treaties] == ["Atomvertrag New START"]


def test_a_bare_agreement_noun_refers_back_to_the_named_agreement() -> None:
    first = "Beide Minister unterzeichneten ein Abkommen über Weizenlieferungen."
    later = "Das Abkommen läuft zehn Jahre und wurde im Kreml unterzeichnet."
    other = "Ein zweites Abkommen über Häfen soll folgen."
    text = " ".join([first, later, other])

    def t(name: str, sentence: str, status: str) -> dict[str, Any]:
        return {"name": name, "parties": (), "status": status, "date": None, "date_text": None,
                "evidence": sentence, "_pos": text.index(sentence)}  # fmt: skip

    r = _final(
        text,
        treaties=[
            t("Abkommen über Weizenlieferungen", first, "signed"),
            t("Das Abkommen", later, "signed"),
            t("Abkommen", other, "planned"),  # another status: another agreement act
        ],
    )
    assert [(x.name, x.status) for x in r.treaties] == [
        ("Abkommen über Weizenlieferungen", "signed"),
        ("Abkommen", "planned"),
    ]


def test_a_dated_telling_of_an_agreement_replaces_an_undated_one() -> None:
    first = "Beide Seiten verkünden die Verlängerung des Abkommens über Weizen."
    later = "Im März vereinbarten sie die Verlängerung des Abkommens über Weizen."
    text = first + " " + later

    def t(sentence: str, date: str | None, date_text: str | None) -> dict[str, Any]:
        return {"name": "Verlängerung des Abkommens über Weizen", "parties": (),
                "status": "signed", "date": date, "date_text": date_text,
                "evidence": sentence, "_pos": text.index(sentence)}  # fmt: skip

    r = _final(text, treaties=[t(first, None, None), t(later, "2024-03", "Im März")])
    assert [(x.date, x.evidence) for x in r.treaties] == [("2024-03", later)]
