"""Canonical entities for the cross-checker: people, places and governments across spellings.

A small curated alias table covers well-known names only; everything else goes through a
transliteration key (Lawrow/Lavrov -> "lavrov") and, failing that, a fuzzy surname match
with rapidfuzz. Every resolution records the rule that produced it, so a merge can be
explained in the report. Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz, process

from ._gazetteer import CITY_STATE, PARTY_NAMES, PLACE_NAMES
from ._lexicon import PEOPLE_ALIASES, is_title
from ._names import CHINESE_SURNAMES

EntityKind = Literal["person", "place", "party"]

# label -> variants: the one alias table of people (_lexicon), folded before lookup.
_PERSONS: dict[str, tuple[str, ...]] = dict(PEOPLE_ALIASES)
# Chinese names put the family name first.
_FAMILY_FIRST = frozenset(n for n in _PERSONS if n.split()[0].lower() in CHINESE_SURNAMES)

# German and English transliterations of Cyrillic folded to one spelling; order matters.
_FOLDS = (("tsch", "ch"), ("sch", "sh"), ("zh", "sh"), ("kh", "ch"), ("w", "v"), ("z", "s"))
_FOLD_Y = re.compile(r"[jy]")
_DOUBLE = re.compile(r"(.)\1+")
_NON_WORD = re.compile(r"[^a-z ]+")

FUZZY_SURNAME_MIN = 88  # rapidfuzz ratio for two unknown surnames to count as one person
FUZZY_MIN_LEN = 6  # short surnames (Wang/Wong, Li/Lu) are never fuzzy-merged


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _no_marks(m: re.Match[str]) -> str:
    return "".join(c for c in m[0] if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Lower-case ASCII words, accents dropped: "Außenminister" -> "aussenminister"."""
    text = text.casefold()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.replace("ß", "ss"))
        # Combining marks dropped; only the non-ASCII runs are looked at, char by char.
        text = _NON_ASCII.sub(_no_marks, text)
    return " ".join(_NON_WORD.sub(" ", text.replace("-", " ")).split())


def translit(text: str) -> str:
    """A spelling-independent key: "Patruschew" and "Patrushev" both -> "patrushev"."""
    key = fold(text)
    for old, new in _FOLDS:
        key = key.replace(old, new)
    key = _FOLD_Y.sub("y", key)
    return _DOUBLE.sub(r"\1", key)


@dataclass(frozen=True, slots=True)
class Resolved:
    """A canonical entity: ``key`` compares, ``label`` is shown, ``rule`` explains."""

    kind: EntityKind
    key: str
    label: str
    rule: str


def _table(kind: EntityKind, table: dict[str, tuple[str, ...]]) -> dict[str, Resolved]:
    """Keys: every variant folded (rule: alias table), then transliterated (rule: translit)."""
    out: dict[str, Resolved] = {}
    for label, variants in table.items():
        for variant in (label, *variants):
            rule = "exact" if variant == label else f"alias table: {variant} = {label}"
            out.setdefault(fold(variant), Resolved(kind, f"{kind}:{label}", label, rule))
    for label, variants in table.items():
        for variant in (label, *variants):
            key = translit(variant)
            rule = f"transliteration: {key} = {label}"
            out.setdefault(key, Resolved(kind, f"{kind}:{label}", label, rule))
    return out


def _lookup(table: dict[str, Resolved], text: str) -> Resolved | None:
    return table.get(fold(text)) or table.get(translit(text))


_PERSON_TABLE = _table("person", _PERSONS)
# Places and states under their other spellings, and governments under every name that
# stands for them (a seat: "Kreml"), from the gazetteer.
_PLACE_TABLE = _table("place", PLACE_NAMES)
_PARTY_TABLE = _table("party", PARTY_NAMES)


def _strip_titles(name: str) -> list[str]:
    words = [w for w in name.replace("-", " ").split() if w]
    kept = [w for w in words if not is_title(w) and not w[:1].islower()]
    return kept or words


class EntityResolver:
    """Resolves names to canonical entities; remembers unknown people so later spellings join.

    Unknown people are keyed by their folded surname; a new surname that is a near-miss of
    a known one (rapidfuzz ratio >= ``FUZZY_SURNAME_MIN``, both long enough) joins it.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[EntityKind, str], Resolved] = {}
        self._surnames: dict[str, Resolved] = {}  # folded surname -> first unknown person seen
        self._merges: dict[tuple[EntityKind, str], Resolved] = {}

    def person(self, name: str) -> Resolved:
        return self._resolve("person", name)

    def place(self, name: str) -> Resolved:
        return self._resolve("place", name)

    def party(self, name: str) -> Resolved:
        return self._resolve("party", name)

    def merges(self) -> list[tuple[str, Resolved]]:
        """Every spelling that was merged into an entity of another label, with its rule."""
        return sorted(
            ((text, r) for (_, text), r in self._merges.items()),
            key=lambda item: (item[1].kind, item[1].label, item[0]),
        )

    def _resolve(self, kind: EntityKind, name: str) -> Resolved:
        hit = self._cache.get((kind, name))
        if hit is None:
            if kind == "person":
                hit = self._person(name)
            else:
                table = _PLACE_TABLE if kind == "place" else _PARTY_TABLE
                hit = _lookup(table, name) or Resolved(
                    kind, f"{kind}:{translit(name)}", name.strip(), "exact"
                )
            self._cache[(kind, name)] = hit
            if name.strip() != hit.label:
                self._merges[(kind, name.strip())] = hit
        return hit

    def _person(self, name: str) -> Resolved:
        words = _strip_titles(name)
        hit = _lookup(_PERSON_TABLE, " ".join(words))
        if hit is not None:
            if hit.rule == "exact" and " ".join(words) != name.strip():
                return Resolved("person", hit.key, hit.label, "title dropped")
            return hit
        if len(words) > 1:
            # "Sergei W. Lavrov": a known surname with a compatible given name.
            for surname, given in ((words[-1], words[:-1]), (words[0], words[1:])):
                known = _lookup(_PERSON_TABLE, surname)
                if known is None:
                    continue
                label_given = _given(known.label)
                if not label_given or _given_ok(translit(" ".join(given)), label_given):
                    rule = f"alias table: surname {surname} + given name"
                    return Resolved("person", known.key, known.label, rule)
        surname = translit(words[-1])
        seen = self._surnames.get(surname)
        if seen is not None:
            rule = "exact" if seen.label == " ".join(words) else f"same surname: {surname}"
            return Resolved("person", seen.key, seen.label, rule)
        if len(surname) >= FUZZY_MIN_LEN and self._surnames:
            match = process.extractOne(
                surname, list(self._surnames), scorer=fuzz.ratio, score_cutoff=FUZZY_SURNAME_MIN
            )
            if match is not None and len(match[0]) >= FUZZY_MIN_LEN:
                seen = self._surnames[match[0]]
                rule = f"fuzzy surname: {surname} ~ {match[0]} (rapidfuzz ratio {match[1]:.0f})"
                self._surnames[surname] = seen
                return Resolved("person", seen.key, seen.label, rule)
        new = Resolved("person", f"person:{surname}", " ".join(words), "exact")
        self._surnames[surname] = new
        return new


def _given(label: str) -> str:
    parts = label.split()
    rest = parts[1:] if label in _FAMILY_FIRST else parts[:-1]
    return translit(" ".join(rest))


def _given_ok(given: str, known: str) -> bool:
    if not given:
        return True
    if len(given) == 1:  # an initial: "W. Putin"
        return known.startswith(given)
    return fuzz.ratio(given, known) >= 75 or known.startswith(given) or given.startswith(known)


def places_compatible(a: Resolved | None, b: Resolved | None) -> bool:
    """Unknown places fit anything; a city fits its country ("Moskau" within "Russland")."""
    if a is None or b is None or a.key == b.key:
        return True
    return CITY_STATE.get(a.label) == b.label or CITY_STATE.get(b.label) == a.label


def more_specific(a: Resolved | None, b: Resolved | None) -> Resolved | None:
    """The city rather than its country; the known place rather than ``None``."""
    if a is None:
        return b
    if b is not None and b.label in CITY_STATE and a.label not in CITY_STATE:
        return b
    return a
