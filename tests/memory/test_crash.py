"""kill -9 during Write streams: after restart every acknowledged record is there exactly
once, each batch is all-or-nothing, and the org's index count equals its store count."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from mesh.runtime.synthetic_records import synthetic_records

from .conftest import scan_all

ROOT = Path(__file__).resolve().parents[2]
ORG = "crash"
BATCH, BATCHES = 100, 3


class Server:
    """``python -m memory_svc`` in a subprocess; its port is read from its startup log."""

    def __init__(self, data: Path) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}",
            "LIFTOS_MEMORY_INDEX_SAVE_CHANGES": "400",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "memory_svc", "--port", "0", "--data-dir", str(data)],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
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

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)
            self.lines.put(line)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)


def _stream_records(n: int) -> list[list[md_pb.CausalMarketingData]]:
    """Stream s carries BATCHES new batches; every third stream also restates stream s-1."""
    everything = synthetic_records(ORG, n * BATCH * BATCHES, seed=11, campaigns=10, geos=8)
    return [everything[s * BATCH * BATCHES : (s + 1) * BATCH * BATCHES] for s in range(n)]


def test_kill_during_write_keeps_every_acked_record_once(tmp_path: Path) -> None:
    streams = _stream_records(40)
    acked: dict[str, int] = {}  # id → version acknowledged
    sent_batches: list[list[tuple[str, int]]] = []
    in_flight = threading.Event()
    stop = threading.Event()
    server = Server(tmp_path)
    errors: list[BaseException] = []

    def batches(s: int) -> Iterator[memory_pb.WriteRequest]:
        records = list(streams[s])
        if s % 3 == 2:
            for r in streams[s - 1][:BATCH]:
                again = md_pb.CausalMarketingData()
                again.CopyFrom(r)
                again.version = r.version + 1
                again.spend += 1
                records.append(again)
        for i in range(0, len(records), BATCH):
            part = records[i : i + BATCH]
            sent_batches.append([(r.id, r.version) for r in part])
            in_flight.set()
            yield memory_pb.WriteRequest(org_id=ORG, records=part)
            time.sleep(0.02)

    def writer() -> None:
        with grpc.insecure_channel(server.address) as channel:
            stub = memory_grpc.MemoryServiceStub(channel)
            for s in range(len(streams)):
                if stop.is_set():
                    return
                gen = list(batches(s))
                try:
                    stub.Write(iter(gen), timeout=30)
                except grpc.RpcError:
                    return  # the server died mid-stream: nothing of this stream was acked
                except BaseException as exc:  # pragma: no cover - surfaced below
                    errors.append(exc)
                    return
                for request in gen:
                    for r in request.records:
                        acked[r.id] = max(acked.get(r.id, 0), r.version)
                in_flight.clear()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while len(acked) < 5 * BATCH * BATCHES and time.monotonic() < deadline:
            time.sleep(0.01)
        in_flight.wait(10)
        time.sleep(0.01)
        server.kill()
        stop.set()
        thread.join(30)
    finally:
        server.stop()
    assert not errors
    assert len(acked) >= 5 * BATCH * BATCHES

    restarted = Server(tmp_path)
    try:
        with grpc.insecure_channel(restarted.address) as channel:
            stub = memory_grpc.MemoryServiceStub(channel)
            stored = scan_all(stub, org_id=ORG)
            ids = [r.id for r in stored]
            assert len(ids) == len(set(ids)), "a record is stored twice"
            version = {r.id: r.version for r in stored}
            missing = [i for i in acked if i not in version]
            assert not missing, f"{len(missing)} acknowledged records lost"
            assert all(version[i] >= v for i, v in acked.items())
            # each batch is one transaction: stored whole (at its version or later) or not at all
            for batch in sent_batches:
                present = [i in version and version[i] >= v for i, v in batch]
                assert all(present) or not any(present), "a batch was half stored"
            response = stub.Search(memory_pb.SearchRequest(org_id=ORG, text="brand search", k=1))
            assert response.index_size == len(stored)
            recovered = [line for line in restarted.log if "index crash" in line]
            assert recovered, restarted.log
            print(recovered[0].strip())
    finally:
        restarted.stop()
