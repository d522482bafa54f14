"""An OpenAI-compatible chat-completions client, streamed over server-sent events.

``POST {base}/chat/completions`` with ``stream: true``; each SSE ``data`` is a
``chat.completion.chunk`` whose ``choices[0].delta.content`` is the next piece of text, and
``data: [DONE]`` ends the answer. vLLM, Ollama (``/v1``), llama.cpp's server and hosted APIs
speak it.

Failures are mapped at this boundary by one table (a test checks it is total):

=====================================  =======================================  ==========
what happened                          raised                                   retried
=====================================  =======================================  ==========
connect error / connect or read        LlmUnavailable                           yes
timeout / protocol or read error
HTTP 408, 409, 429, 5xx                LlmUnavailable                           yes
other HTTP 4xx                         LlmRefused (the endpoint's message)      no
an ``error`` object in the stream,     LlmUnavailable                           no
a chunk that is not JSON, the stream
ending without ``[DONE]``, the whole
answer past ``timeout_s``
=====================================  =======================================  ==========

Retries happen only before the first piece of text: once text has been streamed on, a retry
would repeat it.

An endpoint the request named (``Endpoint.named_by_request``) may be any listener the server
can reach: its error replies (an HTTP error's body, a stream's ``error`` object) are reported
by status code and a fixed text, never echoed to the caller (audit R14-F5).
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import certifi
import httpx

from llm_svc.context import Prompt
from llm_svc.errors import LlmRefused, LlmUnavailable
from llm_svc.settings import DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, Endpoint
from llm_svc.sse import events

__all__ = ["RETRYABLE_STATUS", "TRANSPORT_ERRORS", "OpenAIChat", "completions_url"]

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
# httpx's transport failures → retryable, as one table (TransportError is their base).
TRANSPORT_ERRORS: tuple[type[httpx.HTTPError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.LocalProtocolError,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.DecodingError,
    httpx.TooManyRedirects,
)
BACKOFF_S = 0.25
MAX_BACKOFF_S = 4.0
MAX_ERROR_CHARS = 300
# what stands for the reply of an endpoint the request named
NOT_SHOWN = "the reply of an endpoint the request names is not shown"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """Loading the CA bundle takes ~0.5 s: once per process, not once per explanation."""
    return ssl.create_default_context(cafile=certifi.where())


def completions_url(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith("/chat/completions") else f"{base}/chat/completions"


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def _error_text(body: bytes) -> str:
    try:
        parsed = json.loads(body)
        message = parsed.get("error", {}).get("message") if isinstance(parsed, dict) else None
        text = str(message or body.decode("utf-8", "replace"))
    except (ValueError, AttributeError):
        text = body.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text[:MAX_ERROR_CHARS]


class OpenAIChat:
    """Streams chat completions from one endpoint (see the module docstring)."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        temperature: float = 0.0,
        max_tokens: int = 1024,
        backoff_s: float = BACKOFF_S,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._timeout_s = timeout_s
        self._retries = max(0, retries)
        self._temperature = temperature
        self._max_tokens = max_tokens
        self._backoff_s = backoff_s
        self._client = client
        self._connect_s = connect_timeout_s

    @property
    def model(self) -> str:
        return self._endpoint.model

    def _payload(self, prompts: Sequence[Prompt]) -> dict[str, Any]:
        return {
            "model": self._endpoint.model,
            "messages": [{"role": p.role, "content": p.content} for p in prompts],
            "stream": True,
            "temperature": self._temperature,
            "max_tokens": self._max_tokens,
        }

    def _headers(self) -> dict[str, str]:
        headers = {"accept": "text/event-stream", "content-type": "application/json"}
        if self._endpoint.api_key:
            headers["authorization"] = f"Bearer {self._endpoint.api_key}"
        return headers

    async def stream(self, prompts: Sequence[Prompt]) -> AsyncIterator[str]:
        """The answer's text pieces, in order."""
        deadline = time.monotonic() + self._timeout_s
        client = self._client or httpx.AsyncClient(verify=_tls_context())
        try:
            attempt = 0
            while True:
                started = False
                try:
                    async for piece in self._once(client, prompts, deadline):
                        started = True
                        yield piece
                    return
                except _Retryable as failure:
                    if started or attempt >= self._retries:
                        raise self._unavailable(str(failure)) from None
                    delay = min(MAX_BACKOFF_S, failure.retry_after or self._backoff_s * 2**attempt)
                    if time.monotonic() + delay >= deadline:
                        raise self._unavailable(str(failure)) from None
                    attempt += 1
                    await asyncio.sleep(delay)
        finally:
            if self._client is None:
                await client.aclose()

    def _unavailable(self, why: str) -> LlmUnavailable:
        return LlmUnavailable(
            f"LLM endpoint {self._endpoint.url} unavailable: {why}", dependency="llm"
        )

    async def _once(
        self, client: httpx.AsyncClient, prompts: Sequence[Prompt], deadline: float
    ) -> AsyncIterator[str]:
        url = completions_url(self._endpoint.url)
        remaining = max(0.001, deadline - time.monotonic())
        timeout = httpx.Timeout(
            min(self._timeout_s, remaining), connect=min(self._connect_s, remaining)
        )
        try:
            async with client.stream(
                "POST", url, json=self._payload(prompts), headers=self._headers(),
                timeout=timeout,
            ) as response:  # fmt: skip
                if response.status_code >= 400:
                    why = await self._error_reply(response)
                    if response.status_code in RETRYABLE_STATUS:
                        raise _Retryable(why, _retry_after(response))
                    raise LlmRefused(
                        f"LLM endpoint {self._endpoint.url} refused the request: {why}",
                        subject="llm", status=response.status_code,
                    )  # fmt: skip
                finished = False
                async for event in events(response.aiter_lines()):
                    if event.data.strip() == "[DONE]":
                        finished = True
                        break
                    piece = self._content(event.data)
                    if piece:
                        yield piece
                    if time.monotonic() > deadline:
                        raise self._unavailable(f"no complete answer within {self._timeout_s:g} s")
                if not finished:
                    raise self._unavailable("the stream ended before [DONE]")
        except TRANSPORT_ERRORS as error:
            raise _Retryable(f"{type(error).__name__}: {error}".rstrip(": ")) from None

    async def _error_reply(self, response: httpx.Response) -> str:
        if self._endpoint.named_by_request:
            return f"HTTP {response.status_code} ({NOT_SHOWN})"
        return f"HTTP {response.status_code}: {_error_text(await response.aread())}"

    def _content(self, data: str) -> str:
        try:
            chunk = json.loads(data)
        except ValueError:
            raise self._unavailable("a stream chunk is not JSON") from None
        if not isinstance(chunk, dict):
            raise self._unavailable("a stream chunk is not a JSON object")
        if "error" in chunk:
            error = chunk["error"]
            message = error.get("message", "") if isinstance(error, dict) else str(error)
            shown = NOT_SHOWN if self._endpoint.named_by_request else str(message)
            raise self._unavailable(f"the endpoint reported an error: {shown[:MAX_ERROR_CHARS]}")
        choices = chunk.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            return ""
        delta = choices[0].get("delta") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        return content if isinstance(content, str) else ""
