"""Server-sent events, as the WHATWG HTML standard defines the stream format.

Lines are ``field: value``; ``data`` lines accumulate (joined by newlines) until a blank line
dispatches the event; lines starting with ``:`` are comments (keep-alives). OpenAI-compatible
servers send one JSON chunk per ``data`` and end with ``data: [DONE]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

__all__ = ["Event", "events"]


@dataclass(frozen=True, slots=True)
class Event:
    data: str
    event: str = "message"
    id: str = ""


async def events(lines: AsyncIterator[str]) -> AsyncIterator[Event]:
    """Events from a stream of lines (without their line endings)."""
    data: list[str] = []
    event, last_id = "", ""
    async for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data:
                yield Event("\n".join(data), event or "message", last_id)
            data, event = [], ""
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            last_id = value
    if data:  # a stream that ends without the final blank line still delivers its last event
        yield Event("\n".join(data), event or "message", last_id)
