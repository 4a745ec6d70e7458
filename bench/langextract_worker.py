"""Runs langextract on a job from stdin; one JSON line per article on stdout.

Started by ``bench_langextract.py`` with the Python of the langextract venv (``.venv-bench``),
so that langextract's dependencies never meet factx's (google-genai pins tenacity < 9.2).
It imports langextract, openai and openai's HTTP library only (httpx, or httpx2 from
openai 3.x on), never factx.

Job: ``{"base_url", "model", "prompt", "examples": [{"text", "extractions": [...]}],
"articles": [{"id", "text"}], "config": {...}}``. Each output line: the article id, its
extractions (class, text, char interval, alignment, attributes), wall seconds, and the
requests and ``usage`` tokens the server reported for it.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from typing import Any

import openai
from openai import _base_client

# The HTTP library this openai release sends through: its transports and clients must be
# that library's (newer openai 3.x releases import httpx2 instead of httpx).
httpx: Any = getattr(_base_client, "httpx2", None) or getattr(_base_client, "httpx")  # noqa: B009

PLACEHOLDER_KEY = "sk-no-key-required"


class Counting(httpx.BaseTransport):
    """Counts requests and the server's ``usage``; optionally sends ``json_schema`` response
    formats as ``{"type": "json_object", "schema": …}``, the form llama-cpp-python enforces."""

    def __init__(self, legacy_schema: bool) -> None:
        self.inner = httpx.HTTPTransport()
        self.legacy_schema = legacy_schema
        self.lock = threading.Lock()
        self.requests = self.ok = self.prompt_tokens = self.completion_tokens = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.legacy_schema and request.content:
            body = json.loads(request.content)
            rf = body.get("response_format") or {}
            if rf.get("type") == "json_schema":
                schema = (rf.get("json_schema") or {}).get("schema", {})
                body["response_format"] = {"type": "json_object", "schema": schema}
                headers = {
                    k: v for k, v in request.headers.items() if k.lower() != "content-length"
                }
                request = httpx.Request(request.method, request.url, headers=headers, json=body)
        response = self.inner.handle_request(request)
        response.read()
        usage: dict[str, Any] = {}
        try:
            usage = response.json().get("usage") or {}
        except (ValueError, AttributeError):
            pass
        with self.lock:
            self.requests += 1
            self.ok += response.status_code == 200
            self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.completion_tokens += int(usage.get("completion_tokens") or 0)
        return response

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {
                "requests": self.requests,
                "ok": self.ok,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
            }


class OmittedChunks(logging.Handler):
    """Counts the chunks langextract drops because the model's JSON did not parse."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "omitted" in record.getMessage().lower():
            self.count += 1


def _extraction(e: Any) -> dict[str, Any]:
    ci = e.char_interval
    return {
        "extraction_class": e.extraction_class,
        "extraction_text": e.extraction_text,
        "start": getattr(ci, "start_pos", None) if ci else None,
        "end": getattr(ci, "end_pos", None) if ci else None,
        "alignment": e.alignment_status.value if e.alignment_status else None,
        "attributes": e.attributes or {},
    }


def main() -> None:
    from importlib.metadata import version

    import langextract as lx
    from langextract.providers.openai import OpenAILanguageModel
    from langextract.providers.schemas.openai import OpenAISchema

    job = json.load(sys.stdin)
    versions = {name: version(name) for name in ("langextract", "openai", httpx.__name__)}
    print(json.dumps({"worker": versions}), flush=True)
    cfg = job["config"]
    examples = [
        lx.data.ExampleData(
            text=ex["text"], extractions=[lx.data.Extraction(**e) for e in ex["extractions"]]
        )
        for ex in job["examples"]
    ]
    kwargs: dict[str, Any] = {"seed": 0}
    if cfg.get("max_output_tokens"):
        kwargs["max_output_tokens"] = cfg["max_output_tokens"]
    lm = OpenAILanguageModel(
        model_id=job["model"],
        api_key=PLACEHOLDER_KEY,
        base_url=job["base_url"],
        temperature=0.0,
        max_workers=cfg["max_workers"],
        **kwargs,
    )
    schema = cfg["constrain"] == "schema"
    if schema:
        lm.apply_schema(OpenAISchema.from_examples(examples))
    counter = Counting(legacy_schema=schema)
    # The provider builds openai.OpenAI(api_key, base_url) itself: the same, counted.
    lm._client = openai.OpenAI(
        api_key=PLACEHOLDER_KEY,
        base_url=job["base_url"],
        timeout=cfg["timeout"],
        http_client=httpx.Client(
            transport=counter, timeout=httpx.Timeout(cfg["timeout"], connect=10.0)
        ),
    )
    lm.set_fence_output(False)
    omitted = OmittedChunks()
    logging.getLogger().addHandler(omitted)
    deadline = time.monotonic() + 60 * cfg["max_minutes"] if cfg.get("max_minutes") else None
    for art in job["articles"]:
        if deadline is not None and time.monotonic() > deadline:
            print(json.dumps({"id": art["id"], "status": "not run"}), flush=True)
            continue
        before = counter.snapshot()
        omitted_before = omitted.count
        t0 = time.perf_counter()
        status, error, extractions = "ok", None, []
        try:
            doc = lx.extract(
                text_or_documents=art["text"],
                prompt_description=job["prompt"],
                examples=examples,
                model=lm,
                use_schema_constraints=False,
                fence_output=False,
                max_char_buffer=cfg["max_char_buffer"],
                batch_length=max(cfg["max_workers"], 1),
                max_workers=cfg["max_workers"],
                extraction_passes=cfg["passes"],
                show_progress=False,
            )
            extractions = [_extraction(e) for e in doc.extractions or []]
        except Exception as e:  # langextract's and openai's errors: record, go on
            status, error = "failed", f"{type(e).__name__}: {str(e)[:300]}"
        wall = time.perf_counter() - t0
        after = counter.snapshot()
        line = {
            "id": art["id"],
            "status": status,
            "error": error,
            "wall_s": wall,
            "extractions": extractions,
            "omitted_chunks": omitted.count - omitted_before,
            **{k: after[k] - before[k] for k in after},
        }
        print(json.dumps(line, ensure_ascii=False), flush=True)
        print(
            f"  langextract {art['id']}: {status}, {len(extractions)} extractions, "
            f"{line['omitted_chunks']} chunks unparsed, {line['requests']} calls, {wall:.1f} s"
            + (f"\n    {error}" if error else ""),
            file=sys.stderr,
            flush=True,
        )


if __name__ == "__main__":
    main()
