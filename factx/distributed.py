"""factx on Ray Data (needs the ray extra: ``pip install 'factx[ray]'``).

    >>> import ray, factx
    >>> from factx.distributed import extract_dataset, write_parquet      # doctest: +SKIP
    >>> ds = ray.data.read_parquet("articles.parquet")     # {id, text, published}
    >>> results = extract_dataset(ds, factx.Settings(base_url=..., model=...), actors=8)
    >>> for batch in write_parquet(results, "out/").iter_batches(): ...

``extract_dataset`` gives one row per article (its ``ArticleFacts`` as JSON, its cache key,
status and calls); ``write_parquet`` writes them in factx's Parquet layout (one table per
fact type and one of articles), which ``factx check DIR`` reads. With ``out="out/"``,
``extract_dataset``'s actors write that layout themselves and give back only key, status
and calls (what ``factx extract --engine ray`` does).
"""

from ._distributed import (
    RESULT_SCHEMA,
    RunSummary,
    extract_dataset,
    init_ray,
    read_source,
    run,
    write_parquet,
)
from ._parquet import done_keys, read_results

__all__ = [
    "RESULT_SCHEMA",
    "RunSummary",
    "done_keys",
    "extract_dataset",
    "init_ray",
    "read_results",
    "read_source",
    "run",
    "write_parquet",
]
