"""From a ``Document`` to a grounded, normalised ``ArticleFacts``: the strategy asks, then
``finalize`` grounds and checks.

- ``questions`` (``_questions``, small local models): deterministic candidates, then one
  narrow, enum-constrained question per candidate where the words leave it open.
- ``whole`` (``_whole``, strong models): one schema-constrained call per chunk.

Both end in ``_finalize.finalize``: every fact is grounded against the text and every number
and date is re-derived from its evidence; what fails is flagged, never silently passed on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ._client import LLM
from ._drafts import Drafts
from ._errors import BadModelOutputError, BudgetExceededError, ModelError, TransportError
from ._finalize import finalize
from ._prompts import Prompts, load_prompts
from ._questions import ask_questions
from ._schemas import ArticleError, ArticleFacts, Document, Usage
from ._settings import Settings
from ._whole import ask_whole

__all__ = ["ExtractionOutcome", "Extractor"]


@dataclass(frozen=True)
class ExtractionOutcome:
    facts: ArticleFacts
    cacheable: bool  # False for transport failures: a rerun should try again


class Extractor:
    def __init__(self, llm: LLM, settings: Settings, prompts: Prompts | None = None) -> None:
        self.llm = llm
        self.settings = settings
        self.prompts = prompts or load_prompts()
        self.strategy = settings.resolved_strategy()

    @property
    def prompt_version(self) -> str:
        return self.prompts.version_for(self.strategy)

    def extract(
        self, doc: Document, *, on_call: Callable[[], None] | None = None
    ) -> ExtractionOutcome:
        self.llm.reset()
        errors: list[ArticleError] = list(doc.warnings)
        drafts = Drafts()
        cacheable = True
        status: Literal["ok", "partial", "failed"] = "ok"

        def ask(
            model: type[Any],
            prompt: str,
            label: str,
            system: str | None = None,
            max_tokens: int = 160,
        ) -> Any | None:
            return self._ask(model, prompt, label, errors, on_call, system, max_tokens)

        try:
            if self.strategy == "whole":
                ask_whole(doc, self.settings, self.prompts, ask, drafts, errors)
            else:
                ask_questions(doc, self.prompts, ask, drafts)
        except BudgetExceededError as e:
            errors.append(ArticleError(stage="extract", error=type(e).__name__, message=str(e)))
            status = "partial"
        except (TransportError, ModelError) as e:
            # The endpoint failed, not the article: record it, cache nothing, retry on rerun.
            errors.append(ArticleError(stage="extract", error=type(e).__name__, message=str(e)))
            status, cacheable = "failed", False
        if status == "ok" and any(e.stage == "extract" for e in errors):
            status = "partial"
        st = self.llm.stats
        facts = finalize(
            doc,
            drafts,
            model=self.settings.model,
            strategy=self.strategy,
            prompt_version=self.prompt_version,
            usage=Usage(
                calls=st.calls,
                prompt_tokens=st.prompt_tokens,
                completion_tokens=st.completion_tokens,
                retries=st.retries,
                cached_answers=st.cached_answers,
                cached_prompt_tokens=st.cached_prompt_tokens,
            ),
            errors=errors,
            status=status,
        )
        return ExtractionOutcome(facts, cacheable)

    def _ask(
        self,
        model: type[Any],
        prompt: str,
        label: str,
        errors: list[ArticleError],
        on_call: Callable[[], None] | None,
        system: str | None = None,
        max_tokens: int = 160,
    ) -> Any | None:
        """One answer, or None when the output stayed invalid (recorded in ``errors``)."""
        messages = [
            {"role": "system", "content": system or self.prompts.system(label)},
            {"role": "user", "content": prompt},
        ]
        try:
            return self.llm.ask(model, messages, max_tokens=max_tokens, label=label)
        except BadModelOutputError as e:
            if isinstance(e, BudgetExceededError):
                raise
            errors.append(ArticleError(stage="extract", error=type(e).__name__, message=str(e)))
            return None
        finally:
            if on_call:
                on_call()
