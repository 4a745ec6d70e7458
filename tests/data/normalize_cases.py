"""Table-driven cases for ``factx._amounts`` and ``factx._dates``: short German news phrasings.

Written by hand; the seed phrases are repeated here in short form only (a few words each).
"""

from __future__ import annotations

from datetime import date

# (phrase, value, currency, qualifier, is_percent)
AMOUNTS: list[tuple[str, int | float, str | None, str | None, bool]] = [
    # phrases from the seed articles
    ("218,2 Milliarden US-Dollar", 218_200_000_000, "USD", None, False),
    ("173,12 Milliarden Pfund", 173_120_000_000, "GBP", None, False),
    ("240 Milliarden US-Dollar", 240_000_000_000, "USD", None, False),
    ("auf insgesamt 240 Milliarden US-Dollar", 240_000_000_000, "USD", None, False),
    ("einen Rekordwert von 240 Milliarden US-Dollar", 240_000_000_000, "USD", None, False),
    ("einen neuen Höchststand von 218,2 Milliarden US-Dollar", 218_200_000_000, "USD", None, False),
    # German decimal and grouping
    ("1.234,5 Millionen Euro", 1_234_500_000, "EUR", None, False),
    ("3 000 Euro", 3000, "EUR", None, False),
    ("3\u202f000 Rubel", 3000, "RUB", None, False),
    ("12.500 Dollar", 12_500, "USD", None, False),
    ("1.000.000 Yuan", 1_000_000, "CNY", None, False),
    ("0,5 Prozent", 0.5, None, None, True),
    ("240", 240, None, None, False),
    # scale words and abbreviations
    ("5 Tausend Euro", 5000, "EUR", None, False),
    ("40 Tsd. Euro", 40_000, "EUR", None, False),
    ("2,5 Mio. Euro", 2_500_000, "EUR", None, False),
    ("1 Million Dollar", 1_000_000, "USD", None, False),
    ("3,4 Millionen Rubel", 3_400_000, "RUB", None, False),
    ("100 Mrd. Rubel", 100_000_000_000, "RUB", None, False),
    ("eine Milliarde Euro", 1_000_000_000, "EUR", None, False),
    ("1,3 Billionen Yuan", 1_300_000_000_000, "CNY", None, False),
    ("2 Billionen Rubel", 2_000_000_000_000, "RUB", None, False),
    ("1,5 Bio. Yen", 1_500_000_000_000, "JPY", None, False),
    # number words
    ("zwei Milliarden Dollar", 2_000_000_000, "USD", None, False),
    ("eine halbe Million Euro", 500_000, "EUR", None, False),
    ("zehn Milliarden Yuan", 10_000_000_000, "CNY", None, False),
    ("dreieinhalb Milliarden Euro", 3_500_000_000, "EUR", None, False),
    ("anderthalb Milliarden Rubel", 1_500_000_000, "RUB", None, False),
    ("zweihundert Millionen Dollar", 200_000_000, "USD", None, False),
    ("zwanzig Prozent", 20, None, None, True),
    # approximations
    ("rund 200 Milliarden Dollar", 200_000_000_000, "USD", "rund", False),
    ("fast 190 Milliarden Dollar", 190_000_000_000, "USD", "fast", False),
    ("mehr als 100 Milliarden Euro", 100_000_000_000, "EUR", "mehr als", False),
    ("etwa 60 Millionen Tonnen Öl im Wert von 30 Mrd. Dollar", 30_000_000_000, "USD", None, False),
    ("knapp 27 Prozent", 27, None, "knapp", True),
    ("über 80 Prozent", 80, None, "über", True),
    ("ca. 1,2 Mrd. Euro", 1_200_000_000, "EUR", "ca.", False),
    ("bis zu 50 Milliarden Rubel", 50_000_000_000, "RUB", "bis zu", False),
    # percentages stay percentages
    ("26,3 Prozent", 26.3, None, None, True),
    ("um 4,5 %", 4.5, None, None, True),
    ("ein Plus von 12,8 Prozent", 12.8, None, None, True),
    # currencies
    ("50 USD", 50, "USD", None, False),
    ("$ 5 Mrd.", 5_000_000_000, "USD", None, False),
    ("US$ 3,5 Mrd.", 3_500_000_000, "USD", None, False),
    ("70 Euro", 70, "EUR", None, False),
    ("9 EUR", 9, "EUR", None, False),
    ("€ 4 Mio.", 4_000_000, "EUR", None, False),
    ("12 Mrd. €", 12_000_000_000, "EUR", None, False),
    ("8 Millionen Pfund Sterling", 8_000_000, "GBP", None, False),
    ("£ 20 Mio.", 20_000_000, "GBP", None, False),
    ("20 Milliarden Renminbi", 20_000_000_000, "CNY", None, False),
    ("15 Milliarden Rubel", 15_000_000_000, "RUB", None, False),
    ("300 Milliarden Yen", 300_000_000_000, "JPY", None, False),
    ("60 Dollar je Barrel", 60, "USD", None, False),
]

# (text, expected [(matched text, value, currency)])
FIND_AMOUNTS: list[tuple[str, list[tuple[str, int | float, str | None]]]] = [
    (
        "erreichte 218,2 Milliarden US-Dollar (173,12 Milliarden Pfund).",
        [
            ("218,2 Milliarden US-Dollar", 218_200_000_000, "USD"),
            ("173,12 Milliarden Pfund", 173_120_000_000, "GBP"),
        ],
    ),
    ("Der Xi mehr als 40 Mal getroffen hat", []),
    ("ein Treffen mit zwei Fingern", []),
    (
        "stieg um 26,3 Prozent auf rund 240 Mrd. Dollar",
        [
            ("26,3 Prozent", 26.3, None),
            ("rund 240 Mrd. Dollar", 240_000_000_000, "USD"),
        ],
    ),
    ("Am 21.02.2023 wurden 1,4 Milliarden Menschen gezählt", []),
]

P_2023_02_22 = date(2023, 2, 22)  # a Wednesday (000, 001)
P_2024_02_08 = date(2024, 2, 8)  # a Thursday (002)
P_2024_05_16 = date(2024, 5, 16)  # a Thursday (003)
P_2024_04_09 = date(2024, 4, 9)  # a Tuesday (004)

# (phrase, published, context, expected value, expected kind)
DATES: list[tuple[str, date | None, str, str | None, str]] = [
    # required examples
    ("am Dienstag", P_2024_04_09, "", "2024-04-09", "day"),
    ("21. Februar 2023", None, "", "2023-02-21", "day"),
    ("am 21.02.2023", None, "", "2023-02-21", "day"),
    ("Februar 2022", None, "", "2022-02", "month"),
    ("21. Februar", P_2023_02_22, "", "2023-02-21", "day"),
    ("21. Februar", P_2024_02_08, "", "2023-02-21", "day"),  # past preferred
    ("heute", P_2023_02_22, "", "2023-02-22", "day"),
    ("gestern", P_2023_02_22, "", "2023-02-21", "day"),
    ("vorgestern", P_2023_02_22, "", "2023-02-20", "day"),
    ("morgen", P_2023_02_22, "", "2023-02-23", "day"),
    ("diese Woche", P_2023_02_22, "", "2023-02-20..2023-02-26", "range"),
    ("letzten Monat", P_2024_04_09, "", "2024-03", "month"),
    ("im vergangenen Jahr", P_2024_04_09, "", "2023", "year"),
    ("vor fast einem Jahr", P_2023_02_22, "", "2022", "year"),
    ("im Zeitraum Januar bis November", P_2024_02_08, "", "2023-01..2023-11", "range"),
    ("im April oder Anfang Mai", P_2023_02_22, "", None, "vague"),
    ("in den kommenden Monaten", P_2023_02_22, "", None, "vague"),
    ("Dienstag, 21. Februar", P_2024_05_16, "", "2023-02-21", "day"),  # year from the pair
    # phrases from the seed articles
    ("heute früh", P_2023_02_22, "", "2023-02-22", "day"),
    ("heute im Kreml", P_2023_02_22, "", "2023-02-22", "day"),
    ("am Mittwoch", P_2023_02_22, "", "2023-02-22", "day"),
    ("am Montag", P_2024_04_09, "", "2024-04-08", "day"),
    ("am Samstag", P_2023_02_22, "", "2023-02-18", "day"),
    ("am Donnerstag", P_2024_02_08, "", "2024-02-08", "day"),
    ("am Donnerstag", P_2024_05_16, "", "2024-05-16", "day"),
    ("am Donnerstagnachmittag", P_2024_05_16, "", "2024-05-16", "day"),
    ("Am Dienstag", P_2023_02_22, "", "2023-02-21", "day"),
    ("am 21. Februar", P_2023_02_22, "", "2023-02-21", "day"),
    ("später am Tag", P_2023_02_22, "", "2023-02-22", "day"),
    ("am Wochenende", P_2023_02_22, "", "2023-02-18..2023-02-19", "range"),
    ("in den letzten Tagen", P_2023_02_22, "", None, "vague"),
    ("in den nächsten Monaten", P_2023_02_22, "", None, "vague"),
    ("Ende letzten Jahres", P_2023_02_22, "", "2022", "year"),
    ("Im Dezember 2022", None, "", "2022-12", "month"),
    ("Frühjahr 2023", None, "", "2023-03..2023-05", "range"),
    ("im Dezember 2023", None, "", "2023-12", "month"),
    ("erst im Januar", P_2024_02_08, "", "2024-01", "month"),
    ("im Februar 2022", None, "", "2022-02", "month"),
    ("für 2023", None, "", "2023", "year"),
    ("letztes Jahr", P_2024_05_16, "", "2023", "year"),
    ("vor zwei Jahren", P_2024_05_16, "", "2022", "year"),
    ("im Jahr 2022", None, "", "2022", "year"),
    ("Im Oktober 2019", None, "", "2019-10", "month"),
    ("in letzter Zeit", P_2024_05_16, "", None, "vague"),
    ("in absehbarer Zeit", P_2024_05_16, "", None, "vague"),
    ("Im März", P_2024_04_09, "", "2024-03", "month"),
    ("im Juni", P_2024_04_09, "Putin und Xi würden sich im Juni treffen", "2024-06", "month"),
    ("im Oktober", P_2024_04_09, "war zuletzt im Oktober in China", "2023-10", "month"),
    (
        "im Mai",
        P_2024_04_09,
        "wird Putin voraussichtlich im Mai China besuchen",
        "2024-05",
        "month",
    ),
    ("seit 2010", None, "", "2010", "year"),
    # tense decides weekdays and partial dates
    (
        "am Dienstag",
        date(2024, 4, 11),
        "Putin wird am Dienstag nach Peking reisen",
        "2024-04-16",
        "day",
    ),
    ("am Dienstag", date(2024, 4, 11), "Putin reiste am Dienstag nach Peking", "2024-04-09", "day"),
    (
        "am Dienstag",
        date(2023, 2, 22),
        "während der Angriff am Dienstag fortgesetzt wird",
        "2023-02-21",
        "day",
    ),
    ("am kommenden Freitag", date(2024, 4, 9), "", "2024-04-12", "day"),
    ("am vergangenen Freitag", date(2024, 4, 9), "", "2024-04-05", "day"),
    ("letzten Dienstag", date(2024, 4, 9), "", "2024-04-02", "day"),
    ("im Juni", P_2024_04_09, "", "2023-06", "month"),  # no tense: the past
    ("am 3. März", date(2024, 2, 1), "Der Gipfel soll am 3. März beginnen", "2024-03-03", "day"),
    # a modal of intent speaks of the future too
    ("Im Januar", date(2024, 11, 20), "Im Januar will sie ihn in Rom treffen", "2025-01", "month"),
    ("am Freitag", date(2024, 4, 9), "Am Freitag wollen die Minister beraten", "2024-04-12", "day"),
    # more absolute forms
    ("am 9. Mai 2024", None, "", "2024-05-09", "day"),
    ("9.5.2024", None, "", "2024-05-09", "day"),
    ("am 16.05.24", None, "", "2024-05-16", "day"),
    ("1. Sept. 2023", None, "", "2023-09-01", "day"),
    ("Mitte Juli 2023", None, "", "2023-07", "month"),
    ("Anfang 2024", None, "", "2024", "year"),
    ("vom 3. bis 5. Mai 2024", None, "", "2024-05-03..2024-05-05", "range"),
    ("Januar bis November 2023", None, "", "2023-01..2023-11", "range"),
    ("zwischen März und Mai 2023", None, "", "2023-03..2023-05", "range"),
    ("von Januar bis März", date(2024, 4, 9), "", "2024-01..2024-03", "range"),
    ("Dezember bis Februar", date(2024, 4, 9), "", "2023-12..2024-02", "range"),
    ("Dienstag, den 21. Februar 2023", None, "", "2023-02-21", "day"),
    ("am 5 April 2024", None, "", "2024-04-05", "day"),  # dot lost in translation
    ("2024-04-05", None, "", "2024-04-05", "day"),
    ("vor 48 Stunden", P_2024_04_09, "", "2024-04-07", "day"),  # dateparser fallback
    ("am 29. Februar 2023", None, "", None, "unresolved"),  # no such day
    # more relative forms
    ("übermorgen", P_2024_04_09, "", "2024-04-11", "day"),
    ("gestern Abend", P_2024_04_09, "", "2024-04-08", "day"),
    ("am Vortag", P_2024_04_09, "", "2024-04-08", "day"),
    ("tags darauf", P_2024_04_09, "", "2024-04-10", "day"),
    ("vor drei Tagen", P_2024_04_09, "", "2024-04-06", "day"),
    ("vor zwei Wochen", P_2024_04_09, "", "2024-03-25..2024-03-31", "range"),
    ("vor sechs Monaten", P_2024_04_09, "", "2023-10", "month"),
    ("in zwei Monaten", P_2024_04_09, "", "2024-06", "month"),
    ("vergangene Woche", P_2024_04_09, "", "2024-04-01..2024-04-07", "range"),
    ("nächste Woche", P_2024_04_09, "", "2024-04-15..2024-04-21", "range"),
    ("im vergangenen Monat", date(2024, 1, 15), "", "2023-12", "month"),
    ("im kommenden Jahr", P_2024_04_09, "", "2025", "year"),
    ("in diesem Jahr", P_2024_04_09, "", "2024", "year"),
    ("im Vorjahr", P_2024_04_09, "", "2023", "year"),
    ("vor mehr als einem Jahr", P_2024_04_09, "", None, "vague"),
    ("vor einigen Wochen", P_2024_04_09, "", None, "vague"),
    ("demnächst", P_2024_04_09, "", None, "vague"),
    # without a publication date relative expressions stay unresolved
    ("am Dienstag", None, "", None, "unresolved"),
    ("gestern", None, "", None, "unresolved"),
    ("im vergangenen Jahr", None, "", None, "unresolved"),
    ("21. Februar", None, "", None, "unresolved"),
    ("im Juni", None, "", None, "unresolved"),
    ("Januar bis November", None, "", None, "unresolved"),
    # no date at all
    ("im Kreml", P_2024_04_09, "", None, "none"),
    ("mehr als 40 Mal", P_2024_04_09, "", None, "none"),
    ("am Morgen", P_2024_04_09, "", None, "none"),
    ("des 75. Jahrestages", P_2024_04_09, "", None, "none"),
    ("240 Milliarden US-Dollar", P_2024_04_09, "", None, "none"),
]
