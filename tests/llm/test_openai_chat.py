"""The OpenAI-compatible backend against a local endpoint speaking the real SSE wire format."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from llm_svc.context import Prompt
from llm_svc.errors import LlmRefused, LlmUnavailable
from llm_svc.openai_chat import TRANSPORT_ERRORS, OpenAIChat, completions_url
from llm_svc.settings import Endpoint
from tests.llm.fake_openai import Script, closed_port_url, fake_openai

PROMPTS = [Prompt("system", "rules"), Prompt("user", "explain")]


def collect(backend: OpenAIChat) -> list[str]:
    async def run() -> list[str]:
        return [piece async for piece in backend.stream(PROMPTS)]

    return asyncio.run(run())


def chat(url: str, **kw: object) -> OpenAIChat:
    kw.setdefault("backoff_s", 0.01)
    return OpenAIChat(Endpoint(url, "tiny-model", "sk-test"), **kw)  # type: ignore[arg-type]


def test_streams_the_pieces_in_order_and_sends_a_chat_request() -> None:
    with fake_openai(Script(pieces=["Meta ", "drove ", "revenue."])) as fake:
        assert collect(chat(fake.url)) == ["Meta ", "drove ", "revenue."]
    (seen,) = fake.requests
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == "Bearer sk-test"
    assert seen.body["model"] == "tiny-model" and seen.body["stream"] is True
    assert seen.body["messages"] == [
        {"role": "system", "content": "rules"}, {"role": "user", "content": "explain"},
    ]  # fmt: skip


def test_retries_an_overloaded_endpoint_before_any_text() -> None:
    with fake_openai(Script(pieces=["ok."], fail_first=2, fail_status=503)) as fake:
        assert collect(chat(fake.url, retries=2)) == ["ok."]
    assert len(fake.requests) == 3


def test_gives_up_after_its_retries_with_unavailable() -> None:
    with (
        fake_openai(Script(pieces=["ok."], fail_first=5, fail_status=429)) as fake,
        pytest.raises(LlmUnavailable) as caught,
    ):
        collect(chat(fake.url, retries=1))
    assert len(fake.requests) == 2 and "HTTP 429" in caught.value.message
    assert caught.value.dependency == "llm"


def test_a_refusal_is_not_retried() -> None:
    with (
        fake_openai(Script(status=401, error="invalid api key")) as fake,
        pytest.raises(LlmRefused) as caught,
    ):
        collect(chat(fake.url, retries=3))
    assert len(fake.requests) == 1 and "invalid api key" in caught.value.message


def test_an_endpoint_that_is_down_is_unavailable() -> None:
    with pytest.raises(LlmUnavailable, match="ConnectError"):
        collect(chat(closed_port_url(), retries=1))


def test_a_slow_answer_stops_at_the_timeout() -> None:
    with (
        fake_openai(Script(pieces=["a", "b", "c", "d"], delay_s=0.3)) as fake,
        pytest.raises(LlmUnavailable, match=r"within|Timeout"),
    ):
        collect(chat(fake.url, timeout_s=0.5, retries=0))


def test_a_stream_cut_before_done_is_unavailable() -> None:
    with (
        fake_openai(Script(pieces=["half a sen"], done=False)) as fake,
        pytest.raises(LlmUnavailable, match=r"\[DONE\]"),
    ):
        collect(chat(fake.url))


def test_an_error_object_in_the_stream_is_unavailable() -> None:
    raw = [json.dumps({"error": {"message": "model overloaded"}})]
    with (
        fake_openai(Script(raw=raw)) as fake,
        pytest.raises(LlmUnavailable, match="model overloaded"),
    ):
        collect(chat(fake.url))


def test_a_chunk_that_is_not_json_is_unavailable() -> None:
    with (
        fake_openai(Script(raw=["{not json"])) as fake,
        pytest.raises(LlmUnavailable, match="not JSON"),
    ):
        collect(chat(fake.url))


def test_the_transport_error_table_is_total() -> None:
    """Every httpx transport failure is mapped (none escapes as an unmapped exception)."""

    def leaves(cls: type) -> list[type]:
        subs = cls.__subclasses__()
        return [cls] if not subs else [leaf for s in subs for leaf in leaves(s)]

    unmapped = [c for c in leaves(httpx.TransportError) if not issubclass(c, TRANSPORT_ERRORS)]
    assert not unmapped


def test_completions_url() -> None:
    assert completions_url("http://h:1/v1/") == "http://h:1/v1/chat/completions"
    assert completions_url("http://h:1/v1/chat/completions") == "http://h:1/v1/chat/completions"
