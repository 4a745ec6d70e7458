"""What the words settle, rule class by rule class, on sentences written for these tests."""

from __future__ import annotations

from datetime import date

import pytest

from factx._rules import (
    counted_treaties,
    head_noun,
    kind,
    period_of,
    proper_treaty,
    tense,
    treaty_status,
)


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
        # A signing told with its entry into force is a signing.
        ("Der Vertrag wurde 2001 unterzeichnet und trat 2002 in Kraft.", "signed"),
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


PUB = date(2024, 7, 12)


@pytest.mark.parametrize(
    ("sentence", "amount", "before", "previous", "expected"),
    [
        # Each figure takes the year of its own clause.
        ("2021 lag der Umsatz bei 40,5 Milliarden Euro, 2022 bei 51,2 Milliarden Euro.",
         "51,2", "", None, ("2022", False)),
        # A date the figure is compared with is not its period.
        ("Die Einfuhren stiegen auf 8,1 Milliarden Euro und damit schneller als im Mai.",
         "8,1", "Im Juni wuchs der Handel kräftig.", None, ("2024-06", True)),
        # A list of figures names its period once: the figure before passes it on.
        ("Die Ausfuhren stiegen auf 7,7 Milliarden Euro.", "7,7", "", "2023", ("2023", True)),
        # A reporting day is no period; the month told before is.
        ("Der Umsatz betrug 3,3 Milliarden Euro, wie das Amt am Freitag mitteilte.",
         "3,3", "Der Handel erreichte im Mai einen Höchststand.", None, ("2024-05", True)),
        # A day in the clause alone stands for its month (a contract signed "heute").
        ("Heute haben wir einen Vertrag über 2,5 Milliarden Euro unterzeichnet.",
         "2,5", "", None, ("2024-07", False)),
        ("Der Umsatz betrug 3,3 Milliarden Euro.", "3,3", "", None, (None, False)),
    ],
)  # fmt: skip
def test_the_period_of_a_figure(
    sentence: str, amount: str, before: str, previous: str | None, expected: tuple[str | None, bool]
) -> None:
    period, _, from_context = period_of(
        sentence, sentence.index(amount), PUB, before=before, previous=previous
    )
    assert (period, from_context) == expected
