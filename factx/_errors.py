"""The exception tree. Everything factx raises on purpose derives from ``FactxError``.

FactxError
├── ConfigError                  bad settings or flags (CLI exit code 2)
├── InputError                   one input file cannot become a Document
│   ├── EmptyArticleError        empty or whitespace-only text
│   ├── BinaryInputError         not text at all (NUL bytes, undecodable)
│   ├── MetadataError            a .meta.json that is malformed or impossible
│   └── MissingInputError        the file does not exist, vanished or cannot be read
├── ModelError                   the LLM endpoint failed us
│   ├── ServerStartError         the embedded llama.cpp server did not come up
│   ├── TransportError           timeouts, resets, 429/5xx, non-JSON bodies after all
│   │                            retries, or not sent once the endpoint's breaker gave up
│   └── BadModelOutputError      output that stays invalid after all retries
│       └── BudgetExceededError  the per-article token budget ran out
└── StoreError                   the SQLite store cannot be used (or is damaged)
"""

from __future__ import annotations


class FactxError(Exception):
    """Root of every error factx raises on purpose."""


class ConfigError(FactxError):
    pass


class InputError(FactxError):
    pass


class EmptyArticleError(InputError):
    pass


class BinaryInputError(InputError):
    pass


class MetadataError(InputError):
    pass


class MissingInputError(InputError):
    pass


class ModelError(FactxError):
    pass


class ServerStartError(ModelError):
    pass


class TransportError(ModelError):
    pass


class BadModelOutputError(ModelError):
    pass


class BudgetExceededError(BadModelOutputError):
    pass


class StoreError(FactxError):
    pass
