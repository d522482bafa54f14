"""The call log says how a call ended, a call abandoned by its client included.

The server runs as its own process (``python -m memory_svc``), as in production: grpc.aio
shares one poller per process, and a server started on a second event loop in a process whose
first loop served earlier tests does not always see a client's cancel."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from mesh.runtime.synthetic_records import synthetic_records

ROOT = Path(__file__).resolve().parents[2]
WRITE = "/liftos.v1.MemoryService/Write"


@pytest.fixture
def memory_process(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    log = tmp_path / "memory.log"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "memory_svc", "--port", "0", "--log-level", "info",
             "--data-dir", str(tmp_path / "data")],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"serving .* on ([\w.]+):(\d+)", log.read_text())):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield f"127.0.0.1:{found.group(2)}", log
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def _logged(log: Path, method: str) -> list[str]:
    return [line for line in log.read_text().splitlines() if f"liftos.rpc: {method} " in line]


def _wait_logged(log: Path, method: str) -> list[str]:
    deadline = time.monotonic() + 10
    while not _logged(log, method) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _logged(log, method)


def test_a_cancelled_stream_is_logged_cancelled_not_ok(memory_process: tuple[str, Path]) -> None:
    address, log = memory_process
    with grpc.insecure_channel(address) as channel:
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
        lines = _wait_logged(log, WRITE)
        # Only now may the generator end: ended earlier, the client's half-close could reach
        # the server before the cancel, and the server would rightly see a finished stream.
        release.set()
        assert len(lines) == 1, lines
        assert lines[0].split(f"{WRITE} ")[1].split()[0] == "CANCELLED"

        # The same stream finished properly is logged OK: the log tells the two apart.
        ok = stub.Write(iter([memory_pb.WriteRequest(org_id="acme", records=records[10:20])]))
        assert ok.inserted_count == 10
        lines = _wait_logged(log, WRITE)
        deadline = time.monotonic() + 10
        while len(lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            lines = _logged(log, WRITE)
        assert [line.split(f"{WRITE} ")[1].split()[0] for line in lines] == ["CANCELLED", "OK"]


def test_a_health_probe_that_answers_ok_is_not_logged_at_info(
    memory_process: tuple[str, Path],
) -> None:
    """Probes every few seconds were most of a long-running mesh's log (R43-F2): an OK probe is
    DEBUG; a probe that fails (an unknown service) and every other call stay INFO."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    address, log = memory_process
    check = "/grpc.health.v1.Health/Check"
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for _ in range(3):
            health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        with pytest.raises(grpc.RpcError) as missing:
            health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=10)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    lines = _wait_logged(log, check)
    assert len(lines) == 1 and " NOT_FOUND " in lines[0], lines
