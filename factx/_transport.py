"""The HTTP layer under the openai client, and the client factory.

``make_client`` builds the instructor-wrapped openai client for any OpenAI-compatible
endpoint, on ``SchemaFormatTransport``: it sends ``response_format`` as ``json_schema`` and
falls back, once per endpoint and process (``FORMATS``), to the older ``json_object`` form
for servers that refuse it; and it turns a 200 answer that is no chat completion into
``MalformedResponseError``, a transport error that ``_client`` retries.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any, cast

import httpx

from ._settings import Settings

if TYPE_CHECKING:
    import instructor

# Local servers ignore the key but the openai client insists on one.
_PLACEHOLDER_KEY = "sk-no-key-required"


class FormatMemory:
    """Which ``response_format`` each endpoint takes, learnt once per endpoint and process.

    The first ``json_schema`` request to an endpoint is a probe; requests that arrive while
    it is in flight wait for its verdict instead of each being refused on their own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._legacy: dict[str, bool] = {}
        self._probes: dict[str, threading.Event] = {}

    def verdict(self, endpoint: str) -> bool | None:
        """True: send the legacy form; False: ``json_schema`` works; None: not known yet."""
        with self._lock:
            return self._legacy.get(endpoint)

    def claim_probe(self, endpoint: str) -> threading.Event | None:
        """None if the caller is to probe; else the event to wait on for the verdict."""
        with self._lock:
            if endpoint in self._legacy:
                done = threading.Event()
                done.set()
                return done
            event = self._probes.get(endpoint)
            if event is None:
                self._probes[endpoint] = threading.Event()
                return None
            return event

    def settle(self, endpoint: str, legacy: bool | None) -> None:
        """Record the probe's verdict (None: the probe failed for another reason)."""
        with self._lock:
            if legacy is not None:
                self._legacy[endpoint] = legacy
            event = self._probes.pop(endpoint, None)
        if event is not None:
            event.set()


# Shared by every client make_client builds in this process.
FORMATS = FormatMemory()


def _endpoint(request: httpx.Request) -> str:
    path = request.url.path.rsplit("/chat/completions", 1)[0]
    return f"{request.url.scheme}://{request.url.host}:{request.url.port}{path}"


class SchemaFormatTransport(httpx.BaseTransport):
    """Sends ``response_format`` as OpenAI's ``json_schema``; falls back to the older
    ``{"type": "json_object", "schema": …}`` for servers that only know that form.

    llama-cpp-python's server rejects ``json_schema`` (with a 500 naming the allowed types),
    while OpenAI, vLLM, Ollama and llama.cpp's own server take it. The switch happens on
    that specific answer, so other 5xx still reach the retry layer, and once per endpoint
    in a ``FormatMemory`` (``make_client`` shares one per process, so concurrent workers pay
    at most one refused request per endpoint).
    """

    def __init__(
        self,
        inner: httpx.BaseTransport | None = None,
        *,
        legacy: bool = False,
        memory: FormatMemory | None = None,
    ):
        self.inner = inner or httpx.HTTPTransport()
        self.legacy = legacy
        self.memory = memory or FormatMemory()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = _json_body(request)
        response = self._send(request, body)
        if body is not None and not body.get("stream"):
            _check_completion(request, response)
        return response

    def _send(self, request: httpx.Request, body: dict[str, Any] | None) -> httpx.Response:
        rf = body.get("response_format") if body else None
        if body is None or not (isinstance(rf, dict) and rf.get("type") == "json_schema"):
            return self.inner.handle_request(request)
        endpoint = _endpoint(request)
        while not self.legacy:
            known = self.memory.verdict(endpoint)
            if known is not None:
                self.legacy = known
                break
            wait = self.memory.claim_probe(endpoint)
            if wait is None:
                return self._probe(request, body, endpoint)
            wait.wait(timeout=request.extensions.get("timeout", {}).get("read") or 600.0)
            if self.memory.verdict(endpoint) is None:
                break  # the probe failed for another reason: try json_schema ourselves
        if self.legacy:
            return self.inner.handle_request(_as_json_object(request, body))
        return self.inner.handle_request(request)

    def _probe(self, request: httpx.Request, body: dict[str, Any], endpoint: str) -> httpx.Response:
        verdict: bool | None = None
        try:
            response = self.inner.handle_request(request)
            if response.status_code in (400, 422, 500):
                response.read()
                if "json_object" in response.text and "json_schema" in response.text:
                    response.close()
                    verdict = self.legacy = True
                    return self.inner.handle_request(_as_json_object(request, body))
            if response.status_code == 200:
                verdict = False
            return response
        finally:
            self.memory.settle(endpoint, verdict)

    def close(self) -> None:
        self.inner.close()


class MalformedResponseError(httpx.RemoteProtocolError):
    """A 200 answer that is no chat completion: a truncated body, or no ``choices``.

    That is the transport's fault, not the model's, so it is retried like a reset rather
    than spending a validation re-ask, and a batch never caches it as the article's result.
    """


def _check_completion(request: httpx.Request, response: httpx.Response) -> None:
    if response.status_code != 200 or not request.url.path.endswith("/chat/completions"):
        return
    ctype = response.headers.get("content-type", "")
    if "text/event-stream" in ctype:
        return
    response.read()
    try:
        data = json.loads(response.content)
    except ValueError:
        what = f"{ctype.split(';')[0] or 'no content type'}, {len(response.content)} bytes"
        hint = ", truncated?" if "json" in ctype else ""
        problem = f"body is not JSON ({what}{hint})"
    else:
        choices = data.get("choices") if isinstance(data, dict) else None
        problem = "" if isinstance(choices, list) and choices else "no choices in the answer"
    if problem:
        response.close()
        raise MalformedResponseError(f"malformed chat completion: {problem}", request=request)


def _json_body(request: httpx.Request) -> dict[str, Any] | None:
    if "json" not in request.headers.get("content-type", ""):
        return None
    try:
        body = json.loads(request.content)
    except (ValueError, httpx.RequestNotRead):
        return None
    return body if isinstance(body, dict) else None


def _as_json_object(request: httpx.Request, body: dict[str, Any]) -> httpx.Request:
    schema = body["response_format"].get("json_schema", {}).get("schema", {})
    new = {**body, "response_format": {"type": "json_object", "schema": schema}}
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    # Keep the extensions: they carry the per-request timeout.
    return httpx.Request(
        request.method, request.url, headers=headers, json=new, extensions=request.extensions
    )


def make_client(
    settings: Settings, base_url: str, *, transport: httpx.BaseTransport | None = None
) -> instructor.Instructor:
    """``instructor.from_openai(OpenAI(base_url=…, api_key=…), mode=…)`` for any endpoint.

    ``transport`` replaces the plain HTTP transport under the schema-format fallback, e.g.
    ``httpx.MockTransport`` or a proxy-aware transport from the calling pipeline.
    """
    # openai and instructor are imported by the first client (1.2 s): factx check and its
    # worker processes never call a model.
    import instructor
    import openai

    client = openai.OpenAI(
        base_url=base_url,
        api_key=settings.api_key or _PLACEHOLDER_KEY,
        max_retries=0,
        timeout=settings.timeout,
        # openai accepts a plain httpx client; vcrpy records through it in the tests.
        http_client=cast(
            Any,
            httpx.Client(
                transport=SchemaFormatTransport(transport, memory=FORMATS),
                timeout=httpx.Timeout(settings.timeout, connect=10.0),
            ),
        ),
    )
    mode = {
        "json_schema": instructor.Mode.JSON_SCHEMA,
        "tools": instructor.Mode.TOOLS,
        "json": instructor.Mode.JSON,
    }[settings.resolved_mode()]
    return instructor.from_openai(client, mode=mode)
