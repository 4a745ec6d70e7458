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
├── StoreError                   the SQLite store (or output path) cannot be used, or is damaged
└── ServiceError                 the factx service (``factx.Client``) answered with an error
    ├── AuthenticationError      401: the API key is missing or wrong
    ├── NotFoundError            404: no such job (or it belongs to another key)
    ├── InvalidRequestError      422: malformed input; the message names the field
    ├── LimitExceededError       413/429: a size or rate limit; ``retry_after`` in seconds
    └── ServiceUnavailableError  unreachable, or a 5xx answer
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


class ServiceError(FactxError):
    """An error answer of the factx service; ``status`` is its HTTP status (0: none)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class AuthenticationError(ServiceError):
    pass


class NotFoundError(ServiceError):
    pass


class InvalidRequestError(ServiceError):
    pass


class LimitExceededError(ServiceError):
    def __init__(self, message: str, *, status: int = 0, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ServiceUnavailableError(ServiceError):
    pass
