"""Prompts: the files in ``prompts/``, each with a ``version:`` header that is part of the
cache key. A prompt's static part (before ``~~~``) follows the system prompt, so a server's
prefix cache holds it across calls; only the part after ``~~~`` varies per question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ._errors import FactxError

_PROMPT_NAMES = ("system", "speaker", "trade", "meeting", "treaty", "whole")
# Bump when the code that turns answers into facts changes: it is part of the cache key.
EXTRACTOR_VERSION = "20"


def _prompt_dir() -> Path:
    packaged = resources.files("factx") / "prompts"
    if packaged.is_dir():
        return Path(str(packaged))
    # Editable install / source checkout: the top-level prompts/ folder.
    return Path(__file__).resolve().parent.parent / "prompts"


@dataclass(frozen=True)
class Prompts:
    texts: dict[str, str]
    versions: dict[str, str]

    def version_for(self, strategy: str) -> str:
        names = ("system", "whole") if strategy == "whole" else _PROMPT_NAMES[:5]
        prompts = ",".join(f"{n}@{self.versions[n]}" for n in names)
        return f"{strategy}:x{EXTRACTOR_VERSION}:{prompts}"

    def render(self, name: str, **values: str) -> str:
        text = self.texts[name].split("\n~~~\n", 1)[-1]
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        return text

    def system(self, name: str) -> str:
        """The static part of a question: it goes first, so the server caches it."""
        head, sep, _ = self.texts[name].partition("\n~~~\n")
        return self.texts["system"] + ("\n\n" + head if sep else "")


def load_prompts(folder: Path | None = None) -> Prompts:
    folder = folder or _prompt_dir()
    texts: dict[str, str] = {}
    versions: dict[str, str] = {}
    for name in _PROMPT_NAMES:
        raw = (folder / f"{name}.txt").read_text(encoding="utf-8")
        head, sep, body = raw.partition("\n---\n")
        m = re.match(r"version:\s*(\S+)", head)
        if not sep or not m:
            raise FactxError(f"prompt {name}.txt lacks its 'version: N' header and '---' line")
        versions[name] = m.group(1)
        texts[name] = body.strip()
    return Prompts(texts, versions)
