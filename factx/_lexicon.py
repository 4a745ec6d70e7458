"""The German words factx goes by, as data: every cue list is defined here once.

The finders (``_candidates``) and the rules that settle what the words settle
(``_questions``, ``_finalize``) build their patterns from these tables; none of them spells
a cue word of its own. A list holds a class of words (meeting verbs, treaty nouns, modal
cues), never a phrase seen in one article. Pure data and two pattern builders; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# ------------------------------------------------------------------------------ builders


def _longest_first(items: Iterable[str]) -> list[str]:
    # Ties alphabetically, not in a set's order: the same pattern in every process.
    return sorted(set(items), key=lambda a: (-len(a), a))


# A name of this many letters or more is also found as the start of a longer word
# ("Moskauer", "russisch-chinesischen"); a shorter one only as a word ("Rom", not "Roman").
WORD_START_MIN = 5


def words(items: Iterable[str], *, prefix: bool = False) -> str:
    """An alternation of ``items`` as whole words (``prefix``: as word starts), longest
    first so that "Telefongespräch" wins over "Telefon". Items may hold regex syntax."""
    alts = _longest_first(items)
    tail = r"\w*" if prefix else r"\b"
    return r"\b(?:" + "|".join(alts) + ")" + tail


def compile_words(items: Iterable[str], *, prefix: bool = False, flags: int = 0) -> re.Pattern[str]:
    return re.compile(words(items, prefix=prefix), flags)


# ---------------------------------------------------------------------------- sentences

# Abbreviations after which a full stop does not end a sentence.
ABBREVIATIONS = (
    "z.B", "u.a", "bzw", "ca", "Dr", "Prof", "Mio", "Mrd", "Nr", "St", "vgl", "etc", "usw",
    "inkl", "Jh", "Abs", "Art", "Bd", "Hrsg", "evtl", "ggf", "sog", "Mrs", "Mr", "Co",
)  # fmt: skip

# ----------------------------------------------------------------------------- qualifiers

# Words before a number that make it approximate or a bound: "rund 240 Milliarden",
# "mehr als 200 Milliarden", "vor knapp drei Wochen". Several words are one qualifier.
QUALIFIERS = (
    "mehr als", "weniger als", "bis zu", "rund", "fast", "etwa", "knapp", "über", "ca.",
    "circa", "zirka", "nahezu", "beinahe", "annähernd", "ungefähr", "gut", "mindestens",
    "höchstens", "unter",
)  # fmt: skip


def phrase_alternation(items: Iterable[str]) -> str:
    """Words and phrases as a regex alternation: escaped, spaces as any whitespace."""
    alts = _longest_first(items)
    return "|".join(re.escape(a).replace(r"\ ", r"\s+") for a in alts)


# A date after these words is what a figure is compared with, not its period: "schneller
# als im Mai", "gegenüber dem Vorjahr", "im Vergleich zum Mai".
COMPARISON_CUES = ("als", "gegenüber", "im Vergleich zu", "im Vergleich zum", "verglichen mit",
                   "nachdem", "seit")  # fmt: skip

# ---------------------------------------------------------------------------------- dates

# The words _dates builds its patterns from: month and weekday names (with the common
# abbreviations and Austrian forms), number words for "vor drei Wochen", seasons, days
# relative to the publication date.
MONTHS: dict[str, int] = {
    "januar": 1,
    "jänner": 1,
    "jan.": 1,
    "februar": 2,
    "feber": 2,
    "feb.": 2,
    "märz": 3,
    "maerz": 3,
    "mär.": 3,
    "april": 4,
    "apr.": 4,
    "mai": 5,
    "juni": 6,
    "jun.": 6,
    "juli": 7,
    "jul.": 7,
    "august": 8,
    "aug.": 8,
    "september": 9,
    "sep.": 9,
    "sept.": 9,
    "oktober": 10,
    "okt.": 10,
    "november": 11,
    "nov.": 11,
    "dezember": 12,
    "dez.": 12,
}
WEEKDAYS: dict[str, int] = {
    "montag": 0,
    "dienstag": 1,
    "mittwoch": 2,
    "donnerstag": 3,
    "freitag": 4,
    "samstag": 5,
    "sonnabend": 5,
    "sonntag": 6,
}
WEEKDAY_NAMES = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
NUMBER_WORDS: dict[str, int] = {
    "einem": 1,
    "einer": 1,
    "einen": 1,
    "ein": 1,
    "eine": 1,
    "zwei": 2,
    "drei": 3,
    "vier": 4,
    "fünf": 5,
    "sechs": 6,
    "sieben": 7,
    "acht": 8,
    "neun": 9,
    "zehn": 10,
    "elf": 11,
    "zwölf": 12,
    "zwanzig": 20,
    "dreißig": 30,
}
# Seasons as month ranges; winter straddles two years, so it stays vague.
SEASONS: dict[str, tuple[int, int] | None] = {
    "frühjahr": (3, 5), "frühling": (3, 5), "sommer": (6, 8), "herbst": (9, 11), "winter": None,
}  # fmt: skip
# Days relative to the publication date.
RELATIVE_DAYS: dict[str, int] = {
    "vorgestern": -2,
    "gestern": -1,
    "heute": 0,
    "morgen": 1,
    "übermorgen": 2,
    "später am tag": 0,
    "am selben tag": 0,
    "am gleichen tag": 0,
    "am selben abend": 0,
    "am tag zuvor": -1,
    "am vortag": -1,
    "tags zuvor": -1,
    "am folgetag": 1,
    "am nächsten tag": 1,
    "tags darauf": 1,
}
# Patterns (not words): a clause with one of these speaks of the future, so a weekday in it
# is the coming one ("wird am Dienstag …").
DATE_FUTURE_CUES = (
    "werde", "würde", "würden", "wirst", "soll", "sollen", "solle", "sollte", "sollten",
    "will", "wollen", "wolle", "wollte", "wollten",
    "plant", "planen", "planten", r"geplant\w*", "voraussichtlich", r"kommend\w*",
    r"nächst\w*", r"bevorstehend\w*", r"künftig\w*", "könne", "könnte", "könnten",
    "dürfte", "dürften",
)  # fmt: skip

# --------------------------------------------------------------------------------- speech

# Verbs that introduce or close reported speech, in the forms news German uses.
SPEECH_VERBS = (
    "sagte", "sagt", "sagten", "sage", "erklärte", "erklärt", "erklärten", "betonte", "betont",
    "fügte", "meinte", "meint", "warnte", "warnt", "schrieb", "schreibt", "antwortete",
    "kritisierte", "kritisiert", "bekräftigte", "versicherte", "forderte", "fordert", "so",
    "zitiert", "zitierte", "bemerkte", "äußerte", "teilte", "nannte", "bezeichnete",
    "verkündete", "erwiderte", "unterstrich", "hob", "räumte", "kommentierte", "ergänzte",
    "berichtete", "bestätigte", "mahnte", "resümierte", "sprach", "lobte", "urteilte",
    "hieß", "heißt", "verlautete", "zeigte", "kündigte", "appellierte", "stellte",
    "begründete", "argumentierte", "glaubt", "glaubte", "findet", "fand", "ließ",
)  # fmt: skip
# Verbs with which an outlet says what it printed: "…“, schreibt die „Computerwoche“.
OUTLET_VERBS = ("schreibt", "schrieb", "berichtet", "berichtete", "meldet", "meldete",
                "kommentiert", "kommentierte", "titelt", "titelte")  # fmt: skip
# A quote in the first person singular is a person's: a ministry or a party says "wir".
FIRST_PERSON_SINGULAR = ("ich", "Ich", "mich", "mir", "mein", "meine", "meinen", "meinem",
                         "meiner", "meines")  # fmt: skip
# "laut Peskow", "nach Angaben des Kreml": attribution without a verb.
SPEECH_PREPOSITIONS = ("laut", "Laut", "zufolge", "nach Angaben", "Nach Angaben", "wie",
                       "nach Auffassung", "Nach Auffassung", "nach Ansicht", "Nach Ansicht",
                       "nach Meinung", "Nach Meinung", "nach Worten", "Nach Worten")  # fmt: skip

# ------------------------------------------------------------------------------- people

# Offices and roles written before a name ("Kremlsprecher Dmitri Peskow"). Compounds are
# caught by the suffixes: "Außenminister", "Finanzvorstand", "Regierungssprecherin".
ROLE_NOUNS = (
    "Präsident", "Staatschef", "Regierungschef", "Kanzler", "Premier", "Premierminister",
    "Ministerpräsident", "Minister", "Sprecher", "Berater", "Diplomat", "Botschafter",
    "Sekretär", "Generalsekretär", "Direktor", "Professor", "Analyst", "Vorsitzende",
    "Vorsitzender", "Chef", "Leiter", "Vorstand", "Trainer", "Politiker", "Abgeordnete",
    "Abgeordneter", "Bürgermeister", "Richter", "Anwalt", "Experte", "Ökonom", "Autor",
    "Journalist", "Kardinal", "Bischof", "Papst", "König", "Prinz", "General", "Admiral",
    "Oberst", "Kommissar", "Gouverneur", "Senator", "Kandidat", "Feminist", "Aktivist",
    "Schriftsteller", "Regisseur", "Filmemacher", "Sänger", "Spieler", "Manager", "Gründer",
    "Unternehmer", "Wissenschaftler", "Forscher", "Historiker", "Ermittler", "Staatsanwalt",
    "Polizeisprecher", "Chefredakteur", "Vizepräsident", "Vizekanzler", "Staatssekretär",
    "Prof", "Dr", "Intendant", "Verteidiger", "Vertreter", "Mitglied", "Mitglieder",
)  # fmt: skip
# A role noun may be the tail of a compound ("Kremlsprecher") and take a feminine ending.
ROLE_SUFFIXES = (
    "minister", "sprecher", "präsident", "chef", "berater", "vorstand", "kanzler",
    "sekretär", "direktor", "leiter", "vorsitzende", "vorsitzender", "botschafter",
    "diplomat", "politiker", "experte", "analyst", "trainer", "funktionär", "kommissar",
    "beauftragte", "beauftragter", "abgeordnete", "abgeordneter", "richter", "anwalt",
    "manager", "chefin", "unternehmer", "forscher", "wissenschaftler",
)  # fmt: skip
# Offices that one person holds under several names: "der chinesische Ministerpräsident"
# refers back to "Chinas Regierungschef Li Qiang". Compared case-blind, endings dropped.
OFFICE_SYNONYMS = (
    ("präsident", "staatspräsident", "staatschef", "kremlchef"),
    ("regierungschef", "ministerpräsident", "premier", "premierminister", "kanzler",
     "bundeskanzler"),
    ("außenminister", "chefdiplomat", "topdiplomat", "top-diplomat"),
    ("sprecher", "regierungssprecher", "außenamtssprecher", "kremlsprecher", "kreml-sprecher"),
)  # fmt: skip
# Feminine and case endings of a role noun: "Sprecherin", "Top-Diplomaten", "Ministers".
FEMININE_ENDING = "(?:in|innen|en|n|es|s)?"
# Offices and honorifics that are never part of a person's name, for name keys: "Chinas
# Außenminister Wang Yi" is "Wang Yi". (A role noun that is also a surname, "Richter",
# is not here.)
TITLE_WORDS = frozenset(
    w.casefold()
    for w in """
    präsident präsidentin president staatspräsident vizepräsident staatschef kremlchef
    regierungschef premier premierminister premierministerin ministerpräsident minister
    ministerin außenminister außenministerin aussenminister verteidigungsminister
    finanzminister finanzministerin wirtschaftsminister handelsminister sprecher sprecherin
    außenamtssprecher außenamtssprecherin kremlsprecher botschafter botschafterin diplomat
    chefdiplomat topdiplomat top kanzler kanzlerin bundeskanzler generalsekretär parteichef
    vorsitzender vorsitzende sekretär berater beraterin general admiral staatsoberhaupt
    machthaber herr frau dr prof mr mrs ms sir chinas russlands amerikas us uno
    """.split()
)


def is_title(word: str) -> bool:
    """An office or honorific before a name: "Außenminister", "US-Außenminister", "Dr."."""
    parts = word.casefold().replace(".", "").split("-")
    # "US-Außenminister", "Kreml-Sprecher": a hyphenated title has a title part at the end.
    return "".join(parts) in TITLE_WORDS or parts[-1] in TITLE_WORDS


# Well-known people of the beat under their German spelling, with transliterations and
# spellings seen in other outlets. Finding a person never depends on this table; it only
# folds variants to one name.
PEOPLE_ALIASES: dict[str, tuple[str, ...]] = {
    "Wladimir Putin": ("Vladimir Putin", "Putin", "W. Putin"),
    "Xi Jinping": ("Xi",),
    "Wang Yi": ("Wang",),
    "Sergej Lawrow": ("Sergei Lavrov", "Sergey Lavrov", "Sergei Lawrow", "Lawrow", "Lavrov"),
    "Nikolai Patruschew": ("Nikolay Patrushev", "Patruschew", "Patrushev"),
    "Dmitri Peskow": ("Dmitry Peskov", "Dmitrij Peskow", "Peskow", "Peskov"),
    "Juri Uschakow": ("Yuri Ushakov", "Jurij Uschakow", "Uschakow", "Ushakov"),
    "Li Qiang": (),
    "Mao Ning": (),
    "Wang Wenbin": (),
    "Sergej Schoigu": ("Sergei Shoigu", "Schoigu", "Shoigu"),
    "Dmitri Medwedew": ("Dmitry Medvedev", "Medwedew", "Medvedev"),
    "Michail Mischustin": ("Mikhail Mishustin", "Mischustin", "Mishustin"),
    "Wolodymyr Selenskyj": ("Volodymyr Zelensky", "Wolodymyr Selenski", "Selenskyj", "Zelensky"),
    "Mychajlo Podoljak": ("Mykhailo Podolyak", "Podoljak", "Podolyak"),
    "Alexander Lukaschenko": ("Alexander Lukashenko", "Lukaschenko", "Lukashenko"),
    "Joe Biden": ("Joseph Biden", "Biden"),
    "Antony Blinken": ("Anthony Blinken", "Blinken"),
    "Janet Yellen": ("Yellen",),
    "Donald Trump": ("Trump",),
    "Olaf Scholz": ("Scholz",),
    "Emmanuel Macron": ("Macron",),
    "Narendra Modi": ("Modi",),
    "Kim Jong Un": ("Kim Jong-un",),
    "Recep Tayyip Erdogan": ("Recep Tayyip Erdoğan", "Erdogan", "Erdoğan"),
    "Ursula von der Leyen": ("von der Leyen",),
    "Luiz Inácio Lula da Silva": ("Lula da Silva", "Lula"),
}

# Whose government a person of the alias table speaks for: "Putin und Xi trafen sich" names
# Russia and China as sides. Only states of ``_gazetteer.STATES`` are listed.
PEOPLE_COUNTRIES: dict[str, str] = {
    "Wladimir Putin": "Russland", "Sergej Lawrow": "Russland", "Nikolai Patruschew": "Russland",
    "Dmitri Peskow": "Russland", "Juri Uschakow": "Russland", "Sergej Schoigu": "Russland",
    "Dmitri Medwedew": "Russland", "Michail Mischustin": "Russland",
    "Xi Jinping": "China", "Wang Yi": "China", "Li Qiang": "China", "Mao Ning": "China",
    "Wang Wenbin": "China",
    "Wolodymyr Selenskyj": "Ukraine", "Mychajlo Podoljak": "Ukraine",
    "Joe Biden": "USA", "Antony Blinken": "USA", "Janet Yellen": "USA", "Donald Trump": "USA",
    "Narendra Modi": "Indien", "Kim Jong Un": "Nordkorea",
    "Luiz Inácio Lula da Silva": "Brasilien",
    "Ursula von der Leyen": "Europäische Union",
}  # fmt: skip

# Given names the gender-guesser lexicon lacks, mostly German transliterations of Russian
# and Ukrainian names and Chinese given names that lead a Western-order name.
EXTRA_GIVEN_NAMES = (
    "Wladimir", "Sergej", "Nikolai", "Nikolaj", "Dmitri", "Dmitrij", "Juri", "Jurij",
    "Michail", "Alexej", "Andrej", "Iwan", "Jewgeni", "Marija", "Walentina", "Wolodymyr",
    "Mychajlo", "Mykhailo", "Dmytro", "Oleksij", "Witali", "Wiktor", "Wassili", "Waleri",
    "Anatoli", "Jelena", "Swetlana", "Tatjana", "Ljudmila", "Gennadi", "Grigori",
)  # fmt: skip

# Words that start a capitalised run but are never part of a name.
NOT_NAME = frozenset(
    """Der Die Das Den Dem Des Ein Eine Einer Eines Einem Einen Und Oder Aber Auch Als Am Im
    In Mit Von Zu Zur Zum Bei Nach Vor Für Auf Aus Über Unter Laut Während Sein Seine Ihr Ihre
    Er Sie Es Wir Man Dies Diese Dieser Dieses Jetzt Heute Gestern Morgen Doch Noch Nun Wie
    Was Wer Wo Wenn Weil Dass Damit Denn So Da Dort Hier Bereits Schon Nur Erst Alle Beide
    Herr Frau Seit Bis Ohne Gegen Um An Trotz Wegen Zwischen Neben Hinter Ob Zudem Außerdem
    Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag Januar Februar März April Mai
    Juni Juli August September Oktober November Dezember""".split()
)

# ------------------------------------------------------------------------ organisations

# The head noun of a body that can speak: a ministry, a court, a party, an outlet.
ORG_SUFFIXES = (
    "ministerium", "ministeriums", "amt", "amtes", "amts", "gericht", "gerichts",
    "gerichtshof", "regierung", "partei", "kommission", "verband", "verbandes", "rat",
    "rates", "senat", "senats", "bank", "zeitung", "agentur", "konzern", "konzerns",
    "kreml", "kremls", "pressedienst", "pressedienstes", "presseamt", "behörde", "verwaltung",
    "polizei", "staatsanwaltschaft", "gewerkschaft", "stiftung", "institut", "instituts",
    "botschaft", "fraktion", "parlament", "parlaments", "komitee", "komitees", "büro",
    "sender", "senders", "magazin", "blatt", "nachrichtenagentur", "kammer", "union", "dienst",
    "dienstes",
)  # fmt: skip
# Organisations named by a single word that is not a compound of the above.
ORG_NAMES = ("Kreml", "Weiße Haus", "Pentagon", "Bundestag", "Vatikan", "Elysée")

# ------------------------------------------------------------------------------ meetings

# Verbs that tell that people met or talked, held or planned: each verb in all its forms.
MEETING_VERBS = (
    "traf", "trafen", "trifft", "treffen", "getroffen",
    "zusammentreffen", "zusammentrifft", "zusammentrafen", "zusammengetroffen",
    "zusammenkommen", "zusammenkamen", "zusammengekommen",
    "empfängt", "empfing", "empfingen", "empfangen",
    "telefonieren", "telefoniert", "telefonierte", "telefonierten",
    "besuchen", "besucht", "besuchte", "besuchten",
    "reisen", "reist", "reiste", "reisten", "gereist",
    "verhandeln", "verhandelt", "verhandelte", "verhandelten",
    "beraten", "berät", "beriet", "berieten",
    "konferieren", "konferiert", "konferierte", "konferierten",
    "gesprochen",
)  # fmt: skip
# Nouns that by themselves say that people met or talked.
TALK_NOUNS = (
    "Treffen", "Gipfel", "Gipfeltreffen", "Gespräche", "Gesprächen", "Telefonat",
    "Telefongespräch", "Videokonferenz", "Videoschalte", "Videoschaltung", "Videobrücke",
    "Videogespräch", "Videolink", "Videoverbindung", "Unterredung",
)  # fmt: skip
# Nouns that name a meeting only with the right people in sight: a visit, a journey, talks,
# and "Gespräch" (also an interview). "Putin kritisierte Biden nach dessen Besuch in Kiew".
VISIT_NOUNS = (
    "Gespräch", "Besuch", "Staatsbesuch", "Arbeitsbesuch", "Visite", "Verhandlungen",
    "Konsultationen", "Zusammenkunft", "Reise",
)  # fmt: skip
# Side by side with one's counterpart is meeting them: "vor der Presse mit ihrem
# indischen Amtskollegen". Only after "mit" and a possessive ("kritisierte seinen
# Amtskollegen" is no meeting).
COUNTERPART_NOUNS = ("Amtskollegen", "Amtskollegin", "Amtskolleginnen", "Gegenüber")
WITH_ONES = ("mit seinem", "mit seiner", "mit ihrem", "mit ihrer", "mit seinen", "mit ihren")
# At most two words (adjectives) between: "mit seinem chinesischen Amtskollegen".
WITH_COUNTERPART = (
    rf"\b(?:{phrase_alternation(WITH_ONES)})\s+(?:\w+\s+){{0,2}}?"
    rf"(?:{phrase_alternation(COUNTERPART_NOUNS)})\b"
)
# Where a meeting took place: a place right after these ("in Peking", "im Kreml", "nach
# Moskau", "in der Schweiz").
LOCATIVE_PREPOSITIONS = ("in", "im", "nach", "in der", "in den", "in dem")
# Every noun that names a meeting or a call; compounds end in these ("EU-Gipfel").
MEETING_NOUNS = TALK_NOUNS + VISIT_NOUNS
MEETING_NOUN_SUFFIXES = ("gipfel", "treffen", "gespräch", "gespräche", "besuch", "telefonat")
# Patterns (not words): "telefonierten", "Telefonat", "Anruf", "rief Xi … an".
PHONE_CUES = (r"[Tt]elefon", r"\b[Aa]nruf", r"\banrief", r"\brief\w*(?: \w+){1,4} an\b")
VIDEO_CUES = (r"[Vv]ideo", r"\bvirtuell", r"\b[Oo]nline\b")

# --------------------------------------------------------------------------------- tense

# What is still to come: modal verbs, future and plan words.
PLANNED_CUES = (
    "wird", "werde", "werden", "soll", "sollen", "solle", "sollte", "plant", "planen",
    "geplant", "erwartet", "voraussichtlich", "könnte", "könne", "würden", "würde",
    "bevorstehend", "bevorstehenden", "bevorstehende", "vorbereitet", "morgen", "will",
    "wollen", "wolle", "beabsichtigt", "angekündigt", "kommende", "kommenden", "nächste",
    "nächsten", "demnächst",
)  # fmt: skip
# What has happened: past forms of the meeting and signing verbs, each verb's past tense
# and participle (not "besucht" or "telefoniert": present tense too).
HELD_CUES = (
    "traf", "trafen", "getroffen", "zusammentrafen", "zusammengetroffen", "kamen",
    "zusammenkamen", "zusammengekommen", "hielten", "hielt", "sprachen", "sprach",
    "telefonierte", "telefonierten", "empfing", "empfingen", "empfangen", "besuchte",
    "besuchten", "reiste", "reisten", "gereist", "verhandelte", "verhandelten", "beriet",
    "berieten", "konferierte", "konferierten", "war", "waren", "fand", "stattfand",
    "erörterten", "diskutierten", "startete", "starteten", "eröffneten", "eröffnete",
    "demonstrierten", "unterzeichneten", "unterzeichnete", "unterzeichnet", "hatten", "gab",
)  # fmt: skip

# ------------------------------------------------------------------------------ treaties

# Nouns that name an agreement; compounds end in them ("Gasvertrag", "Handelsabkommen").
TREATY_NOUNS = (
    "Abkommen", "Vertrag", "Vertrags", "Verträge", "Verträgen", "Vereinbarung",
    "Vereinbarungen", "Erklärung", "Absichtserklärung", "Memorandum", "Friedensplan", "Pakt",
    "Kontrakt", "Übereinkommen", "Übereinkunft", "Deal", "Charta", "Protokoll",
)  # fmt: skip
TREATY_NOUN_SUFFIXES = (
    "abkommen", "vertrag", "vertrags", "verträge", "vereinbarung", "vereinbarungen",
    "erklärung", "memorandum", "pakt", "kontrakt", "abkommens",
)  # fmt: skip
# Status cues, in the order they are tried: the first class that matches wins.
TREATY_STATUS_CUES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("suspended", ("ausgesetzt", "aussetz", "suspendier", "Suspendierung", "auf Eis")),
    ("rejected", ("abgelehnt", "ablehn", "zurückgewiesen", "verworfen", "gekündigt")),
    ("proposed", ("vorgeschlagen", "Vorschlag", "schlug", "Positionspapier")),
    # An extension is agreed like a new treaty: "vereinbarten, den Vertrag zu verlängern".
    ("signed", ("unterzeichne", "unterschrieb", "unterschrieben", "geschlossen", "schloss",
                "vereinbart", "einigte", "besiegelt", "signiert")),
    # After signing: "wurde 2001 unterzeichnet und trat 2002 in Kraft" tells the signing.
    ("in_force", ("in Kraft",)),
)  # fmt: skip
# A separable verb whose particle closes the clause: "setzte … aus" is "aussetzen".
SEPARABLE_STATUS = (("suspended", "setzte", "aus"), ("suspended", "setzten", "aus"))
# A plan to sign: a modal verb with an infinitive or a passive of a signing verb.
SIGNING_VERBS = ("unterzeichnen", "unterzeichnet", "unterschreiben", "abschließen",
                 "schließen", "vereinbaren", "besiegeln", "signieren")  # fmt: skip
MODAL_CUES = ("wollen", "will", "wolle", "sollen", "soll", "solle", "sollte", "sollten",
              "werden", "wird", "würden", "plant", "planen", "geplant", "beabsichtigen",
              "möchten", "können", "könnten")  # fmt: skip

# A counted bundle of agreements is one treaty item: "rund 40 Abkommen", "mehrere Verträge".
BUNDLE_QUANTIFIERS = (
    "rund", "insgesamt", "etwa", "mehr als", "über", "zahlreiche", "mehrere", "verschiedene",
    "eine Reihe von", "ein Paket", "Dutzende",
)  # fmt: skip
TREATY_PLURALS = ("Abkommen", "Verträge", "Vereinbarungen", "Absichtserklärungen",
                  "Memoranden", "Kooperationsabkommen", "Dokumente")  # fmt: skip

# Lower-case words that names of things are joined by: "Tag der Deutschen Einheit",
# "Ministerium für Staatssicherheit". Any other lower-case word makes a phrase speech.
TITLE_CONNECTORS = frozenset("der die das des dem den von vom für und zu zur zum de du la le "
                             "of the and".split())  # fmt: skip

# ------------------------------------------------------------------ text that instructs

# A sentence that addresses the model instead of the reader: the text can instruct the model,
# it must not instruct the facts. Each entry is one class of address, case-insensitive; a
# command verb counts only where a clause begins (news text says "gab … aus", not "gib").
INSTRUCTION_CUES: tuple[tuple[str, str], ...] = (
    # "Ignoriere alle vorherigen Anweisungen": instructions that came before this text (news
    # says "ignorierte die Anweisungen des Arztes", with no such qualifier).
    ("override", r"\b(?:ignorier\w*|missacht\w*|vergiss|vergessen\s+sie|übergeh\w*|ignore|"
                 r"disregard|forget|override)\b[^.!?\n]{0,40}?\b(?:vorherig|bisherig|obig|"
                 r"vorig|vorangegangen|deine|eure|previous|prior|above|earlier|preceding|your|"
                 r"system)\w*\s+(?:\w+\s+)?(?:anweisung\w*|instruktion\w*|vorgabe\w*|befehl\w*|"
                 r"regeln|prompts?|instructions?|rules|directions)\b"),
    ("role", r"\b(?:du\s+bist|you\s+are|act\s+as|agiere\s+als|verhalte\s+dich\s+(?:als|wie))\s+"
             r"(?:(?:ein|eine|an?|the)\s+)?(?:KI|AI|Sprachmodell|language\s+model|assistant|"
             r"Assistent\w*|Chatbot|LLM|Modell|model|extractor|Extraktor)\b"),
    ("address", r"\b(?:an\s+(?:die|das|den)\s+(?:KI|Sprachmodell|Modell|Assistenten)|"
                r"(?:to|for)\s+the\s+(?:AI|model|assistant|extractor)|"
                r"(?:liebe[rs]?|hallo|hey|dear)\s+(?:KI|AI|Modell|model|Assistent|assistant))\b"),
    ("markup", r"<\|im_(?:start|end)\|>|\[/?INST\]|<<SYS>>|\bsystem\s*prompt\b|"
               r"\bsystemprompt\b|\bsystemanweisung\w*"),
    # A command to record a fact: "… und melde ein Handelsvolumen von …", "Report a treaty".
    ("command", r"(?:^|[,:;]\s*|\b(?:und|and|then|dann)\s+)(?:melde|meldet|melden\s+sie|gib|"
                r"geben\s+sie|report|output|return|respond|antworte|antworten\s+sie|extrahiere|"
                r"extrahieren\s+sie|trage|tragen\s+sie|schreibe|schreiben\s+sie|erfasse|"
                r"erfassen\s+sie|record|extract)\b(?:\W+\w+){0,6}?\W+(?:handels\w*|vertr[aä]g\w*|"
                r"abkommen\w*|treffen|zitat\w*|aussage\w*|fakt\w*|json|wert\w*|zahl\w*|trade|"
                r"treat(?:y|ies)|meeting|statement|quote|facts?|figure)\b"),
)  # fmt: skip

# ------------------------------------------------------------------------- trade figures

# What a trade figure measures, by the words around its amount. Each entry is a class and
# the patterns (lower case, regex syntax allowed) found anywhere in a word, so compounds
# count ("Gasexporte", "Außenhandelsumsatz"). A compound is what its last part says:
# "Handelsabkommen" is an agreement, "Exportvolumen" exports (see ``_rules.trade_metric``).
TRADE_METRIC_CUES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("exports", ("export", "ausfuhr", "ausgeführt", "ausführ")),
    ("imports", ("import", "einfuhr", "eingeführt", "einführ")),
    ("trade_volume", ("(?<!ver)handel(?!s?minist|s?partner|s?krieg|s?beziehung)",
                      "warenaustausch", "güteraustausch", "warenverkehr", "umsatz",
                      "tauschten", "ausgetauscht")),
    ("contract_value", ("vertrag", "verträge", "abkommen", "vereinbarung", "kontrakt",
                        "auftrag", "aufträge", "deal", "geschäft", "liefervertr")),
    ("investment", ("investition", "investiert", "investier")),
    ("price", ("preis", "tarif")),
    ("cost", ("kosten", "kostet", "kostete", "ausgaben")),
)  # fmt: skip
# A figure that is aimed at, not reached: a target noun next to the amount, a verb of
# aiming, or a modal verb (MODAL_CUES) or "zu" with a verb of raising in its clause ("wollen
# den Handel bis 2024 auf 200 Milliarden steigern", "das Ziel, … zu steigern").
# Target nouns are patterns too: "Handelsziel" is a target, "erzielte" and "gezielt" are not.
TARGET_NOUNS = ("(?<!ge)(?<!er)ziel(?!t)", "vorgabe")
TARGET_VERBS = ("anstreben", "angestrebt", "strebt", "streben", "anpeilen", "angepeilt",
                "peilt", "peilen")  # fmt: skip
RAISE_VERBS = ("steigern", "erhöhen", "ausbauen", "ausweiten", "verdoppeln", "bringen",
               "anheben", "steigen", "wachsen", "erreichen")  # fmt: skip
# A target's deadline: "bis 2024", "bis Ende 2024", "bis zum Jahr 2030", "für 2024".
DEADLINE_CUES = ("bis", "bis Ende", "bis zum Jahr", "bis zum Ende", "bis spätestens",
                 "spätestens", "für", "für das Jahr")  # fmt: skip
# Which way goods flow: "Exporte nach Russland", "Einfuhren aus China", "in die Russische
# Föderation". A country with neither is the exporter (of exports) or the importer (of
# imports): "Chinas Exporte", "die Importe der Volksrepublik"; an adjective of origin is
# where goods come from ("Importe russischer Waren").
FLOW_TO = ("nach", "in die", "in den", "in das", "in")
FLOW_FROM = ("aus", "von")
# The two parties a figure is between when its sentence names only one.
DEFAULT_PARTIES = ("China", "Russland")
# Labels of a metric in free text (gold files, a model's own words), English or German,
# as word starts: "bilateral trade volume", "China exports to Russia", "contract value".
METRIC_LABEL_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("target", ("target", "goal", "ziel")),
    ("exports", ("export", "ausfuhr")),
    ("imports", ("import", "einfuhr")),
    ("contract_value", ("contract", "agreement", "deal", "vertrag", "abkommen")),
    ("investment", ("invest",)),
    ("price", ("price", "preis")),
    ("cost", ("cost", "kosten")),
    ("trade_volume", ("trade", "turnover", "handel", "umsatz", "warenaustausch")),
)  # fmt: skip

# ------------------------------------------------------------------------ not-a-fact lines

# A line that credits a photo or names an author: its shape, then its lead word.
CREDIT_LEADS = ("Foto", "Fotos", "Bild", "Bilder", "Quelle", "Grafik", "Video", "Archivbild",
                "Symbolbild", "Titelbild", "Copyright", "©")  # fmt: skip
