"""People and organisations named in a German text, without a closed list of names.

A person is found by the shape of the words around a name, not by being known:
- a role noun before capitalised words ("Kremlsprecher Dmitri Peskow", "die Feministin
  Alice Schwarzer");
- a given name (gender-guesser's lexicon of many countries) before a capitalised word
  ("Recep Tayyip Erdogan", "Jerry Larson");
- a run of two or three capitalised words none of which is a German common word (HanTa's
  lexicon: "Ayaan Hirsi Ali" yes, "Xi Entspannung" no);
- a Chinese family name before a capitalised word ("Li Qiang");
- a name from the alias table (``_lexicon.PEOPLE_ALIASES``), which only folds spellings.
A name repeated later by its surname ("Ali", "Peskows") is the same person.

An organisation that can speak is found by its head noun ("das Bundesministerium der
Finanzen", "der Kreml", "die Staatsanwaltschaft") or as an acronym ("die SPD", "der BGH").

HanTa and gender-guesser ship their data inside their wheels; both load lazily, once.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ._lexicon import (
    EXTRA_GIVEN_NAMES,
    FEMININE_ENDING,
    NOT_NAME,
    ORG_NAMES,
    ORG_SUFFIXES,
    PEOPLE_ALIASES,
    ROLE_NOUNS,
    ROLE_SUFFIXES,
)
from ._names import CHINESE_SURNAMES, is_place, same_person

EntityKind = Literal["person", "org"]


@dataclass(frozen=True)
class Entity:
    """Someone the article names: the fullest form, and the forms it is mentioned by."""

    name: str
    kind: EntityKind
    first: int  # offset of the first mention
    forms: tuple[str, ...]  # full name, surname, aliases: each found as whole words


# -------------------------------------------------------------------------- word lexica


@functools.cache
def _tagger() -> Any:
    from HanTa import HanoverTagger

    return HanoverTagger.HanoverTagger("morphmodel_ger.pgz")


@functools.cache
def _given_names() -> Any:
    import gender_guesser.detector as gd

    return gd.Detector(case_sensitive=False)


# A word HanTa knows scores far above one it guesses (about -10 against -30).
_KNOWN_WORD_SCORE = -20.0


_LEXICAL = frozenset({"NN", "NN_VAR", "VV", "ADJ", "ADJ(A)", "ADJ(D)", "ADV"})


@functools.lru_cache(maxsize=65536)
def is_common_word(word: str) -> bool:
    """A capitalised German word that is not a proper noun: one from HanTa's lexicon
    ("Gang", "Entspannung", "Sonntag"), or a compound of known words ("Hauptstandort",
    "Softwareunternehmens"). Unknown single words ("Schäferkordt", "Mischustin") are not."""
    tagger = _tagger()
    tags = tagger.tag_word(word)
    if not tags:
        return False
    tag, score = tags[0][0], float(tags[0][1])
    if tag in ("NE", "FM", "XY"):
        return False
    if score > _KNOWN_WORD_SCORE:
        return True
    parts = [p for p, t in tagger.analyze(word, taglevel=3)[1] if t in _LEXICAL]
    return len(parts) >= 2


@functools.lru_cache(maxsize=16384)
def is_given_name(word: str) -> bool:
    if word in _EXTRA_GIVEN:
        return True
    if word in NOT_NAME or is_common_word(word):
        return False
    # The lexicon spells most names without accents: "Néstor" is "Nestor".
    return any(
        str(_given_names().get_gender(w)) in {"male", "female", "mostly_male", "mostly_female"}
        for w in dict.fromkeys((word, _unaccented(word)))
    )


def _unaccented(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


_EXTRA_GIVEN = frozenset(EXTRA_GIVEN_NAMES)


@functools.lru_cache(maxsize=4096)
def gender(name: str) -> Literal["m", "f"] | None:
    """What a person's given name says of their gender ("Janet Yellen" -> "f"); None where
    it says nothing (an unknown or family-first name)."""
    words = name.split()
    if len(words) < 2:
        return None
    g = str(_given_names().get_gender(words[0]))
    return (
        "m" if g in ("male", "mostly_male") else "f" if g in ("female", "mostly_female") else None
    )


# ------------------------------------------------------------------------------ patterns

_CAP = r"[A-ZÄÖÜ][a-zäöüßéèáàëïçğşćčšžńłõãâêôíóúñ'’]+(?:-[A-ZÄÖÜ][a-zäöüß]+)?"
_INITIAL = r"[A-Z]\."
_PARTICLE = r"(?:von der|von|van der|van|de|da|di|del|al-|bin|ibn|zu)"
# A run of capitalised words, with name particles inside ("Theo van Gogh").
_RUN = re.compile(rf"{_CAP}(?:\s+(?:(?:{_PARTICLE}|{_INITIAL})\s+)?{_CAP})*")
_ROLE_WORD = re.compile(
    r"\b(?:(?:"
    + "|".join(ROLE_NOUNS)
    + r")|[A-ZÄÖÜ][\w-]*(?:"
    + "|".join(ROLE_SUFFIXES)
    + r"))"
    + FEMININE_ENDING
    + r"$",
    re.IGNORECASE,
)
_ACRONYM = re.compile(r"\b[A-ZÄÖÜ]{2,5}[0-9]?\b")
# States and blocs are parties, not speakers.
_NOT_ORG_ACRONYMS = frozenset("USA US EU UN UNO UdSSR BRD DDR GUS AG GmbH KG PS UTC MEZ".split())
# A capitalised noun, maybe after a capitalised adjective ("Berliner Landgericht").
_ORG_WORD = re.compile(
    r"\b(?:(?P<adj>[A-ZÄÖÜ][a-zäöüß]{3,}(?:er|en|e))\s+)?(?P<noun>[A-ZÄÖÜ][\w-]+)\b"
)  # "sagte Ho Tiang Bun, ein Professor": a name between a verb of speech and a comma.
_SAID_NAME = re.compile(
    rf"\b(?:sagte|erklärte|betonte|schrieb|meinte)\s+(?P<name>{_CAP}(?:\s+{_CAP}){{1,2}}),"
    r"\s+(?:ein|eine|der|die)\s"
)


_ROLE_ENDINGS = ("innen", "in", "en", "es", "n", "s")


@functools.lru_cache(maxsize=16384)
def role_of(word: str) -> str | None:
    """The office a word names, case and endings dropped: "Ministerpräsidenten" ->
    "ministerpräsident", "Kreml-Sprecherin" -> "kreml-sprecher"; None for other words."""
    if not _ROLE_WORD.search(word):
        return None
    key = word.casefold()
    for ending in _ROLE_ENDINGS:
        if key.endswith(ending) and _ROLE_WORD.search(key[: -len(ending)]):
            return key[: -len(ending)]
    return key


_INITIAL_RE = re.compile(r"[A-Z]\.")
_LAST_WORD = re.compile(r"([\w-]+)\W*$")


def _word_before(text: str, start: int) -> str:
    m = _LAST_WORD.search(text[max(0, start - 40) : start])
    return m.group(1) if m else ""


def _is_nameish(token: str) -> bool:
    return token not in NOT_NAME and not is_common_word(token)


_PARTICLES = frozenset("von der van de da di del bin ibn zu dos das al".split())
_TOKEN = re.compile(r"[^\W\d_][\w'’.-]*")


def _is_cap(tok: str) -> bool:
    # "Lawrow", "McCarthy", "Wieczorek-Zeul": upper case first, some lower case after.
    return tok[0].isupper() and any(c.islower() for c in tok)


def _runs(text: str) -> Iterable[tuple[int, list[str]]]:
    """Runs of capitalised words separated by single spaces, with name particles and
    initials inside ("Theo van Gogh", "George W. Bush"); each run with its offset."""
    run: list[str] = []
    start = end = 0
    for m in _TOKEN.finditer(text):
        tok = m.group().rstrip(".-") if not _INITIAL_RE.fullmatch(m.group()) else m.group()
        if not tok:
            continue
        joined = run and text[end : m.start()] == " "
        inner = tok in _PARTICLES or _INITIAL_RE.fullmatch(tok) is not None
        if _is_cap(tok) or (inner and joined):
            if not joined:
                if run:
                    yield start, run
                run, start = [], m.start()
            run.append(tok)
            end = m.start() + len(tok)
            continue
        if run:
            yield start, run
        run = []
    if run:
        yield start, run


def _breaks(tok: str, segment: list[str]) -> bool:
    if tok in NOT_NAME or is_place(tok):
        return True
    # A surname may be a common word right after a given name ("Alice Schwarzer").
    if len(segment) == 1 and is_given_name(segment[0]):
        return False
    return is_common_word(tok) or bool(_ROLE_WORD.search(tok))


def _people_in_run(tokens: list[str], after_role: bool) -> list[tuple[int, list[str], bool]]:
    """The names in a run of capitalised words, each with its index in the run: the run is
    cut at function words and common nouns, and a cut at a role noun marks a name after it
    ("Berlins Innensenator Frank Henkel")."""
    out: list[tuple[int, list[str], bool]] = []
    seg: list[str] = []
    seg_at, role = 0, after_role
    for i, tok in enumerate([*tokens, "Und"]):
        particle = tok in _PARTICLES or _INITIAL_RE.fullmatch(tok) is not None
        if particle and seg:
            seg.append(tok)
            continue
        # "traf Wang Nikolai Patruschew", "Wang Yi Nikolai Patruschew": a given name after a
        # Chinese family name, or after a complete name, starts another person's name. Not
        # next to a particle: "Luiz Inácio Lula da Silva" is one name.
        nearby = {seg[-1] if seg else "", tokens[i + 1] if i + 1 < len(tokens) else ""}
        if (
            is_given_name(tok)
            and (len(seg) >= 2 or (len(seg) == 1 and seg[0].lower() in CHINESE_SURNAMES))
            and not nearby & _PARTICLES
        ):
            name, weak = _name_of(seg, role)
            if name and len(name) >= 2:
                out.append((seg_at, name, weak))
            seg, seg_at, role = [], i, False
        if particle or _breaks(tok, seg):
            while seg and (seg[-1] in _PARTICLES or seg[-1].endswith(".")):
                seg.pop()
            name, weak = _name_of(seg, role)
            if name:
                out.append((seg_at, name, weak))
            seg, seg_at = [], i + 1
            role = bool(_ROLE_WORD.search(tok)) if i < len(tokens) else False
            continue
        seg.append(tok)
    return out


def _name_of(seg: list[str], after_role: bool) -> tuple[list[str], bool]:
    """The name a segment holds ([] for none), and whether the evidence for it is weak."""
    seg = seg[:5]
    while seg and (seg[-1] in _PARTICLES or seg[-1].endswith(".")):
        seg.pop()
    if not seg:
        return [], False
    head = seg[0]
    if len(seg) >= 2:
        if after_role or is_given_name(head) or head.lower() in CHINESE_SURNAMES:
            return seg, False
        words = [t for t in seg if t not in _PARTICLES and not t.endswith(".")]
        # Unknown words alone are weak evidence ("Wall Street"): _find keeps such a name
        # only when the article repeats its surname.
        return (seg, True) if all(_is_nameish(t) for t in words) else ([], False)
    # One word is a name only after a role noun ("Außenminister Lawrow").
    return (seg, False) if after_role and _is_nameish(head) else ([], False)


def _repeated(text: str, full: str, surname: str) -> bool:
    """The surname occurs alone, not only as part of the full name ("Ayaan Hirsi Ali …
    Ali"; not "Wall Street Journal … Wall Street Journal")."""
    alone = len(re.findall(rf"(?<![\w-]){re.escape(surname)}(?![\w-])", text))
    within = len(re.findall(rf"(?<![\w-]){re.escape(full)}(?![\w-])", text))
    return alone > within


def _surname(name: str) -> str:
    parts = name.split()
    if len(parts) <= 3 and parts[0].lower() in CHINESE_SURNAMES and len(parts) >= 2:
        return parts[0]
    return parts[-1]


@functools.cache
def _alias_pattern() -> re.Pattern[str]:
    every = sorted({f for fs in _alias_forms().values() for f in fs}, key=len, reverse=True)
    alts = "|".join(re.escape(f) for f in every)
    return re.compile(rf"(?<![\w-])(?P<form>{alts})(?:s)?(?![\w-])")


@functools.cache
def _alias_forms() -> dict[str, tuple[str, ...]]:
    return {name: (name, *aliases) for name, aliases in PEOPLE_ALIASES.items()}


@functools.lru_cache(maxsize=64)
def _find(text: str) -> tuple[Entity, ...]:
    found: dict[str, int] = {}
    for start, tokens in _runs(text):
        after_role = bool(_ROLE_WORD.search(_word_before(text, start)))
        for _, name, weak in _people_in_run(tokens, after_role):
            full = " ".join(name)
            at = start + text[start:].find(name[0])
            if weak and not _repeated(text, full, name[-1]):
                continue
            found.setdefault(full, at)
    for m in _SAID_NAME.finditer(text):
        found.setdefault(m.group("name"), m.start("name"))
    # The alias table folds spellings to one name.
    # One pass over the text for every alias form (a search per form was most of the time
    # on long texts); the earliest place of each form.
    first_at: dict[str, int] = {}
    for m in _alias_pattern().finditer(text):
        first_at.setdefault(m.group("form"), m.start())
    for canon, variants in _alias_forms().items():
        # A one-word alias ("Wang") is someone else's when the article names a "Wang Wenbin".
        usable = list(variants)
        if any(_surname(n) in variants and n != canon for n in found if len(n.split()) > 1):
            usable = [f for f in usable if len(f.split()) > 1]
        pos = [first_at[f] for f in usable if f in first_at]
        if pos:
            found = {k: v for k, v in found.items() if k not in variants or k == canon}
            found[canon] = min([*pos, found.get(canon, len(text))])
    # A name inside a longer one ("Putin" in "Wladimir Putin") is that person.
    names = sorted(found, key=lambda n: found[n])
    people = [n for n in names if not any(n != o and _part_of(n, o) for o in names)]
    # "Wang Lawrow", "Xi Putin": two people side by side, each named by a surname.
    surnames = {n: _surname(n) for n in people}
    people = [
        n
        for n in people
        if len(n.split()) < 2
        or not all(
            any(t in (surnames[o], surnames[o] + "s") for o in people if o != n) for t in n.split()
        )
    ]
    # A misspelt repeat of a name in the article is that person ("Xi Jiinping").
    merged: list[str] = []
    for n in people:
        if not any(len(n.split()) > 1 and len(o.split()) > 1 and same_person(n, o) for o in merged):
            merged.append(n)
    people = merged
    entities = [Entity(n, "person", found[n], forms(n)) for n in people]
    taken = {w for e in entities for f in e.forms for w in f.split()}
    orgs: dict[str, int] = {}
    for m in _ACRONYM.finditer(text):
        w = m.group()
        if w not in _NOT_ORG_ACRONYMS and w not in taken:
            orgs.setdefault(w, m.start())
    for m in _ORG_WORD.finditer(text):
        noun, adj = m.group("noun"), m.group("adj")
        if adj and _org_head(adj):
            orgs.setdefault(adj, m.start())
        if noun.lower().endswith(_ORG_HEADS) and _org_head(noun):
            org = f"{adj} {noun}" if adj and _is_adjective(adj) else noun
            orgs.setdefault(org, m.start() if org != noun else m.start("noun"))
    for n in ORG_NAMES:
        if (p := find_word(text, n)) >= 0:
            orgs.setdefault(n, p)
    entities += [Entity(n, "org", p, (n,)) for n, p in sorted(orgs.items(), key=lambda x: x[1])]
    return tuple(sorted(entities, key=lambda e: e.first))


_ORG_HEADS = tuple(sorted(ORG_SUFFIXES, key=len, reverse=True))


@functools.lru_cache(maxsize=16384)
def _org_head(word: str) -> bool:
    """A noun whose last part is a body's head noun: "Umweltministeriums" yes, "Insgesamt"
    (an adverb) and "Zwangsheirat" (… + "Heirat", not "Rat") no."""
    tagger = _tagger()
    tags = tagger.tag_word(word)
    if not tags or tags[0][0] not in ("NN", "NE"):
        return False
    parts = [p for p, t in tagger.analyze(word, taglevel=3)[1] if t in _LEXICAL]
    if len(parts) >= 2:  # a compound: its last part is the head
        last = parts[-1].lower()
        return any(last.startswith(h) and len(last) - len(h) <= 2 for h in _ORG_HEADS)
    w = word.lower()
    return any(w.endswith(h) for h in _ORG_HEADS)


@functools.lru_cache(maxsize=16384)
def _is_adjective(word: str) -> bool:
    tags = _tagger().tag_word(word)
    return bool(tags) and str(tags[0][0]).startswith(("ADJ", "NNA"))


def _part_of(short: str, long: str) -> bool:
    return f" {short} " in f" {long} " or (len(short.split()) == 1 and short == _surname(long))


# Every spelling in the alias table -> its whole row: "Patrushev" -> ("Nikolai Patruschew", …).
PEOPLE_ALIASES_ROWS = tuple((canon, *aliases) for canon, aliases in PEOPLE_ALIASES.items())
_ALIAS_ROWS = {
    spelling: (canon, *aliases)
    for canon, aliases in PEOPLE_ALIASES.items()
    for spelling in (canon, *aliases)
}


@functools.lru_cache(maxsize=4096)
def forms(name: str) -> tuple[str, ...]:
    """The forms a person is mentioned by: full name, aliases, surname. A name spelled in
    one transliteration ("Nikolai Patrushev") has the other spellings of its row too."""
    sur = _surname(name)
    row = _ALIAS_ROWS.get(name) or next(
        (r for r in PEOPLE_ALIASES_ROWS if len(name.split()) > 1 and same_person(name, r[0])), ()
    )
    forms = [name, *row]
    if sur != name and len(sur) >= 2:
        forms.append(sur)
    return tuple(dict.fromkeys(forms))


@functools.lru_cache(maxsize=4096)
def _word_re(form: str, genitive: bool) -> re.Pattern[str]:
    ending = "(?:s)?" if genitive else ""
    return re.compile(rf"(?<![\w-]){re.escape(form)}{ending}(?![\w-])")


def word_pattern(form: str, *, genitive: bool = True) -> re.Pattern[str]:
    """``form`` as whole words, a genitive "s" allowed unless ``genitive`` is False."""
    return _word_re(form, genitive)


def find_word(text: str, form: str, *, genitive: bool = True) -> int:
    if form not in text:
        return -1  # the pattern needs the form itself: a substring test is ~50x cheaper
    m = _word_re(form, genitive).search(text)
    return m.start() if m else -1


def find_entities(text: str) -> list[Entity]:
    """People and organisations, in order of first mention."""
    return list(_find(text))


def people(text: str) -> list[str]:
    return [e.name for e in _find(text) if e.kind == "person"]


def mentioned(span: str, entities: Sequence[Entity], *, genitive: bool = True) -> list[Entity]:
    """Which entities ``span`` names, by any of their forms; a genitive ("Lawrows Reise")
    counts unless ``genitive`` is False."""
    return [e for e in entities if any(find_word(span, f, genitive=genitive) >= 0 for f in e.forms)]
