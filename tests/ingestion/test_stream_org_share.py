"""An org's Ingest streams cannot fill memory for every other org (audit R46-F2).

Ingestion writes an Ingest stream's batches on a memory WriteStream opened with ingestion's
service key, and memory counted a service's calls against no org's share: org A's idle Ingest
streams (64 per ingestion replica) held memory's slots until every other org's calls were
refused TOO_MANY_CALLS. Now a service's call counts against the share of the org its request
names, and a request stream of an org's key that has been answered in full and sends nothing
for ``LIFTOS_STREAM_IDLE_S`` is ended (RESOURCE_EXHAUSTED with RetryInfo), which lets go of
its WriteStream. Real memory and ingestion servers checking API keys, SQLite stores."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.auth import AuthConfig
from mesh.runtime.channels import auth_metadata
from mesh.runtime.config import PeerConfig, org_share
from mesh.runtime.inprocess import running_services
from mesh.runtime.interceptor import STREAM_IDLE_ENV, stream_idle_limit
from mesh.sdk.client import LiftOS, retry_delay
from tests.ingestion.conftest import PULLED, dumps

KEYS = AuthConfig.parse("ka:org_a,kb:org_b,king:service=ingestion")
MEMORY_LIMIT = 8
MEMORY_SHARE = org_share(MEMORY_LIMIT)  # 2
MAPPING = {"date": "date", "geo": "region", "conversions": "orders", "revenue": "revenue"}


@contextlib.contextmanager
def _mesh(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(memory, ingestion) addresses: memory with MEMORY_LIMIT calls in flight, ingestion
    with the default limit (an org's share of it, 64, is far above what the tests hold)."""
    builds_memory: dict[str, Any] = {"memory": memory_build}
    with running_services(
        builds_memory, tmp_path / "m", auth=KEYS, max_inflight=MEMORY_LIMIT
    ) as memory:
        address = memory["memory"].address
        peers = PeerConfig.from_env().with_overrides(memory=address)
        builds_ingestion: dict[str, Any] = {"ingestion": ingestion_build}
        with running_services(
            builds_ingestion, tmp_path / "i", auth=KEYS, peers=peers, api_keys={"ingestion": "king"}
        ) as ingestion:
            yield address, ingestion["ingestion"].address


def _batch(org: str, k: int) -> ingestion_pb.IngestRequest:
    """One new row of ``org``'s orders, day k (each stream its own batch id and day)."""
    day = dt.date(2025, 1, 1) + dt.timedelta(days=k)
    row = {"date": day.isoformat(), "region": "TX", "orders": 10, "revenue": 1000.0 + k}
    request = ingestion_pb.IngestRequest(
        org_id=org,
        source=common_pb.DATA_SOURCE_GENERIC,
        batch_id=f"held-{org}-{k}",
        account=ingestion_pb.AccountInfo(
            account_id="orders", timezone="America/Los_Angeles", currency_code="USD"
        ),
        mapping=ingestion_pb.ColumnMapping(**MAPPING),
        json_rows=[json.dumps(row)],
    )
    request.pulled_at.FromDatetime(dt.datetime(2026, 1, 1))
    return request


class _Held:
    """Ingest streams of org_a on ingestion, opened one after another: each sends one batch,
    its ack (or refusal) is read, and it is kept open, sending nothing, until released."""

    def __init__(self, address: str, count: int) -> None:
        self._release = threading.Event()
        self.channel = grpc.insecure_channel(address)
        stub = ingestion_grpc.IngestionServiceStub(self.channel)
        self.acked: list[Any] = []
        self.refused: list[grpc.RpcError] = []
        for k in range(count):
            call = stub.Ingest(self._one(k), metadata=auth_metadata("ka"), timeout=120)
            try:
                next(call)
                self.acked.append(call)
            except grpc.RpcError as error:
                self.refused.append(error)

    def _one(self, k: int) -> Iterator[ingestion_pb.IngestRequest]:
        yield _batch("org_a", k)
        self._release.wait(120)

    def close(self) -> None:
        self._release.set()
        for call in self.acked:
            call.cancel()
        self.channel.close()


def _org_b_calls(memory: str) -> list[str]:
    """org_b's own calls to memory: what each answered ("OK" or its code and words)."""
    out = []
    with grpc.insecure_channel(memory) as channel:
        stub = memory_grpc.MemoryServiceStub(channel)
        md = auth_metadata("kb")
        calls = {
            "ListAccounts": lambda: stub.ListAccounts(
                memory_pb.ListAccountsRequest(org_id="org_b"), metadata=md, timeout=10
            ),
            "Scan": lambda: list(
                stub.Scan(memory_pb.ScanRequest(org_id="org_b"), metadata=md, timeout=10)
            ),
        }
        for name, call in calls.items():
            try:
                call()
                out.append(f"{name} OK")
            except grpc.RpcError as error:
                if error.code() is grpc.StatusCode.NOT_FOUND:  # org_b has no records: served
                    out.append(f"{name} OK")
                else:
                    out.append(f"{name} {error.code().name}: {error.details()}")
    return out


def test_an_orgs_ingest_streams_hold_only_its_share_of_memory(tmp_path: Path) -> None:
    """Before: org_a's 8 held Ingest streams held 8 memory WriteStreams under ingestion's key,
    all of memory's slots, and org_b's calls were refused 'this server has 8 calls in
    flight'. Now org_a's streams past its share at memory are refused, retryably, and org_b
    is served while org_a holds the rest."""
    with _mesh(tmp_path) as (memory, ingestion):
        held = _Held(ingestion, MEMORY_LIMIT)
        try:
            assert _org_b_calls(memory) == ["ListAccounts OK", "Scan OK"]
            assert len(held.acked) == MEMORY_SHARE, [e.details() for e in held.refused]
            for error in held.refused:
                # memory shed ingestion's call for org_a's share: the batch may be retried
                assert error.code() is grpc.StatusCode.UNAVAILABLE, error.details()
                assert f"org 'org_a' has {MEMORY_SHARE} calls in flight" in error.details()
        finally:
            held.close()


def test_an_idle_ingest_stream_is_ended_and_lets_go_of_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream answered in full that sends nothing for LIFTOS_STREAM_IDLE_S is ended
    RESOURCE_EXHAUSTED with RetryInfo, naming the setting; what it held at memory comes back
    (org_a's share there takes new streams again). Before: it stayed open until the client
    went (here: its 120 s deadline)."""
    monkeypatch.setenv(STREAM_IDLE_ENV, "1")
    with _mesh(tmp_path) as (_, ingestion):
        held = _Held(ingestion, MEMORY_SHARE)
        try:
            assert len(held.acked) == MEMORY_SHARE
            for call in held.acked:
                with pytest.raises(grpc.RpcError) as ended:
                    next(call)
                error = ended.value
                assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
                assert "sent nothing for 1 s after its last answer" in error.details()
                assert STREAM_IDLE_ENV in error.details()
                assert retry_delay(error) is not None
        finally:
            held.close()
        # their WriteStreams were let go: org_a's share at memory takes two new streams
        deadline = time.monotonic() + 30
        while True:
            again = _Held(ingestion, MEMORY_SHARE)
            again.close()
            if len(again.acked) == MEMORY_SHARE:
                break
            assert time.monotonic() < deadline, [e.details() for e in again.refused]
            time.sleep(0.2)


def test_an_sdk_client_slower_than_the_bound_still_ingests_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, world: sim.SimResult
) -> None:
    """A generator that takes longer than the bound to give its next rows: the stream is
    ended after its acks, and the SDK opens a new one (the refusal carries RetryInfo and
    nothing is unacked), so every row is ingested once."""
    monkeypatch.setenv(STREAM_IDLE_ENV, "1")
    export = world.raw["tiktok"]
    lines = [dumps(export.base_row(i)) for i in range(6)]
    account = {**next(a for a in world.accounts if a["source"] == "tiktok"), "country": "US"}

    def rows() -> Iterator[str]:
        for k, line in enumerate(lines):
            if k == 3:
                time.sleep(2.5)  # the client's next page comes late
            yield line

    with _mesh(tmp_path) as (memory, ingestion):
        peers = PeerConfig.from_env().with_overrides(memory=memory, ingestion=ingestion)
        with LiftOS(peers, org_id="org_a", api_key="ka") as client:
            summary = client.ingest(
                "tiktok", rows(), account=account, pulled_at=PULLED, batch_size=1
            )
    assert (summary.rows, summary.batches, summary.rejected) == (6, 6, 0), summary
    assert summary.retries >= 1, summary


def test_the_bound_is_a_positive_number_of_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STREAM_IDLE_ENV, raising=False)
    assert stream_idle_limit() == 300.0
    monkeypatch.setenv(STREAM_IDLE_ENV, "45")
    assert stream_idle_limit() == 45.0
    for bad in ("0", "-3", "soon", "inf"):
        monkeypatch.setenv(STREAM_IDLE_ENV, bad)
        with pytest.raises(ValueError, match=STREAM_IDLE_ENV):
            stream_idle_limit()
