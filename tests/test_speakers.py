"""Who said a quote: what the sentence settles, and whom the model may choose otherwise.

Sentences written for these tests.
"""

from __future__ import annotations

import pytest

from factx._candidates import find_candidates, non_fact_lines
from factx._people import find_entities
from factx._speakers import settled_speaker

CAST = (
    "Die Finanzministerin Gerda Pfisterer und Konzernsprecher Malte Quandtberg "
    "trafen sich. Das Umweltministerium war nicht dabei."
)


@pytest.mark.parametrize(
    ("sentence", "quote", "speaker"),
    [
        # A verb of speech after the quote, and one person named.
        ("„Wir bleiben bei unserem Kurs“, sagte Pfisterer am Montag.",
         "Wir bleiben bei unserem Kurs", "Gerda Pfisterer"),
        # A verb before the quote, with a colon.
        ("Quandtberg erklärte: „Der Verkauf ist abgeschlossen.“",
         "Der Verkauf ist abgeschlossen.", "Malte Quandtberg"),
        # A colon alone introduces the quote.
        ("Dazu Pfisterer: „Das Geld ist gut angelegt.“",
         "Das Geld ist gut angelegt.", "Gerda Pfisterer"),
        # "laut …" attributes without a verb.
        ("Laut Quandtberg ist „die Sache damit für uns erledigt“.",
         "die Sache damit für uns erledigt", "Malte Quandtberg"),
        # A body speaks when no person is named.
        ("„Die Werte liegen unter der Grenze“, teilte das Umweltministerium mit.",
         "Die Werte liegen unter der Grenze", "Umweltministerium"),
        # Two people: the words do not settle it; the model is asked.
        ("„Das ist ein fairer Preis“, sagte Pfisterer zu Quandtberg.",
         "Das ist ein fairer Preis", None),
        # A pronoun speaks; the named body is only the source.
        ("„Wir rechnen mit mehr Aufträgen“, sagte sie der Agentur des Umweltministeriums.",
         "Wir rechnen mit mehr Aufträgen", None),
        # No cue of speech.
        ("„Ein Jahr des Aufbruchs“ stand über Pfisterers Bericht.",
         "Ein Jahr des Aufbruchs", None),
        # A genitive owns, it does not speak.
        ("„Ein Jahr des Aufbruchs“ nannte Quandtberg Pfisterers Bericht.",
         "Ein Jahr des Aufbruchs", "Malte Quandtberg"),
    ],
)  # fmt: skip
def test_the_sentence_settles_the_speaker_or_leaves_it_open(
    sentence: str, quote: str, speaker: str | None
) -> None:
    entities = find_entities(CAST + " " + sentence)
    got = settled_speaker(sentence, quote, entities)
    assert (got.name if got else None) == speaker


def test_a_person_beside_a_body_is_the_speaker() -> None:
    sentence = "„Wir prüfen das genau“, sagte Pfisterer nach einem Treffen im Umweltministerium."
    got = settled_speaker(sentence, "Wir prüfen das genau", find_entities(CAST + " " + sentence))
    assert got is not None and got.name == "Gerda Pfisterer"


def test_an_open_quote_names_whom_the_model_may_choose() -> None:
    text = CAST + "\n„Das ist ein fairer Preis“, sagte Pfisterer zu Quandtberg."
    (frame,) = find_candidates(text).quote_frames
    assert frame.speaker is None
    assert {e.name for e in frame.in_sight} >= {"Gerda Pfisterer", "Malte Quandtberg"}


def test_quotes_in_headings_and_credit_lines_are_no_statements() -> None:
    text = (
        "Pfisterer: „Wir bleiben bei unserem Kurs“\n"
        "Die Finanzministerin Gerda Pfisterer sprach am Montag.\n"
        "Foto: Malte Quandtberg / Agentur\n"
        "„Das Geld ist gut angelegt“, sagte Pfisterer."
    )
    skipped = [s.text for s in non_fact_lines(text)]
    assert skipped == [
        "Pfisterer: „Wir bleiben bei unserem Kurs“",
        "Foto: Malte Quandtberg / Agentur",
    ]
    cand = find_candidates(text)
    assert [f.quote for f in cand.quote_frames] == ["Das Geld ist gut angelegt"]


# ------------------------------------------------------------------ "sagte er", "Sie warnte"

PAIR = (
    "Der Minister Anton Keller traf am Montag die Abgeordnete Clara Hufnagel in Kasan. "
    "Beide sprachen über den Hafen."
)


@pytest.mark.parametrize(
    ("quote_sentence", "speaker"),
    [
        # The first person named in the nearest sentence that names one: the subject.
        ("„Der Hafen wird bis zum Sommer fertig“, sagte er.", "Anton Keller"),
        # "sie" is not Anton: his given name says so.
        ("Sie warnte: „Der Hafen wird teurer als geplant.“", "Clara Hufnagel"),
        # Several people: nobody in particular.
        ("„Der Hafen wird bis zum Sommer fertig“, sagten sie.", None),
    ],
)
def test_a_pronoun_speaks_for_the_person_named_before(
    quote_sentence: str, speaker: str | None
) -> None:
    text = f"{PAIR}\n\n{quote_sentence}"
    (frame,) = find_candidates(text).quote_frames
    assert (frame.speaker.name if frame.speaker else None) == speaker


def test_a_caption_is_no_antecedent_of_a_pronoun() -> None:
    text = (
        "Der Minister Anton Keller sprach am Montag in Kasan über den Hafen.\n\n"
        "Der Gouverneur Rustam Ilgisow und sein Stab auf dem Weg zum Hafen von Kasan am Montag\n\n"
        "„Der Hafen wird bis zum Sommer fertig“, sagte er."
    )
    (frame,) = find_candidates(text).quote_frames
    assert frame.speaker is not None and frame.speaker.name == "Anton Keller"


@pytest.mark.parametrize(
    ("text", "speaker"),
    [
        # An outlet by its title in quotation marks, right after a verb of printing.
        ("Die Finanzministerin Gerda Pfisterer sprach am Montag.\n\n„Der Markt wächst schneller "
         "als erwartet“, schreibt die „Handelspost“.", "Handelspost"),
        # The line before ends with a colon: it introduces the quote on the next line.
        ("Die Finanzministerin Gerda Pfisterer sieht darin eine Bestätigung:\n„Das Geld ist gut "
         "angelegt, und das bleibt so.“", "Gerda Pfisterer"),
        # A role noun in a compound ("Medienunternehmer") introduces an unknown name.
        ("Der Medienunternehmer Wuttikorn Pradabsin rief am Abend aus: „Wir geben nicht auf, "
         "niemals!“", "Wuttikorn Pradabsin"),
        # "nach Auffassung des …": an attribution without a verb of speech.
        ("Nach Auffassung des Fraktionschefs Arnold Wiesinger sei es „völlig untragbar, so "
         "weiterzumachen“.", "Arnold Wiesinger"),
        # A given name written with an accent the name lexicon spells without.
        ("Die Agentur zitiert dazu Néstor Villaroel mit diesen Worten: „Diese Kredite helfen "
         "niemandem mehr.“", "Néstor Villaroel"),
    ],
)  # fmt: skip
def test_more_frames_that_settle_the_speaker(text: str, speaker: str) -> None:
    (frame,) = find_candidates(text).quote_frames
    assert frame.speaker is not None and frame.speaker.name == speaker


def test_an_outlet_addressed_is_no_speaker() -> None:
    # "sagte … der „Handelspost“": the paper is whom she told it to.
    text = (
        "Die Finanzministerin Gerda Pfisterer sprach am Montag.\n\n„Der Markt wächst schneller "
        "als erwartet“, sagte Pfisterer der „Handelspost“."
    )
    (frame,) = find_candidates(text).quote_frames
    assert frame.speaker is not None and frame.speaker.name == "Gerda Pfisterer"
