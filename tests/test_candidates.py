"""Deterministic finders on short German phrasings written for these tests."""

from __future__ import annotations

import pytest

from factx._candidates import (
    context_around,
    expand_name,
    find_candidates,
    mentions,
    people,
    quotes,
    sentences,
)


def test_sentences_keep_offsets_and_skip_ordinals_and_abbreviations() -> None:
    text = (
        "Am 21. Februar traf Wang Yi in Moskau ein. Er sprach u.a. über Handel.\n\n"
        "„Wir sind bereit.“ Danach reiste er ab!"
    )
    got = sentences(text)
    assert [s.text for s in got] == [
        "Am 21. Februar traf Wang Yi in Moskau ein.",
        "Er sprach u.a. über Handel.",
        "„Wir sind bereit.“",
        "Danach reiste er ab!",
    ]
    for s in got:
        assert text[s.start : s.end] == s.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Er sagte: „Die Beziehungen sind so gut wie nie.“",
            ["Die Beziehungen sind so gut wie nie."],
        ),
        (
            'Sie sprach von "einer neuen Ära der Zusammenarbeit".',
            ["einer neuen Ära der Zusammenarbeit"],
        ),
        ("Die „grenzenlose“ Freundschaft hält.", []),  # scare quote: fewer than four words
        (
            "Ein »Dialog über eurasische Sicherheit« wurde vereinbart.",
            ["Dialog über eurasische Sicherheit"],
        ),
    ],
)
def test_quotes_need_four_words(text: str, expected: list[str]) -> None:
    assert [q.text for q in quotes(text)] == expected


def test_people_found_by_list_role_and_first_name_and_not_glued() -> None:
    text = (
        "Außenminister Sergej Lawrow empfing Wang Yi. Danach sprach Wang Lawrow an. "
        "Die Finanzministerin Janet Yellen reiste ab, sagte Ho Tiang Bun, ein Professor."
    )
    found = people(text)
    assert {"Sergej Lawrow", "Wang Yi", "Janet Yellen", "Ho Tiang Bun"} <= set(found)
    assert "Wang Lawrow" not in found


def test_expand_name_prefers_the_full_name_in_the_article() -> None:
    known = ["Sergej Lawrow", "Wang Yi", "Xi Jinping"]
    assert expand_name("Lawrow", known) == "Sergej Lawrow"
    assert expand_name("Xi Jinping", known) == "Xi Jinping"
    assert expand_name("Olaf Scholz", known) == "Olaf Scholz"


def test_candidates_find_amounts_and_cues() -> None:
    text = (
        "Putin und Xi trafen sich am Donnerstag in Peking. Sie unterzeichneten ein Abkommen. "
        "Der Handel erreichte 240 Milliarden US-Dollar. Das Wetter war gut."
    )
    c = find_candidates(text)
    assert [a.amount for a in c.amounts] == [(240_000_000_000, "USD")]
    assert [s.text[:12] for s in c.meeting_sentences] == ["Putin und Xi"]
    assert [s.text[:12] for s in c.treaty_sentences] == ["Sie unterzei"]
    ctx = context_around(text, c.sentences, c.treaty_sentences[0].start, c.treaty_sentences[0].end)
    assert ctx.text.startswith("Putin und Xi") and ctx.text.endswith("Abkommen.")


def test_mentions_use_name_forms_never_a_given_name_or_a_genitive() -> None:
    people_ = ["Qin Gang", "Wladimir Putin", "Xi Jinping"]
    assert mentions("Der Gang der Dinge war zäh.", people_) == []  # a given name, a noun
    assert mentions("Qin reiste ab.", people_) == ["Qin Gang"]  # the family name first
    assert mentions("Putins Sprecher traf Xi.", people_) == ["Xi Jinping"]


@pytest.mark.parametrize(
    "text",
    [
        "Die Initiative heißt „New Overland Grain Corridor“ und ist neu.",
        "Er leitet die „Fédération Internationale de Football Association“ seit Jahren.",
    ],
)
def test_a_title_in_quotation_marks_is_no_quote(text: str) -> None:
    assert quotes(text) == []


def test_speech_in_quotation_marks_is_a_quote_even_with_many_nouns() -> None:
    text = "Er sagte: „Die Bahn Und Post Arbeiten gut zusammen.“"
    assert [q.text for q in quotes(text)] == ["Die Bahn Und Post Arbeiten gut zusammen."]


@pytest.mark.parametrize(
    ("sentence", "found"),
    [
        # German capitalises nouns: a phrase with a verb or a preposition is speech.
        ("Sie nannte es „Vielfalt ist Programm in Brandenburg“ am Montag.",
         ["Vielfalt ist Programm in Brandenburg"]),
        ("Er warnte vor der „Schnüffelei in den Klassenzimmern“ der Stadt.",
         ["Schnüffelei in den Klassenzimmern"]),
        # Names of things stay names: English title case, or joined by "der", "für".
        ("Sie eröffneten den „Northern Sea Freight Corridor“ im Mai.", []),
        ("Er sprach am „Tag der Deutschen Einheit“ in Halle.", []),
        # A German opening mark closed by a typewriter one.
        ('„Das ist eine Zahl, die sonst keiner schafft", sagte sie.',
         ["Das ist eine Zahl, die sonst keiner schafft"]),
    ],
)  # fmt: skip
def test_quotes_and_names_of_things(sentence: str, found: list[str]) -> None:
    from factx._candidates import quotes

    assert [q.text for q in quotes(sentence)] == found
