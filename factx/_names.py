"""Name keys for matching people, countries and places across spellings. Pure functions.

German news spells Russian names in German transliteration (Lawrow, Patruschew, Uschakow,
Wladimir, Sergej), English sources in English (Lavrov, Patrushev, Ushakov, Vladimir, Sergei).
Both fold to one key. Chinese names put the family name first (Xi Jinping, Wang Yi), so their
surname is the first word, not the last.

    >>> canonical_person("Sergej Lawrow") == canonical_person("Lavrov")
    True
    >>> same_person("Xi Jiinping", "Xi Jinping"), same_person("Joe Biden", "Hunter Biden")
    (True, False)
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

from ._gazetteer import CITY_STATE, PARTY_NAMES, PLACE_NAMES, STATE_CODES
from ._lexicon import is_title

__all__ = [
    "CHINESE_SURNAMES",
    "canonical_country",
    "canonical_person",
    "canonical_place",
    "is_place",
    "name_key",
    "person_key",
    "same_person",
    "same_surname",
]

# Common Chinese (and a few Korean) family names. A name whose first word is one of these is
# read family-name-first, and the word is not transliteration-folded: pinyin is the same in
# German and English, and folding would merge distinct names (Zhao/Shao).
CHINESE_SURNAMES = frozenset(
    """
    bai cai cao chen cheng cui dai deng ding dong du duan fan fang feng fu gao gong gu guan guo
    han hao he ho hou hu hua huang ji jia jiang jin kong lai lei li liang liao lin liu long lu
    luo ma mao meng mo ni niu pan peng qi qian qiao qin qiu ren shao shen shi song su sun tan
    tang tao tian wan wang wei wen wu xi xia xiang xiao xie xiong xu xue yan yang yao ye yi yin
    yu yuan zeng zhai zhang zhao zheng zhong zhou zhu zou kim park choi
    """.split()
)

# Particles inside names ("von der Leyen", "Baschar al-Assad"): dropped, never a surname.
_PARTICLES = frozenset("von van der den de da di du la le al el bin ibn zu".split())

# German and English transliteration of Cyrillic, folded to one spelling. Order matters:
# "tsch" before "sch", "ts" before "z".
_FOLDS = (
    ("tsch", "ch"),
    ("sch", "sh"),
    ("zh", "sh"),
    ("kh", "ch"),
    ("ck", "k"),
    ("x", "ks"),
    ("w", "v"),
    ("tz", "z"),
    ("ts", "z"),
    ("z", "s"),
    ("j", "i"),
    ("y", "i"),
)
_DOUBLE = re.compile(r"(.)\1+")
_NON_LETTER = re.compile(r"[^a-z]")
_WORD = re.compile(r"[^\s,;()]+")
_PREFIX = re.compile(r"^(?:al|el)-", re.IGNORECASE)  # "al-Assad" -> "Assad"


def _ascii(text: str) -> str:
    """Lower-case ASCII letters only: diacritics dropped, ß -> ss."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("ß", "ss"))
    return _NON_LETTER.sub("", "".join(c for c in decomposed if not unicodedata.combining(c)))


@lru_cache(maxsize=4096)
def name_key(word: str) -> str:
    """One name word as a spelling-independent key: Lawrow, Lavrov -> "lavrov"."""
    key = _ascii(word)
    if key in CHINESE_SURNAMES:
        return key
    for old, new in _FOLDS:
        key = key.replace(old, new)
    return _DOUBLE.sub(r"\1", key)


def _is_title(word: str) -> bool:
    # "US-Außenminister", "Kreml-Sprecher": a hyphenated title has a title part at the end.
    return is_title(word)


@lru_cache(maxsize=4096)
def person_key(name: str) -> tuple[str, tuple[str, ...]]:
    """``(surname key, given-name keys)`` of a person's name; ``("", ())`` if none is left."""
    words = [_PREFIX.sub("", w.strip(".'’\"„“”")) for w in _WORD.findall(name)]
    words = [w for w in words if w and not _is_title(w) and w.casefold() not in _PARTICLES]
    # In a properly cased name, lower-case words are adjectives and articles ("russische").
    if any(w[0].isupper() for w in words):
        words = [w for w in words if not w[0].islower()]
    keys = [k for k in (name_key(w) for w in words) if k]
    if not keys:
        return "", ()
    if len(keys) <= 3 and keys[0] in CHINESE_SURNAMES:
        return keys[0], tuple(keys[1:])
    return keys[-1], tuple(keys[:-1])


def canonical_person(name: str) -> str:
    """The surname key of a name: "Wladimir Putin", "Putin", "Vladimir Putin" -> "putin".

    Titles are dropped ("Russlands Außenminister Sergej Lawrow" -> "lavrov"); Chinese names
    keep their family name ("Xi Jinping" -> "xi"). Returns "" when no name is left.
    """
    return person_key(name)[0]


def _close(a: str, b: str) -> bool:
    """Equal keys, or a typo apart in a long key (Gorbachov/Gorbachev), but not Lavrov/Lavrova."""
    if a == b:
        return True
    short = min(len(a), len(b))
    if short < 6 or a + "a" == b or b + "a" == a:
        return False
    return Levenshtein.distance(a, b) <= (2 if short >= 10 else 1)


def same_surname(a: str, b: str) -> bool:
    """Whether two names share a surname across spellings: "Lawrow" and "Sergei Lavrov"."""
    sa, sb = canonical_person(a), canonical_person(b)
    return bool(sa and sb) and _close(sa, sb)


def _given_compatible(a: str, b: str) -> bool:
    short = min(len(a), len(b))
    if a == b:
        return True
    if short == 1:  # an initial: "W. Putin"
        return a[0] == b[0]
    if a.startswith(b) or b.startswith(a):  # a short form: "Alex" / "Aleksandr"
        return short >= 3
    return short >= 5 and Levenshtein.distance(a, b) <= 2  # Antony / Anthony


def same_person(a: str, b: str) -> bool:
    """Same surname, and first names (where both give one) do not contradict.

    "Putin" and "Wladimir Putin" are the same person; "Joe Biden" and "Hunter Biden" are not.
    """
    (sa, ga), (sb, gb) = person_key(a), person_key(b)
    if not (sa and sb and _close(sa, sb)):
        return False
    return not (ga and gb) or _given_compatible(ga[0], gb[0])


# Countries under every name that stands for their government, and cities under their
# spellings: the gazetteer's, folded to ASCII keys.
_COUNTRY = {_ascii(a): STATE_CODES[n] for n, names in PARTY_NAMES.items() for a in (n, *names)}
_PLACE = {_ascii(a): _ascii(c) for c in CITY_STATE for a in (c, *PLACE_NAMES[c])}


def is_place(word: str) -> bool:
    """A country, a capital standing for it, or a known city, also in the genitive
    ("Russlands", "Pekings")."""
    key = _ascii(word)
    return any(k in _COUNTRY or k in _PLACE for k in (key, key.removesuffix("s")))


def canonical_country(name: str) -> str:
    """A country as an ISO-like code: "Russische Föderation", "Russia" -> "RU".

    A capital standing for its government counts as the country ("Peking" -> "CN"). Unknown
    names come back as a lower-case ASCII key, so they still compare across case and accents.
    """
    key = _ascii(name)
    return _COUNTRY.get(key, key)


def canonical_place(name: str) -> str:
    """A place key: "Beijing", "Peking" -> "peking"; a country name -> its country code."""
    key = _ascii(name)
    return _PLACE.get(key) or _COUNTRY.get(key, key)
