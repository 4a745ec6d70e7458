"""What the words settle, rule class by rule class, on sentences written for these tests."""

from __future__ import annotations

import pytest

from factx._rules import counted_treaties, head_noun, kind, proper_treaty, tense, treaty_status


@pytest.mark.parametrize(
    ("sentence", "status"),
    [
        # A modal verb with a signing verb is a plan, whatever the signing verb's tense.
        ("Beide Länder wollen im Herbst ein Abkommen über Weizen unterzeichnen.", "planned"),
        ("Der Vertrag soll im Mai unterzeichnet werden.", "planned"),
        ("Dabei wird auch ein Abkommen über Häfen unterzeichnet werden.", "planned"),
        ("Ein neues Handelsabkommen ist geplant.", "planned"),
        # Past signing.
        ("Die Minister unterzeichneten am Montag ein Abkommen über Weizen.", "signed"),
        ("Man einigte sich auf eine Vereinbarung zum Bahnverkehr.", "signed"),
        # In force, suspended (also as a separable verb), rejected, proposed.
        ("Der Vertrag trat im Jahr 2003 in Kraft.", "in_force"),
        ("Das Land setzte seine Teilnahme an dem Abkommen im Frühjahr aus.", "suspended"),
        ("Das Parlament hat den Vertrag abgelehnt.", "rejected"),
        ("Die Regierung legte einen Friedensplan vor, der einen Waffenstillstand vorschlägt.",
         None),
        ("Die Regierung hat einen Friedensplan vorgeschlagen.", "proposed"),
    ],
)  # fmt: skip
def test_treaty_status_from_modal_and_tense_cues(sentence: str, status: str | None) -> None:
    assert treaty_status(sentence) == status


@pytest.mark.parametrize(
    ("sentence", "bundle"),
    [
        ("Beide Seiten unterzeichneten rund 40 Abkommen.", "rund 40 Abkommen"),
        ("Insgesamt 12 Verträge wurden geschlossen.", "Insgesamt 12 Verträge"),
        ("Dabei sollen mehrere Vereinbarungen unterzeichnet werden.", "mehrere Vereinbarungen"),
        ("Das Abkommen gilt über Jahre.", None),
    ],
)
def test_a_counted_bundle_of_agreements_is_one_item(sentence: str, bundle: str | None) -> None:
    assert counted_treaties(sentence) == bundle


def test_proper_names_of_agreements_are_acronyms_after_a_treaty_noun() -> None:
    assert (
        proper_treaty("Beide setzten den Abrüstungsvertrag KORA aus.") == "Abrüstungsvertrag KORA"
    )
    assert proper_treaty("Das Abkommen mit den USA gilt.") is None
    assert head_noun("Gasvertrag") == "vertrag" and head_noun("das Abkommen") == "abkommen"


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Die beiden telefonierten am Abend.", "phone"),
        ("Per Videobrücke eröffneten sie das Werk.", "video"),
        ("Sie trafen sich in der Hauptstadt.", "in_person"),
    ],
)
def test_kind_of_meeting_from_cue_words(sentence: str, expected: str) -> None:
    assert kind(sentence) == expected


def test_tense_from_cue_words() -> None:
    assert tense("Die Minister trafen sich gestern.") == "held"
    assert tense("Ein Besuch in der Hauptstadt ist für den Herbst geplant.") == "planned"
    assert tense("Im kommenden Monat will der Präsident nach Rom reisen.") == "planned"


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Xi rief Putin am Montag an.", "phone"),
        ("Er rief zur Ruhe auf.", "in_person"),
        ("Ein Brief kam gestern an.", "in_person"),
    ],
)
def test_a_call_is_told_by_a_separable_verb_not_by_any_rief(sentence: str, expected: str) -> None:
    assert kind(sentence) == expected
