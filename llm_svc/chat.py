"""The interface every chat backend implements (the OpenAI-compatible client; fakes in tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from llm_svc.context import Prompt

__all__ = ["ChatBackend"]


class ChatBackend(Protocol):
    """Streams a chat completion's text, piece by piece.

    Raises ``LlmUnavailable`` when the endpoint cannot be reached or fails (after its own
    retries) and ``LlmRefused`` when it refuses the request.
    """

    @property
    def model(self) -> str: ...

    def stream(self, prompts: Sequence[Prompt]) -> AsyncIterator[str]: ...
