"""The world's states and places, one table: every list of countries and places derives
from ``STATES`` and ``SPELLINGS``.

What derives from it: the places a meeting may be held in and the countries a text names
(``_candidates``), which way goods flow (``_rules``), a field's country in its window
(``_fields``), the cross-check's places and parties (``_entities``) and the scorer's keys
(``_names``). Pure data and one pattern builder; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from ._lexicon import WORD_START_MIN, phrase_alternation


# One row per state (and the EU): the gazetteer every country and place list derives from.
# - ``name``: its short German name, the label factx writes;
# - ``forms``: other German names and the adjective's stem, matched as word starts
#   ("Russlands", "russisch-chinesischen"); forms under five letters as whole words, so
#   that "Rom" is not "Roman";
# - ``capital``: the German name of its capital, a meeting place;
# - ``seats``: the words that stand for its government ("Moskau", "Kreml"); by default the
#   capital. Brussels stands for the EU, not for Belgium;
# - ``places``: other places where talks are held;
# - ``code``: an ISO-like code the scorer compares parties by.
# Spellings of other languages and transliterations are in ``SPELLINGS``.
class State(NamedTuple):
    name: str
    code: str
    forms: tuple[str, ...]
    capital: str | None
    seats: tuple[str, ...] | None = None  # None: the capital
    places: tuple[str, ...] = ()


STATES: tuple[State, ...] = (
    # The beat first: its order is the order of the places and parties factx lists.
    State("Russland", "RU", ("Russische Föderation", "russisch"), "Moskau", ("Moskau", "Kreml"),
          ("Kreml", "Sankt Petersburg", "Wladiwostok", "Kasan", "Sotschi")),
    State("China", "CN", ("Volksrepublik", "chinesisch"), "Peking", None,
          ("Shanghai", "Harbin", "Hongkong")),
    State("USA", "US", ("Vereinigten Staaten", "Vereinigte Staaten", "amerikanisch"),
          "Washington", ("Washington", "Weiße Haus", "Weißen Haus"), ("New York",)),
    State("Ukraine", "UA", ("ukrainisch",), "Kiew"),
    State("Kasachstan", "KZ", ("kasachisch",), "Astana"),
    State("Indien", "IN", ("indisch",), "Neu-Delhi"),
    State("Nordkorea", "KP", ("nordkoreanisch",), "Pjöngjang"),
    State("Europäische Union", "EU", ("EU", "Europäischen Union"), None, ("Brüssel",)),
    State("Vereinigtes Königreich", "GB", ("Vereinigte Königreich", "Großbritannien",
          "britisch"), "London"),
    # Asia
    State("Mongolei", "MN", ("mongolisch",), "Ulan Bator"),
    State("Japan", "JP", ("japanisch",), "Tokio"),
    State("Südkorea", "KR", ("südkoreanisch",), "Seoul"),
    State("Taiwan", "TW", ("taiwanisch",), "Taipeh"),
    State("Vietnam", "VN", ("vietnamesisch",), "Hanoi"),
    State("Thailand", "TH", ("thailändisch",), "Bangkok"),
    State("Indonesien", "ID", ("indonesisch",), "Jakarta"),
    State("Philippinen", "PH", ("philippinisch",), "Manila"),
    State("Malaysia", "MY", ("malaysisch",), "Kuala Lumpur"),
    State("Singapur", "SG", ("singapurisch",), "Singapur", ()),
    State("Myanmar", "MM", ("myanmarisch",), "Naypyidaw"),
    State("Pakistan", "PK", ("pakistanisch",), "Islamabad"),
    State("Bangladesch", "BD", ("bangladeschisch",), "Dhaka"),
    State("Sri Lanka", "LK", ("sri-lankisch",), "Colombo"),
    State("Nepal", "NP", ("nepalesisch",), "Kathmandu"),
    State("Afghanistan", "AF", ("afghanisch",), "Kabul"),
    State("Usbekistan", "UZ", ("usbekisch",), "Taschkent", None, ("Samarkand",)),
    State("Kirgistan", "KG", ("kirgisisch",), "Bischkek"),
    State("Tadschikistan", "TJ", ("tadschikisch",), "Duschanbe"),
    State("Turkmenistan", "TM", ("turkmenisch",), "Aschgabat"),
    # Russia's other neighbours and Europe
    State("Belarus", "BY", ("Weißrussland", "belarussisch"), "Minsk"),
    State("Georgien", "GE", ("georgisch",), "Tiflis"),
    State("Armenien", "AM", ("armenisch",), "Jerewan"),
    State("Aserbaidschan", "AZ", ("aserbaidschanisch",), "Baku"),
    State("Moldau", "MD", ("Republik Moldau", "Moldawien", "moldauisch", "moldawisch"),
          "Chisinau"),
    State("Deutschland", "DE", ("Bundesrepublik", "deutsch"), "Berlin", ("Berlin", "Kanzleramt")),
    State("Frankreich", "FR", ("französisch",), "Paris", ("Paris", "Élysée", "Elysée")),
    State("Italien", "IT", ("italienisch",), "Rom"),
    State("Spanien", "ES", ("spanisch",), "Madrid"),
    State("Portugal", "PT", ("portugiesisch",), "Lissabon"),
    State("Polen", "PL", ("polnisch",), "Warschau"),
    State("Tschechien", "CZ", ("Tschechische Republik", "tschechisch"), "Prag"),
    State("Slowakei", "SK", ("slowakisch",), "Bratislava"),
    State("Ungarn", "HU", ("ungarisch",), "Budapest"),
    State("Rumänien", "RO", ("rumänisch",), "Bukarest"),
    State("Bulgarien", "BG", ("bulgarisch",), None),  # Sofia: a given name too
    State("Serbien", "RS", ("serbisch",), "Belgrad"),
    State("Kroatien", "HR", ("kroatisch",), "Zagreb"),
    State("Griechenland", "GR", ("griechisch",), "Athen"),
    State("Österreich", "AT", ("österreichisch",), "Wien"),
    State("Schweiz", "CH", ("schweizerisch",), "Bern", None, ("Genf", "Davos", "Zürich")),
    State("Niederlande", "NL", ("niederländisch",), "Amsterdam", ("Den Haag",), ("Den Haag",)),
    State("Belgien", "BE", ("belgisch",), "Brüssel", ()),
    State("Dänemark", "DK", ("dänisch",), "Kopenhagen"),
    State("Schweden", "SE", ("schwedisch",), "Stockholm"),
    State("Norwegen", "NO", ("norwegisch",), "Oslo"),
    State("Finnland", "FI", ("finnisch",), "Helsinki"),
    State("Estland", "EE", ("estnisch",), "Tallinn"),
    State("Lettland", "LV", ("lettisch",), "Riga"),
    State("Litauen", "LT", ("litauisch",), "Vilnius"),
    State("Irland", "IE", ("irisch",), "Dublin"),
    State("Türkei", "TR", ("türkisch",), "Ankara", None, ("Istanbul",)),
    # The Middle East and Africa
    State("Iran", "IR", ("iranisch",), "Teheran"),
    State("Irak", "IQ", ("irakisch",), "Bagdad"),
    State("Syrien", "SY", ("syrisch",), "Damaskus"),
    State("Israel", "IL", ("israelisch",), "Jerusalem", None, ("Tel Aviv",)),
    State("Libanon", "LB", ("libanesisch",), "Beirut"),
    State("Jordanien", "JO", ("jordanisch",), "Amman"),
    State("Saudi-Arabien", "SA", ("saudisch",), "Riad"),
    State("Vereinigte Arabische Emirate", "AE", ("VAE", "Emirate", "emiratisch"), "Abu Dhabi",
          None, ("Dubai",)),
    State("Katar", "QA", ("katarisch",), "Doha"),
    State("Ägypten", "EG", ("ägyptisch",), "Kairo"),
    State("Algerien", "DZ", ("algerisch",), "Algier"),
    State("Marokko", "MA", ("marokkanisch",), "Rabat"),
    State("Tunesien", "TN", ("tunesisch",), "Tunis"),
    State("Libyen", "LY", ("libysch",), "Tripolis"),
    State("Sudan", "SD", ("sudanesisch",), "Khartum"),
    State("Äthiopien", "ET", ("äthiopisch",), "Addis Abeba"),
    State("Kenia", "KE", ("kenianisch",), "Nairobi"),
    State("Nigeria", "NG", ("nigerianisch",), "Abuja"),
    State("Südafrika", "ZA", ("südafrikanisch",), "Pretoria", None, ("Johannesburg",)),
    # The Americas and Oceania
    State("Kanada", "CA", ("kanadisch",), "Ottawa"),
    State("Mexiko", "MX", ("mexikanisch",), "Mexiko-Stadt"),
    State("Kuba", "CU", ("kubanisch",), "Havanna"),
    State("Venezuela", "VE", ("venezolanisch",), "Caracas"),
    State("Kolumbien", "CO", ("kolumbianisch",), "Bogotá"),
    State("Brasilien", "BR", ("brasilianisch",), "Brasília", None, ("Rio de Janeiro",)),
    State("Argentinien", "AR", ("argentinisch",), "Buenos Aires"),
    State("Chile", "CL", ("chilenisch",), None),  # Santiago: many cities
    State("Peru", "PE", ("peruanisch",), "Lima"),
    State("Australien", "AU", ("australisch",), "Canberra"),
    State("Neuseeland", "NZ", ("neuseeländisch",), "Wellington"),
)  # fmt: skip

# Other spellings of a state or place: English, transliterations, long forms. They resolve
# to the row's name wherever factx compares names (the cross-check, the scorer), and a
# place's spellings are found in the text as that place.
SPELLINGS: dict[str, tuple[str, ...]] = {
    "Russland": ("Russia", "Russian Federation", "RF", "RUS", "Russische Regierung"),
    "China": ("Volksrepublik China", "VR China", "PRC", "CHN", "People's Republic of China",
              "Chinesische Regierung"),
    "USA": ("US", "United States", "United States of America", "Vereinigte Staaten von Amerika",
            "Amerika", "America"),
    "Europäische Union": ("European Union",),
    "Vereinigtes Königreich": ("UK", "United Kingdom"),
    "Kasachstan": ("Kazakhstan",),
    "Indien": ("India",),
    "Nordkorea": ("North Korea", "DPRK"),
    "Mongolei": ("Mongolia",),
    "Deutschland": ("Germany",),
    "Moskau": ("Moscow", "Moskwa", "Moskva"),
    "Kreml": ("Kremlin",),
    "Peking": ("Beijing", "Peiping"),
    "Sankt Petersburg": ("St. Petersburg", "Saint Petersburg"),
    "Wladiwostok": ("Vladivostok",),
    "Shanghai": ("Schanghai",),
    "Kiew": ("Kyjiw", "Kyiv", "Kiev"),
    "Astana": ("Nur-Sultan",),
    "Washington": ("Washington D.C.", "Washington, D.C."),
    "Neu-Delhi": ("New Delhi",),
    "Pjöngjang": ("Pyongyang",),
    "Teheran": ("Tehran",),
    "Taipeh": ("Taipei",),
    "Tokio": ("Tokyo",),
    "Sotschi": ("Sochi",),
    "Kasan": ("Kazan",),
    "Hongkong": ("Hong Kong",),
}  # fmt: skip


def _names_of(state: State) -> tuple[str, ...]:
    # Its names, not its adjective: adjective stems are written in lower case.
    return (state.name, *(f for f in state.forms if f[:1].isupper()))


def _seats_of(state: State) -> tuple[str, ...]:
    if state.seats is not None:
        return state.seats
    return (state.capital,) if state.capital else ()


def _cities_of(state: State) -> tuple[str, ...]:
    return ((state.capital,) if state.capital else ()) + state.places


def _seat_words(state: State) -> tuple[str, ...]:
    return tuple(w for seat in _seats_of(state) for w in (seat, *SPELLINGS.get(seat, ())))


# Places as the text writes them: every city with its spellings, then every state. The
# model chooses a meeting's place among those its article names.
PLACES: tuple[str, ...] = tuple(
    dict.fromkeys(
        [p for s in STATES for c in _cities_of(s) for p in (c, *SPELLINGS.get(c, ()))]
        + [s.name for s in STATES]
    )
)
# The state each city lies in, so that "Moskau" and "Russland" are one meeting place.
CITY_STATE: dict[str, str] = {c: s.name for s in STATES for c in _cities_of(s)}
# A state and the words that stand for it in the text: its names, its adjective's stem,
# the seats of its government and their spellings ("Kreml", "Kyjiw").
COUNTRIES: dict[str, tuple[str, ...]] = {
    s.name: tuple(dict.fromkeys((s.name, *s.forms, *_seat_words(s)))) for s in STATES
}
# A state under every name that stands for its government, in the other languages too.
PARTY_NAMES: dict[str, tuple[str, ...]] = {
    s.name: tuple(dict.fromkeys((*_names_of(s), *SPELLINGS.get(s.name, ()), *_seat_words(s))))
    for s in STATES
}
# A place under its other spellings: cities, then states by their names.
PLACE_NAMES: dict[str, tuple[str, ...]] = {
    **{c: SPELLINGS.get(c, ()) for s in STATES for c in _cities_of(s)},
    **{s.name: (*_names_of(s)[1:], *SPELLINGS.get(s.name, ())) for s in STATES},
}
STATE_CODES: dict[str, str] = {s.name: s.code for s in STATES}


def country_words(forms: Iterable[str]) -> str:
    """A state's forms as a regex: five letters or more as word starts ("Russlands",
    "russisch-chinesischen", "Kremlchef"), shorter ones as words with a genitive "s"
    ("Irans", "USA-Besuch"; "Rom" but not "Roman")."""
    long = [f for f in forms if len(f) >= WORD_START_MIN]
    short = [f for f in forms if len(f) < WORD_START_MIN]
    alts = []
    if long:
        alts.append(r"\b(?:" + phrase_alternation(long) + ")")
    if short:
        alts.append(r"\b(?:" + phrase_alternation(short) + r")s?\b")
    return "|".join(alts)
