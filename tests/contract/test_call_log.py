"""The call log says how a call ended, a call abandoned by its client included."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc.app import build as memory_build
from mesh.runtime.inprocess import running_services
from mesh.runtime.synthetic_records import synthetic_records


def _logged(caplog: pytest.LogCaptureFixture, method: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(method)]


def test_a_cancelled_stream_is_logged_cancelled_not_ok(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="liftos.rpc")
    with running_services({"memory": memory_build}, tmp_path) as services:
        channel = grpc.insecure_channel(services["memory"].address)
        stub = memory_grpc.MemoryServiceStub(channel)
        records = synthetic_records("acme", 400, campaigns=2, geos=2)
        # A write stream that sends one message and then walks away, mid-stream.
        sent, release = threading.Event(), threading.Event()

        def messages():  # type: ignore[no-untyped-def]
            yield memory_pb.WriteRequest(org_id="acme", records=records[:10])
            sent.set()
            release.wait(30)

        call = stub.Write.future(messages(), timeout=30)
        assert sent.wait(10)
        time.sleep(0.5)  # the server has the message and waits for the next
        call.cancel()
        release.set()
        method = "/liftos.v1.MemoryService/Write"
        deadline = time.monotonic() + 10
        while not _logged(caplog, method) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _logged(caplog, method) == [_logged(caplog, method)[0]]
        assert _logged(caplog, method)[0].split()[1] == "CANCELLED"
        channel.close()
