"""The world's states and places, one table (``_lexicon.STATES``), and what is derived from
it: the places and countries found in a text, the cross-check's and the scorer's names.
Every sentence here was written for this test."""

from __future__ import annotations

import re

import pytest

from factx._candidates import countries_in, places_in, sides_in
from factx._entities import EntityResolver, places_compatible
from factx._gazetteer import (
    CITY_STATE,
    COUNTRIES,
    PLACE_NAMES,
    PLACES,
    SPELLINGS,
    STATES,
    country_words,
)
from factx._names import canonical_country, canonical_place, is_place
from factx._rules import direction


def test_the_table_is_consistent() -> None:
    names = [s.name for s in STATES]
    assert len(names) == len(set(names))
    assert len({s.code for s in STATES}) == len(STATES)
    # A spelling belongs to a state or a place of the table.
    assert set(SPELLINGS) <= set(names) | set(CITY_STATE)
    # No word stands for two states.
    owners: dict[str, str] = {}
    for state, forms in COUNTRIES.items():
        for form in forms:
            assert owners.setdefault(form.casefold(), state) == state, form
    # Every capital is a place, and every place lies in one state.
    for s in STATES:
        if s.capital:
            assert s.capital in PLACES and CITY_STATE[s.capital] == s.name


@pytest.mark.parametrize(
    ("text", "countries"),
    [
        ("Der französische Präsident reiste nach Neu-Delhi.", ["Indien", "Frankreich"]),
        ("Irans Außenminister sprach in Ankara mit seinem Amtskollegen.", ["Iran", "Türkei"]),
        ("In Rom und Prag wurde verhandelt.", ["Italien", "Tschechien"]),
        # Short names are whole words: a novel, a given name and pragmatism name no state.
        ("Bernd las einen Roman über pragmatische Politik.", []),
        ("Der Kremlchef und das Weiße Haus schwiegen.", ["Russland", "USA"]),
    ],
)
def test_countries_in_a_text(text: str, countries: list[str]) -> None:
    assert sorted(countries_in(text)) == sorted(countries)


def test_short_forms_take_a_genitive_s() -> None:
    assert re.search(country_words(COUNTRIES["Iran"]), "Irans Regierung")
    assert not re.search(country_words(COUNTRIES["Iran"]), "Iraner")


def test_places_are_found_as_written() -> None:
    text = "Modi traf Macron in Paris, danach flog er nach Tokio und Kyjiw."
    assert set(places_in(text)) >= {"Paris", "Tokio", "Kyjiw"}
    assert "Kiew" not in places_in(text)  # listed as the text writes it
    assert places_in("Parisers Anblick") == []  # a place is a whole word


def test_sides_include_states_beyond_the_beat() -> None:
    text = "Die japanische Regierung und Südkorea berieten in Seoul."
    assert sides_in(text) == ["Japan", "Südkorea"]


def test_a_trade_flow_between_other_states() -> None:
    sentence = "Die deutschen Exporte nach Frankreich stiegen auf 120 Milliarden Euro."
    start = sentence.index("120")
    assert direction(sentence, start, "exports", ("Deutschland", "Frankreich")) == (
        "Deutschland",
        "Frankreich",
    )


def test_the_cross_check_and_the_scorer_fold_spellings_to_one_name() -> None:
    names = EntityResolver()
    assert names.place("Tokyo").key == names.place("Tokio").key
    assert names.party("Kyjiw").label == "Ukraine"
    assert names.party("Brüssel").label == "Europäische Union"
    assert places_compatible(names.place("Paris"), names.place("Frankreich"))
    assert canonical_country("Germany") == canonical_country("Berlin") == "DE"
    assert canonical_country("Brüssel") == "EU"  # the EU's seat, not Belgium's government
    assert canonical_place("Kyiv") == canonical_place("Kiew") != canonical_place("Ukraine")
    assert PLACE_NAMES["Frankreich"] == ()


def test_a_place_is_not_taken_for_a_name() -> None:
    assert is_place("Paris") and is_place("Warschaus") and is_place("Kanzleramt")
    assert not is_place("Bernd")
