"""Grounding: find each evidence span in the article. (Placeholder: exact match only.

Issue 3 replaces this with exact -> normalized -> fuzzy alignment.)
"""

from __future__ import annotations

from typing import NamedTuple

from ._schemas import Alignment


class Grounding(NamedTuple):
    char_start: int | None
    char_end: int | None
    status: Alignment


def ground(evidence: str, text: str, *, start: int = 0) -> Grounding:
    i = text.find(evidence, start)
    if i < 0 and start:
        i = text.find(evidence)
    if i < 0 or not evidence:
        return Grounding(None, None, "none")
    return Grounding(i, i + len(evidence), "exact")
