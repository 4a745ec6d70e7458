"""The service's ``/metrics``: counters and histograms in Prometheus text format, kept in
memory; LLM calls are read from the store's ``calls`` table at scrape time.
"""

from __future__ import annotations

import bisect
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._batch import Outcome

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_LLM_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64)


class Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0

    def observe(self, v: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, v)] += 1
        self.sum += v

    def lines(self, name: str, labels: str) -> list[str]:
        out, acc = [], 0
        sep = "," if labels else ""
        for le, n in zip((*map(_num, self.buckets), "+Inf"), self.counts, strict=True):
            acc += n
            out.append(f'{name}_bucket{{{labels}{sep}le="{le}"}} {acc}')
        brace = f"{{{labels}}}" if labels else ""
        out += [f"{name}_sum{brace} {self.sum:.6f}", f"{name}_count{brace} {acc}"]
        return out


def _num(v: float) -> str:
    return repr(float(v))


class Metrics:
    """Prometheus text format, written by hand: counters and histograms in memory; LLM
    calls read from the store's ``calls`` table at scrape time (the ground truth)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = {}
        self.request_latency: dict[str, Histogram] = {}
        self.articles: dict[str, int] = {}
        self.article_latency = Histogram(_LLM_BUCKETS)
        self.llm_calls = 0
        self.llm_errors = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.llm_latency = Histogram(_LLM_BUCKETS)
        self.last_call_id = 0

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (method, route, status)
            self.requests[key] = self.requests.get(key, 0) + 1
            self.request_latency.setdefault(route, Histogram(_LATENCY_BUCKETS)).observe(seconds)

    def article(self, outcome: Outcome, seconds: float) -> None:
        with self._lock:
            self.articles[outcome] = self.articles.get(outcome, 0) + 1
            self.article_latency.observe(seconds)

    def calls(self, rows: list[tuple[int, int, int, int, str | None]]) -> None:
        with self._lock:
            for call_id, latency_ms, pt, ct, error in rows:
                self.llm_calls += 1
                self.llm_errors += error is not None
                self.prompt_tokens += pt
                self.completion_tokens += ct
                self.llm_latency.observe(latency_ms / 1000)
                self.last_call_id = max(self.last_call_id, call_id)

    def render(self, jobs: dict[str, int], queued_articles: int) -> str:
        out: list[str] = []

        def head(name: str, kind: str, text: str) -> None:
            out.extend((f"# HELP {name} {text}", f"# TYPE {name} {kind}"))

        with self._lock:
            head("factx_http_requests_total", "counter", "HTTP requests by route and status.")
            for (m, r, s), n in sorted(self.requests.items()):
                out.append(
                    f'factx_http_requests_total{{method="{m}",route="{r}",status="{s}"}} {n}'
                )
            head("factx_http_request_duration_seconds", "histogram", "HTTP request latency.")
            for route, h in sorted(self.request_latency.items()):
                out += h.lines("factx_http_request_duration_seconds", f'route="{route}"')
            head("factx_articles_total", "counter", "Articles finished, by outcome.")
            for outcome, n in sorted(self.articles.items()):
                out.append(f'factx_articles_total{{outcome="{outcome}"}} {n}')
            head("factx_article_duration_seconds", "histogram", "Time to finish one article.")
            out += self.article_latency.lines("factx_article_duration_seconds", "")
            head("factx_llm_calls_total", "counter", "LLM calls made by this service.")
            out.append(f"factx_llm_calls_total {self.llm_calls}")
            head("factx_llm_call_errors_total", "counter", "LLM calls that ended in an error.")
            out.append(f"factx_llm_call_errors_total {self.llm_errors}")
            head("factx_llm_tokens_total", "counter", "LLM tokens, by kind.")
            out.append(f'factx_llm_tokens_total{{kind="prompt"}} {self.prompt_tokens}')
            out.append(f'factx_llm_tokens_total{{kind="completion"}} {self.completion_tokens}')
            head("factx_llm_call_duration_seconds", "histogram", "LLM call latency.")
            out += self.llm_latency.lines("factx_llm_call_duration_seconds", "")
        head("factx_jobs", "gauge", "Jobs by state.")
        for state, n in sorted(jobs.items()):
            out.append(f'factx_jobs{{state="{state}"}} {n}')
        head("factx_queued_articles", "gauge", "Articles pending or running.")
        out.append(f"factx_queued_articles {queued_articles}")
        return "\n".join(out) + "\n"
