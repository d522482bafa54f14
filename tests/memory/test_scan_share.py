"""One org cannot hold every Scan snapshot of a memory process (audit R46-F1).

The snapshots were one pool for every org: org A opened ``scan_snapshots`` Scans of its own
org with its ordinary key, read one page of each and stopped reading, and every other org's
Scan — causal's validation Scan of B's analysis among them — was refused until A let go.
Now each org holds at most its share of the pool (a quarter, as an org's share of the calls
in flight), counted by the Scan's ``org_id`` whoever calls; and a snapshot none of whose
pages is pulled for ``idle_s`` is ended well before its lifetime, so a stalled reader gives
its place back. Real memory server, real SQLite store."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from memory_svc import scan_snapshots
from memory_svc.app import build
from memory_svc.engine import MemorySettings
from memory_svc.faiss_index import IndexSettings
from mesh.runtime.auth import AuthConfig
from mesh.runtime.channels import auth_metadata
from mesh.runtime.config import org_share
from mesh.runtime.inprocess import running_services
from mesh.runtime.synthetic_records import synthetic_records

from .conftest import reason_and_fields, write

SNAPSHOTS = 8
SHARE = org_share(SNAPSHOTS)  # 2
N = 600
INDEX = IndexSettings(ivf_threshold=10**6, save_min_changes=10**9)
# ~15 records a page: a 600-record scan is ~40 pages, so a reader that stops holds its snapshot
PAGE_BYTES = 20_000
KEYS = AuthConfig.parse("ka:org_a,kb:org_b,king:service=ingestion,kcau:service=causal")


@contextlib.contextmanager
def _memory(tmp_path: Path) -> Iterator[str]:
    """A real keyed memory server whose pool holds SNAPSHOTS, with both orgs written."""
    memory = functools.partial(
        build,
        settings=MemorySettings(index=INDEX, scan_page_bytes=PAGE_BYTES, scan_snapshots=SNAPSHOTS),
    )
    with running_services({"memory": memory}, tmp_path, auth=KEYS) as services:
        address = services["memory"].address
        with grpc.insecure_channel(address) as channel:
            stub = memory_grpc.MemoryServiceStub(channel)
            for org in ("org_a", "org_b"):
                records = synthetic_records(
                    org, N, seed=11, campaigns=5, geos=4, start=dt.date(2024, 10, 1)
                )
                write(_Keyed(stub, "king"), org, records)
        yield address


class _Keyed:
    """A stub whose Write sends ``key`` (conftest.write takes a stub)."""

    def __init__(self, stub: memory_grpc.MemoryServiceStub, key: str) -> None:
        self._stub, self._key = stub, key

    def Write(self, requests: Any, timeout: float) -> Any:
        return self._stub.Write(requests, timeout=timeout, metadata=auth_metadata(self._key))


class _Stalled:
    """Scans of ``org`` with ``key``, a channel each (as many clients would), one page read
    of each and then not read: each holds its snapshot while the stream is open."""

    def __init__(self, address: str, key: str, org: str, count: int) -> None:
        self.channels: list[grpc.Channel] = []
        self.calls: list[Any] = []
        self.refused: list[grpc.RpcError] = []
        for _ in range(count):
            # no window growth: the server sends a few pages ahead of the reader, not the scan
            channel = grpc.insecure_channel(address, [("grpc.http2.bdp_probe", 0)])
            self.channels.append(channel)
            call = memory_grpc.MemoryServiceStub(channel).Scan(
                memory_pb.ScanRequest(org_id=org, batch_size=10),
                metadata=auth_metadata(key),
                timeout=60,
            )
            try:
                next(call)
            except grpc.RpcError as error:
                self.refused.append(error)
                continue
            self.calls.append(call)

    def close(self) -> None:
        for call in self.calls:
            call.cancel()
        for channel in self.channels:
            channel.close()


def _scan(address: str, key: str, org: str) -> int | grpc.RpcError:
    """Records of a whole Scan of ``org`` with ``key``, or its error."""
    with grpc.insecure_channel(address) as channel:
        stub = memory_grpc.MemoryServiceStub(channel)
        try:
            replies = stub.Scan(
                memory_pb.ScanRequest(org_id=org, batch_size=5000),
                metadata=auth_metadata(key),
                timeout=30,
            )
            return sum(len(r.records) for r in replies)
        except grpc.RpcError as error:
            return error


def test_an_org_holding_its_share_of_snapshots_leaves_the_others_served(tmp_path: Path) -> None:
    """Before: org_a's stalled Scans took all 8 snapshots and org_b's Scan (its key's, and
    causal's on its behalf) was refused SCAN_SNAPSHOTS_EXHAUSTED. The refusal of org_a's own
    Scan past its share has a reason of its own, SCAN_ORG_SHARE_EXHAUSTED (s21; before, the
    process-wide SCAN_SNAPSHOTS_EXHAUSTED, though the process had room)."""
    with _memory(tmp_path) as address:
        held = _Stalled(address, "ka", "org_a", SNAPSHOTS)
        try:
            assert len(held.calls) == SHARE, "org_a held more than its share of snapshots"
            code, reason, _ = reason_and_fields(held.refused[0])
            assert (code, reason) == (
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "SCAN_ORG_SHARE_EXHAUSTED",
            )
            details = held.refused[0].details()
            assert f"org 'org_a' has {SHARE} Scans reading" in details, details
            assert f"its share of this memory process's {SNAPSHOTS}" in details, details
            assert "LIFTOS_MEMORY_SCAN_SNAPSHOTS" in details
            # a service Scanning for org_a meets org_a's share: counted by the Scan's org_id
            assert isinstance(by_service := _scan(address, "kcau", "org_a"), grpc.RpcError)
            assert f"org 'org_a' has {SHARE}" in by_service.details()
            assert reason_and_fields(by_service)[1] == "SCAN_ORG_SHARE_EXHAUSTED"
            # the other org is served, by its own key and by a service on its behalf
            assert _scan(address, "kb", "org_b") == N
            assert _scan(address, "kcau", "org_b") == N
        finally:
            held.close()
        # org_a's places come back when its Scans end
        deadline = time.monotonic() + 30
        while (again := _scan(address, "ka", "org_a")) != N:
            assert time.monotonic() < deadline, f"org_a's snapshots never came back: {again}"
            time.sleep(0.1)


def test_a_snapshot_no_page_is_pulled_from_is_let_go_before_its_lifetime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader that stops pulling pages gives its snapshot back after ``idle_s``, not after
    the 120 s lifetime: org_a's share is free again while its stalled streams stay open, and
    reading on says why the Scan ended and what to do."""
    monkeypatch.setattr(scan_snapshots, "SCAN_SNAPSHOT_IDLE_S", 1.0)
    with _memory(tmp_path) as address:
        held = _Stalled(address, "ka", "org_a", SHARE)
        try:
            assert len(held.calls) == SHARE
            deadline = time.monotonic() + 30
            while (got := _scan(address, "ka", "org_a")) != N:  # while the stalled are open
                assert isinstance(got, grpc.RpcError)
                assert time.monotonic() < deadline, "the stalled Scans still hold their share"
                time.sleep(0.2)
            with pytest.raises(grpc.RpcError) as err:
                for _ in held.calls[0]:
                    pass
            code, reason, _ = reason_and_fields(err.value)
            assert (code, reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "SCAN_SNAPSHOT_EXPIRED")
            assert "no page of it was read for 1 s" in err.value.details(), err.value.details()
        finally:
            held.close()
