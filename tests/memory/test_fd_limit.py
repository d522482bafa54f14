"""Memory out of file descriptors (audit R49-F2): each open Scan reads from a snapshot on a
connection of its own, so under a small open-file limit a handful of held Scans used to make
the next one fail INTERNAL "internal error" (an OSError EMFILE in the server's traceback),
which ingestion passes on as a permanent refusal. Now that Scan is RESOURCE_EXHAUSTED with a
RetryInfo, naming the limit and ``ulimit -n``, and the same Scan succeeds once the others end.

A real memory process whose own RLIMIT_NOFILE is lowered (the kernel's EMFILE, no stand-in)."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from mesh.runtime.status import decode_status
from mesh.runtime.synthetic_records import synthetic_records

from .conftest import scan_all, write
from .test_crash import ROOT, Server

LIMIT = 64
ORG = "fds"


class LimitedServer(Server):
    """test_crash's memory process, its RLIMIT_NOFILE lowered to ``LIMIT`` before it runs."""

    def __init__(self, data: Path) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}",
            # snapshots enough for the Scans to meet the file limit first
            "LIFTOS_MEMORY_SCAN_SNAPSHOTS": "1024",
        }
        # The limit is set by the child itself before it runs memory_svc: a preexec_fn would
        # make subprocess fork() from this gRPC process (test_no_subprocess_call_forks).
        launch = (
            "import resource, runpy, sys\n"
            f"resource.setrlimit(resource.RLIMIT_NOFILE, ({LIMIT}, {LIMIT}))\n"
            f"sys.argv = ['memory_svc', '--port', '0', '--data-dir', {str(data)!r}]\n"
            "runpy.run_module('memory_svc', run_name='__main__', alter_sys=True)\n"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", launch],
            cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        deadline = time.monotonic() + 60
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            found = re.search(r"serving .* on [\d.]+:(\d+)", line)
            if found:
                self.address = f"127.0.0.1:{found.group(1)}"
                return


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LimitedServer]:
    served = LimitedServer(tmp_path)
    try:
        yield served
    finally:
        served.stop()


def test_a_scan_past_the_open_file_limit_is_retryable_and_names_the_limit(
    server: LimitedServer,
) -> None:
    with grpc.insecure_channel(server.address) as channel:
        stub = memory_grpc.MemoryServiceStub(channel)
        assert (
            write(stub, ORG, synthetic_records(ORG, 400, campaigns=3, geos=4)).inserted_count == 400
        )
        held: list[Any] = []
        refused: grpc.RpcError | None = None
        for _ in range(LIMIT):  # each held Scan keeps a connection (its files) open
            scan = stub.Scan(memory_pb.ScanRequest(org_id=ORG, batch_size=10), timeout=60)
            try:
                next(scan)
            except grpc.RpcError as exc:
                refused = exc
                break
            held.append(scan)
        assert refused is not None, "the open-file limit was never reached"
        status = decode_status(refused)
        assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED, status.message
        assert status.reason == "OPEN_FILE_LIMIT"  # its own reason, not a generic one (s21)
        assert status.retry_after_s is not None and status.retry_after_s > 0
        assert "memory is out of file descriptors" in status.message
        assert f"its open-file limit is {LIMIT}" in status.message
        assert "the Scan read nothing — send it again in a few seconds" in status.message
        assert "ulimit -n" in status.message
        for scan in held:
            scan.cancel()  # type: ignore[attr-defined]
        held.clear()
        assert len(scan_all(stub, org_id=ORG)) == 400  # the retry, once the others ended
    assert not any("Traceback" in line for line in server.log), "".join(server.log)[-3000:]
