"""A local OpenAI-compatible endpoint for tests: real HTTP on a free port, the real
chat-completions streaming wire format (``text/event-stream``, chunked, one
``chat.completion.chunk`` per ``data:`` line, ``data: [DONE]``), behaviour given as data."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Script:
    """What the endpoint answers.

    ``pieces`` are the content deltas streamed in order; ``fail_first`` requests are answered
    with ``fail_status`` first; ``status`` other than 200 answers every request with that
    error; ``delay_s`` sleeps before each piece; ``done`` sends ``[DONE]``; ``raw`` replaces the
    stream with these exact ``data`` payloads.
    """

    pieces: list[str] = field(default_factory=list)
    status: int = 200
    error: str = "something went wrong"
    fail_first: int = 0
    fail_status: int = 503
    delay_s: float = 0.0
    done: bool = True
    raw: list[str] | None = None
    keepalive: bool = True  # send an SSE comment line first, as servers do


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        return None  # a client that hangs up a kept-alive connection is not a test failure


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeOpenAI:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Seen] = []
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(Seen(self.path, dict(self.headers.items()), body))
                s = fake.script
                failing = len(fake.requests) <= s.fail_first
                if s.status != 200 or failing:
                    code = s.fail_status if failing else s.status
                    payload = json.dumps({"error": {"message": s.error, "type": "error"}}).encode()
                    self.send_response(code)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                if s.keepalive:
                    self._chunk(b": keep-alive\n\n")
                payloads = s.raw if s.raw is not None else [self._delta(p, body) for p in s.pieces]
                try:
                    for data in payloads:
                        if s.delay_s:
                            time.sleep(s.delay_s)
                        self._chunk(f"data: {data}\n\n".encode())
                    if s.done and s.raw is None:
                        self._chunk(f"data: {self._finish(body)}\n\n".encode())
                        self._chunk(b"data: [DONE]\n\n")
                    self._chunk(b"")
                except (BrokenPipeError, ConnectionResetError):
                    return

            @staticmethod
            def _delta(piece: str, body: dict[str, Any]) -> str:
                return json.dumps(
                    {
                        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                        "model": body.get("model", ""),
                        "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                    }
                )  # fmt: skip

            @staticmethod
            def _finish(body: dict[str, Any]) -> str:
                return json.dumps(
                    {
                        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                        "model": body.get("model", ""),
                        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    }
                )  # fmt: skip

        return Handler

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def fake_openai(script: Script) -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(script).start()
    try:
        yield fake
    finally:
        fake.stop()


def closed_port_url() -> str:
    """A URL on loopback where nothing listens (an endpoint that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def words(text: str) -> list[str]:
    """A text split into small pieces, as a model streams it (sentences cut mid-number)."""
    return [text[i : i + 7] for i in range(0, len(text), 7)]
