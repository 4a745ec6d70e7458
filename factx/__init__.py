"""factx: German news articles in, grounded and cross-checked facts out.

    >>> import factx
    >>> result = factx.extract(text, published="2024-05-16")      # doctest: +SKIP
    >>> report = factx.cross_check([result, ...])                  # doctest: +SKIP

Everything public is listed in ``__all__``; the ``_modules`` behind it are private.
"""

from ._amounts import normalize_amount
from ._batch import Item, Pipeline, extract, extract_many
from ._crosscheck import cross_check
from ._dates import resolve_date
from ._errors import (
    AuthenticationError,
    BadModelOutputError,
    BinaryInputError,
    BudgetExceededError,
    ConfigError,
    EmptyArticleError,
    FactxError,
    InputError,
    InvalidRequestError,
    LimitExceededError,
    MetadataError,
    MissingInputError,
    ModelError,
    NotFoundError,
    ServerStartError,
    ServiceError,
    ServiceUnavailableError,
    StoreError,
    TransportError,
)
from ._eval import score
from ._gold import gold_to_results, load_gold
from ._ground import Grounding, ground
from ._jobs import ServiceSettings
from ._remote import Client
from ._schemas import (
    ArticleError,
    ArticleFacts,
    ConsolidatedFact,
    CrossCheckReport,
    Document,
    FactRef,
    Finding,
    Meeting,
    Source,
    Statement,
    TradeFigure,
    Treaty,
    Usage,
)
from ._settings import Settings

__all__ = [
    "ArticleError",
    "ArticleFacts",
    "AuthenticationError",
    "BadModelOutputError",
    "BinaryInputError",
    "BudgetExceededError",
    "Client",
    "ConfigError",
    "ConsolidatedFact",
    "CrossCheckReport",
    "Document",
    "EmptyArticleError",
    "FactRef",
    "FactxError",
    "Finding",
    "Grounding",
    "InputError",
    "InvalidRequestError",
    "Item",
    "LimitExceededError",
    "Meeting",
    "MetadataError",
    "MissingInputError",
    "ModelError",
    "NotFoundError",
    "Pipeline",
    "ServerStartError",
    "ServiceError",
    "ServiceSettings",
    "ServiceUnavailableError",
    "Settings",
    "Source",
    "Statement",
    "StoreError",
    "TradeFigure",
    "TransportError",
    "Treaty",
    "Usage",
    "cross_check",
    "extract",
    "extract_many",
    "gold_to_results",
    "ground",
    "load_gold",
    "normalize_amount",
    "resolve_date",
    "score",
]
