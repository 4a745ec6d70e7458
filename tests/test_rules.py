"""What the words settle, rule class by rule class, on sentences written for these tests."""

from __future__ import annotations

import re
from datetime import date

import pytest

from factx._rules import (
    carries_period,
    counted_treaties,
    deadline,
    direction,
    head_noun,
    kind,
    meeting_place,
    meeting_status,
    metric_of_label,
    period_of,
    proper_treaty,
    tense,
    tense_by_date,
    trade_metric,
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
    ("sentence", "status"),
    [
        # Words in quotation marks are the speaker's: the report's tense is outside them.
        ("Die Ministerin traf ihn gestern und sagte: „Wir werden das fortsetzen.“", "held"),
        ("Er reiste ab, als beide erklärten, »man werde sich wiedersehen«.", "held"),
        ("„Wir trafen uns oft“, sagte sie, ein Besuch in Rom sei geplant.", "planned"),
        # Both kinds of cue: the one nearest the meeting word.
        ("Die Reise fand statt, nachdem ein Gipfeltreffen im Mai geplant wurde.", "planned"),
        ("Geplant war wenig, doch sie trafen sich am Abend.", "held"),
    ],
)
def test_the_reports_tense_is_outside_quotes_and_nearest_the_meeting(
    sentence: str, status: str
) -> None:
    assert tense(sentence) == status


@pytest.mark.parametrize(
    ("iso", "status"),
    [
        ("2024-03-04", "held"),
        ("2024-03-06", "planned"),
        ("2024-02", "held"),
        ("2024-04", "planned"),
        ("2024-03", None),  # the article's own month: either
        ("2024-03-05", None),  # the article's own day: either
        ("2023", "held"),
        (None, None),
    ],
)
def test_a_meeting_dated_before_the_article_was_held(iso: str | None, status: str | None) -> None:
    assert tense_by_date(iso, date(2024, 3, 5)) == status


def test_a_meetings_status_from_words_then_date_then_held() -> None:
    published = date(2024, 3, 5)
    assert meeting_status("Sie sollen sich am 1. März treffen.", "2024-03-01", published) == (
        "planned"  # the words outrank the date
    )
    assert meeting_status("Sie treffen sich am 9. März.", "2024-03-09", published) == "planned"
    assert meeting_status("Sie treffen sich am 1. März.", "2024-03-01", published) == "held"
    assert meeting_status("Bei dem Treffen sagte sie nichts.", None, published) == "held"


@pytest.mark.parametrize(
    ("sentence", "place"),
    [
        ("Die Premiers trafen sich am Montag in Oslo.", "Oslo"),
        ("Bei einem Treffen im Kreml sagte er wenig.", "Kreml"),
        ("Sie reiste zu Gesprächen nach Warschau.", "Warschau"),
        ("Das Gipfeltreffen findet in der Schweiz statt.", "Schweiz"),
        # The place nearest the meeting word, not the first one named after "in".
        ("Sie sprach über den Streit in der Türkei. Beim Gipfel in Oslo lobte sie ihn.", "Oslo"),
        # A place named otherwise is no meeting's place.
        ("Ein Kreml-Sprecher sagte, die beiden würden sich bald treffen.", None),
        ("Sie sprachen über die Beziehungen zu Russland.", None),
    ],
)
def test_a_meetings_place_is_the_one_after_in_nearest_the_meeting(
    sentence: str, place: str | None
) -> None:
    assert meeting_place(sentence) == place


@pytest.mark.parametrize(
    "sentence",
    [
        "Er bestätigte das während ihres Treffens am Mittwoch.",
        "Während des einstündigen Telefongesprächs ging es um Gas.",
        "Am Rande des Gipfels sprachen beide kurz.",
    ],
)
def test_a_talk_noun_in_the_genitive_is_a_meeting_word(sentence: str) -> None:
    from factx._rules import MET

    assert MET.search(sentence)


@pytest.mark.parametrize(
    ("sentence", "status"),
    [
        # Every form of a meeting verb is a meeting cue; its past forms say it was held.
        ("Die Kanzlerin ist am Montag zu Gesprächen nach Warschau gereist.", "held"),
        ("Die beiden Premiers haben am Dienstag in Oslo beraten.", None),
        ("Im Mai will sie erneut mit ihm in Rom zusammentreffen.", "planned"),
        ("Die Präsidenten empfingen die Delegation in Wien.", "held"),
        ("Die Minister verhandelten bis in die Nacht.", "held"),
    ],
)
def test_each_meeting_verb_in_all_its_forms(sentence: str, status: str | None) -> None:
    from factx._rules import MET

    assert MET.search(sentence)
    assert tense(sentence) == status


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
        # A target's deadline told before is no period of the figures after it; a range is.
        ("Im ersten Quartal lag er bei 60 Milliarden Euro.", "60",
         "Beide wollen den Handel bis 2030 auf 300 Milliarden Euro steigern.", None,
         (None, False)),
        ("Zuletzt lag er bei 60 Milliarden Euro.", "60",
         "Der Handel wuchs von 2020 bis 2023 kräftig.", None, ("2023", True)),
    ],
)  # fmt: skip
def test_the_period_of_a_figure(
    sentence: str, amount: str, before: str, previous: str | None, expected: tuple[str | None, bool]
) -> None:
    period, _, from_context = period_of(
        sentence, sentence.index(amount), PUB, before=before, previous=previous
    )
    assert (period, from_context) == expected


# Trade figures: metric, direction, target and deadline ----------------------------------

_FIGURE = re.compile(r"\d+(?:,\d+)? Milliarden")


def _typed(sentence: str, nth: int = 0) -> tuple[str | None, tuple[str, str] | None]:
    m = list(_FIGURE.finditer(sentence))[nth]
    metric = trade_metric(sentence, m.start(), m.end())
    return metric, direction(sentence, m.start(), metric or "", ("China", "Russland"))


@pytest.mark.parametrize(
    ("sentence", "nth", "metric", "flow"),
    [
        # Exports and imports, with the flow from the prepositions, a possessive or an
        # adjective of origin; a side the words leave out is the other party.
        ("Chinas Ausfuhren nach Russland kletterten auf 8,1 Milliarden Dollar.", 0, "exports",
         ("China", "Russland")),
        ("Die Lieferungen aus Russland, die Einfuhren, lagen bei 9,4 Milliarden Dollar.", 0,
         "imports", ("Russland", "China")),
        ("Moskaus Exporte in die Volksrepublik erreichten 12 Milliarden Euro.", 0, "exports",
         ("Russland", "China")),
        ("Die Importe der Volksrepublik sanken auf 7,7 Milliarden Dollar.", 0, "imports",
         ("Russland", "China")),
        ("Der Import chinesischer Autos summierte sich auf 3,3 Milliarden Dollar.", 0,
         "imports", ("China", "Russland")),
        ("Davon gingen 4 Milliarden Dollar auf Gasexporte nach China zurück.", 0, "exports",
         ("Russland", "China")),
        # A total: the trade between the two, in its many names; no direction.
        ("Der bilaterale Warenaustausch stieg auf 30 Milliarden Dollar.", 0, "trade_volume", None),
        ("Der Außenhandelsumsatz beider Länder betrug 41 Milliarden Dollar.", 0,
         "trade_volume", None),
        # The word nearest the amount decides when a sentence tells several figures.
        ("Der Handel erreichte 21 Milliarden Dollar und die Exporte 11 Milliarden Dollar.", 0,
         "trade_volume", None),
        ("Der Handel erreichte 21 Milliarden Dollar und die Exporte 11 Milliarden Dollar.", 1,
         "exports", None),  # no country named: the direction stays open
        # A compound is what its last part says; "verhandeln" is no trade.
        ("Sie schlossen ein Handelsabkommen über 6 Milliarden Dollar.", 0, "contract_value",
         None),
        ("Ein Liefervertrag im Wert von 2 Milliarden Euro wurde unterzeichnet.", 0,
         "contract_value", None),
        ("Die Minister verhandelten über 5 Milliarden Dollar an Krediten.", 0, None, None),
        ("Russische Firmen investierten 1,2 Milliarden Dollar in China.", 0, "investment",
         None),
        ("Der Bau der Brücke kostete 3 Milliarden Rubel.", 0, "cost", None),
        # Targets: a target noun near the amount, a verb of aiming, or a modal verb or "zu"
        # with a verb of raising. A past rise is a result; "erzielte" is not "Ziel".
        ("Beide wollen den Handel bis 2030 auf 300 Milliarden Dollar erhöhen.", 0, "target",
         None),
        ("Das Ziel, den Umsatz auf 250 Milliarden Dollar zu steigern, gilt weiter.", 0,
         "target", None),
        ("Moskau strebt ein Handelsvolumen von 280 Milliarden Dollar an.", 0, "target", None),
        ("Peking peilt 280 Milliarden Dollar Handel an, angestrebt bis 2026.", 0, "target",
         None),
        ("Der Handel stieg 2022 auf 190 Milliarden Dollar.", 0, "trade_volume", None),
        ("Der Handel erzielte 2022 einen Rekord von 190 Milliarden Dollar.", 0, "trade_volume",
         None),
        ("Die Exporte übertrafen das Handelsziel von 100 Milliarden Dollar.", 0, "target", None),
    ],
)  # fmt: skip
def test_a_figures_metric_and_direction_from_its_words(
    sentence: str, nth: int, metric: str | None, flow: tuple[str, str] | None
) -> None:
    assert _typed(sentence, nth) == (metric, flow)


@pytest.mark.parametrize(
    ("sentence", "period", "text"),
    [
        ("Der Handel soll bis 2024 auf 200 Milliarden Dollar steigen.", "..2024", "bis 2024"),
        ("Das Ziel von 90 Milliarden Dollar gilt bis Ende 2027.", "..2027", "bis Ende 2027"),
        ("Sie setzten für 2025 ein Ziel von 90 Milliarden Dollar.", "..2025", "für 2025"),
        ("Das Ziel von 90 Milliarden Dollar im Jahr 2026 bleibt.", "..2026", "2026"),
        ("Das Ziel von 90 Milliarden Dollar bleibt.", None, None),
    ],
)
def test_a_targets_deadline_is_its_period(sentence: str, period: str | None, text: str) -> None:
    start = _FIGURE.search(sentence)
    assert start is not None
    assert deadline(sentence, start.start()) == (period, text)


@pytest.mark.parametrize(
    ("label", "metric"),
    [
        ("bilateral trade volume", "trade_volume"),
        ("China exports to Russia", "exports"),
        ("China imports from Russia", "imports"),
        ("grain supply contract value", "contract_value"),
        ("value of nuclear energy agreements package", "contract_value"),
        ("trade target for 2024", "target"),
        ("foreign direct investment", "investment"),
        ("gas price", "price"),
        ("construction cost", "cost"),
        ("number of tourists", "other"),
        ("exports", "exports"),  # the model's own answers
        ("Handelsvolumen", "trade_volume"),
    ],
)
def test_a_free_text_metric_by_its_words(label: str, metric: str) -> None:
    assert metric_of_label(label) == metric


def test_a_target_passes_no_period_on() -> None:
    assert not carries_period("Sie wollen den Handel bis 2030 auf 300 Milliarden Euro steigern.",
                              "300 Milliarden Euro")  # fmt: skip
    assert carries_period("Der Handel stieg 2023 auf 240 Milliarden Euro.", "240 Milliarden Euro")


@pytest.mark.parametrize(
    ("sentence", "met"),
    [
        ("Sie sprach auf einer Pressekonferenz mit ihrem polnischen Amtskollegen Jan Nowak.", True),
        ("Er trat gemeinsam mit seinem Gegenüber aus Oslo vor die Presse.", True),
        # A counterpart criticised or named is not a counterpart met.
        ("Er kritisierte seinen Amtskollegen Jan Nowak scharf.", False),
        ("Die Amtskollegen der Minister waren nicht eingeladen.", False),
    ],
)
def test_side_by_side_with_a_counterpart_is_a_meeting(sentence: str, met: bool) -> None:
    from factx._candidates import MEETING_CUE
    from factx._rules import MET

    assert bool(MET.search(sentence)) is met
    assert bool(MEETING_CUE.search(sentence)) is met
