"""``fold``: the spelling-blind key every cross-check comparison starts from."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from factx._entities import fold


def _reference(text: str) -> str:
    # The plain definition: every character of the decomposed text looked at.
    text = text.casefold()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.replace("ß", "ss"))
        text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z ]+", " ", text.replace("-", " ")).split())


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Außenminister", "aussenminister"),
        ("„Wir vertiefen das“, sagte Lawrow.", "wir vertiefen das sagte lawrow"),
        ("Xi Jinping traf Wladimir Putin in Moskau", "xi jinping traf wladimir putin in moskau"),
        ("Çelik–Öztürk: Ölpreis 80 $", "celik ozturk olpreis"),
        ("Лавров sagte: «Nein»", "sagte nein"),
        ("", ""),
    ],
)  # fmt: skip
def test_fold_drops_accents_case_and_punctuation(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_fold_equals_its_plain_definition_on_mixed_scripts() -> None:
    rng = random.Random(11)
    # Latin with accents and ligatures, combining marks alone, Cyrillic, Greek, CJK,
    # typographic quotes and dashes, digits, spaces.
    alphabet = (
        "aAbßẞäöüÄÖÜéèêçñøåæœŒﬁﬂĳ" + "\u0301\u0308\u0327\u20d7" + "жЖйЙё" + "αΆΐ"
        + "中国" + "„“«»–—-’'" + "0123 \t\n"
    )  # fmt: skip
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        assert fold(text) == _reference(text), text
