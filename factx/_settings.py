"""One frozen settings object. The library never reads the environment; the CLI does."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ._errors import ConfigError

Mode = Literal["auto", "json_schema", "tools", "json"]
Strategy = Literal["auto", "questions", "whole"]

# The embedded default: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, served by llama.cpp.
DEFAULT_LOCAL_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"


def default_cache_dir() -> Path:
    """The platform's cache folder for factx (``$XDG_CACHE_HOME/factx``, by default
    ``~/.cache/factx``, on Linux), where the store and the assembled model live."""
    import platformdirs

    return platformdirs.user_cache_path("factx", appauthor=False)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything that shapes a run. ``base_url=None`` means: start the embedded server."""

    model: str = DEFAULT_LOCAL_MODEL
    base_url: str | None = None
    # repr=False: a key must never reach logs, errors or ``--verbose`` output.
    api_key: str | None = field(default=None, repr=False)
    mode: Mode = "auto"
    strategy: Strategy = "auto"
    gguf: Path | None = None
    cache_dir: Path = field(default_factory=default_cache_dir)
    store_path: Path | None = None  # None: <cache_dir>/factx.sqlite3
    concurrency: int = 1
    timeout: float = 120.0
    max_transport_attempts: int = 5
    max_validation_retries: int = 1
    # The endpoint's circuit breaker: open after this many transport failures in a row,
    # then pause this long before each probe; give up after len(breaker_pauses) probes.
    breaker_threshold: int = 5
    breaker_pauses: tuple[float, ...] = (10.0, 30.0, 60.0)
    token_budget: int = 60_000  # prompt + completion tokens per article, retries included
    answer_cache: bool = True  # keep every answer by its request; never pay for it twice
    max_chunk_chars: int = 12_000
    chunk_overlap: int = 400
    n_ctx: int = 4096  # the local server's context (embedded or behind base_url)
    n_threads: int | None = None
    temperature: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.timeout <= 0:
            raise ConfigError(f"timeout must be > 0, got {self.timeout}")
        if self.max_transport_attempts < 1:
            raise ConfigError("max_transport_attempts must be >= 1")
        if self.breaker_threshold < 1:
            raise ConfigError("breaker_threshold must be >= 1")
        if any(p < 0 for p in self.breaker_pauses):
            raise ConfigError("breaker_pauses must not be negative")
        if self.token_budget < 1:
            raise ConfigError("token_budget must be >= 1")
        if self.chunk_overlap >= self.max_chunk_chars:
            raise ConfigError("chunk_overlap must be smaller than max_chunk_chars")

    @property
    def embedded(self) -> bool:
        return self.base_url is None

    @property
    def hosted(self) -> bool:
        """OpenAI itself, as opposed to a local server (embedded, llama.cpp, Ollama, vLLM)."""
        return self.base_url is not None and "api.openai.com" in self.base_url

    @property
    def resolved_store_path(self) -> Path:
        return self.store_path or self.cache_dir / "factx.sqlite3"

    def resolved_mode(self) -> Literal["json_schema", "tools", "json"]:
        if self.mode != "auto":
            return self.mode
        # OpenAI itself gets TOOLS; local servers (llama.cpp, Ollama, vLLM) JSON_SCHEMA,
        # which held schemas where plain JSON mode broke them (instructor issue tracker).
        if self.hosted:
            return "tools"
        return "json_schema"

    def resolved_strategy(self) -> Literal["questions", "whole"]:
        if self.strategy != "auto":
            return self.strategy
        # Small local models fail at whole-schema extraction (measured; see README).
        if self.hosted:
            return "whole"
        return "questions"

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
