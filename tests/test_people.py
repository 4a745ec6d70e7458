"""People and organisations found by the shape of the words, not by a list of names.

Every sentence here was written for these tests; none of the names is in the alias table.
"""

from __future__ import annotations

import pytest

from factx import _people
from factx._people import find_entities, is_common_word, mentioned, people


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # A role noun before the name, also as the tail of a compound, also feminine.
        ("Die Landwirtschaftsministerin Gerda Pfisterer reiste ab.", "Gerda Pfisterer"),
        ("Konzernsprecher Malte Quandtberg bestätigte den Verkauf.", "Malte Quandtberg"),
        ("Der Trainer Ilja Worobjow war zufrieden.", "Ilja Worobjow"),
        # A given name from the lexicon of many countries, two and three words.
        ("Am Abend sprach Recep Tayyip Demirkaya in Ankara.", "Recep Tayyip Demirkaya"),
        ("Gestern widersprach Jamieson Clarke der Darstellung.", "Jamieson Clarke"),
        # A surname that is also a German word, right after a given name.
        ("Die Laudatio hielt Helga Schwarzer vor vollem Saal.", "Helga Schwarzer"),
        # A name particle and an initial inside the name.
        ("Der Jurist Pieter van Osterhout widersprach.", "Pieter van Osterhout"),
        ("Auch Franklin D. Marrow kam zu Wort.", "Franklin D. Marrow"),
        # Several given names and a particle: a given name next to the particle does not
        # start another person ("Lula", "Silva", "Paula" are given names too).
        ("Die Ministerin Ana Paula dos Santos widersprach.", "Ana Paula dos Santos"),
        ("Gestern reiste Luiz Inácio Lula da Silva ab.", "Luiz Inácio Lula da Silva"),
        # A Chinese family name first.
        ("In Peking empfing Zhou Minghai die Delegation.", "Zhou Minghai"),
        # Words the German lexicon does not know, side by side, and the surname told again.
        (
            "Die Stiftung ehrte Ayodele Okonkwo-Baptiste. Okonkwo-Baptiste dankte.",
            "Ayodele Okonkwo-Baptiste",
        ),
        # A role noun in a case form or a compound.
        ("Sie sprachen mit dem Top-Diplomaten Zhou Minghai.", "Zhou Minghai"),
    ],
)
def test_a_person_is_found_by_the_shape_of_the_words(text: str, name: str) -> None:
    assert name in people(text)


@pytest.mark.parametrize(
    ("text", "not_a_name"),
    [
        # A common noun after a Chinese family name is not part of a name.
        ("Xi Entspannung war das Wort des Tages, sagte der Sprecher.", "Xi Entspannung"),
        # A compound common noun before a name is not part of it.
        ("Der Chef des Softwareunternehmens Kevin Dorfler sprach.", "Softwareunternehmens Kevin"),
        # Two people named side by side by their surnames are two people.
        ("Pfisterer traf Malte Quandtberg. Danach sprach Gerda Pfisterer Quandtberg an.",
         "Pfisterer Quandtberg"),
        # A place name in the genitive after a common noun is no person.
        ("Der Hauptstandort Kölns bleibt erhalten.", "Hauptstandort Kölns"),
        # Unknown words once, never repeated, are no person ("Wall Street").
        ("Das berichtete das Blatt Harbour Gazette am Montag.", "Harbour Gazette"),
        # A given name after a Chinese family name starts another person's name.
        ("Danach traf Zhou Nikolai Pawlenko in Minsk.", "Zhou Nikolai Pawlenko"),
    ],
)  # fmt: skip
def test_common_words_are_not_glued_to_names(text: str, not_a_name: str) -> None:
    assert not_a_name not in people(text)


def test_a_common_word_is_never_a_known_persons_surname() -> None:
    # "Gang" is a German noun: no person called "… Gang" is in this text.
    text = "Der Gang der Verhandlungen war zäh, sagte der Sprecher."
    assert people(text) == []
    assert is_common_word("Gang") and not is_common_word("Quandtberg")


@pytest.mark.parametrize(
    ("text", "org"),
    [
        ("Das Umweltministerium widersprach der Darstellung.", "Umweltministerium"),
        ("Die Staatsanwaltschaft ermittelt weiter.", "Staatsanwaltschaft"),
        ("Die KPÖ lehnte den Antrag ab.", "KPÖ"),
        ("Nach Angaben des Kreml war das Gespräch offen.", "Kreml"),
        ("Das Berliner Landgericht wies die Klage ab.", "Berliner Landgericht"),
    ],
)
def test_bodies_that_can_speak_are_found_by_head_noun_or_acronym(text: str, org: str) -> None:
    found = {e.name: e.kind for e in find_entities(text)}
    assert found.get(org) == "org"


def test_an_adverb_or_a_compound_with_another_head_is_no_body() -> None:
    text = "Insgesamt war die Zwangsheirat ein Thema der Anhörung."
    assert [e for e in find_entities(text) if e.kind == "org"] == []


def test_a_surname_alone_or_in_the_genitive_mentions_the_person() -> None:
    text = "Konzernsprecher Malte Quandtberg bestätigte den Verkauf. Quandtbergs Team schwieg."
    (who,) = find_entities(text)
    assert [e.name for e in mentioned("Quandtberg schwieg.", [who])] == ["Malte Quandtberg"]
    assert mentioned("Quandtbergs Team.", [who]) == [who]
    assert mentioned("Quandtbergs Team.", [who], genitive=False) == []


def test_a_one_word_alias_belongs_to_the_namesake_the_article_names() -> None:
    # "Wang" folds to Wang Yi, unless the article names another Wang.
    assert people("Außenamtssprecher Wang Wenbin sagte, Wang sehe keinen Grund.") == ["Wang Wenbin"]
    assert people("Wang traf am Montag die Delegation.") == ["Wang Yi"]


def test_a_misspelt_repeat_of_a_name_is_the_same_person() -> None:
    text = "Xi Jinping empfing die Gäste. Später dankte Xi Jiinping den Organisatoren."
    assert people(text) == ["Xi Jinping"]


def test_a_name_in_one_transliteration_has_its_other_spellings() -> None:
    from factx._people import forms

    # The alias table's row, found by the person, not by a shared family name.
    assert "Patruschew" in forms("Nikolai Patrushev")
    assert "Wang Yi" not in forms("Wang Wenbin")


@pytest.mark.parametrize(
    ("text", "form", "genitive", "expected"),
    [
        ("Gestern sprach Lindqvist in Tallinn.", "Lindqvist", True, 15),
        ("Lindqvists Reise nach Tallinn", "Lindqvist", True, 0),
        ("Lindqvists Reise nach Tallinn", "Lindqvist", False, -1),
        ("Die Lindqvist-Stiftung lud ein.", "Lindqvist", True, -1),  # part of a compound
        ("Frau Lindqvistová sprach.", "Lindqvist", True, -1),  # part of a longer word
        ("Niemand sprach in Tallinn.", "Lindqvist", True, -1),  # absent
        ("Mehr-Lindqvist und dann Lindqvist allein.", "Lindqvist", True, 24),
    ],
)
def test_find_word_finds_a_form_only_as_a_whole_word(
    text: str, form: str, genitive: bool, expected: int
) -> None:
    assert _people.find_word(text, form, genitive=genitive) == expected
    # The substring test in front of the pattern changes no answer.
    m = _people.word_pattern(form, genitive=genitive).search(text)
    assert (m.start() if m else -1) == expected
