"""MemoryClient.scan against a real memory server: campaigns or geos memory has never stored
match nothing (they have no history), instead of failing the scan."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from ingestion_svc.peers import MemoryClient
from memory_svc.app import build
from mesh.runtime.inprocess import running_services
from mesh.runtime.synthetic_records import synthetic_records

ORG = "scan-client"


@pytest.fixture(scope="module")
def memory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_services({"memory": build}, tmp_path_factory.mktemp("m")) as services:
        address = services["memory"].address
        records = synthetic_records(ORG, 240, campaigns=3, geos=4)
        with grpc.insecure_channel(address) as channel:
            stub = memory_grpc.MemoryServiceStub(channel)
            stub.Write(iter([memory_pb.WriteRequest(org_id=ORG, records=records)]), timeout=60)
        yield address


def _scan(address: str, campaigns: list[str], geos: list[str]) -> list[tuple[str, str]]:
    async def run() -> list[tuple[str, str]]:
        client = MemoryClient(address, timeout=30)
        try:
            records = await client.scan(ORG, _source(address), 0, 1 << 62, campaigns, geos)
        finally:
            await client.close()
        return sorted({(r.campaign_id, r.geo) for r in records})

    return asyncio.run(run())


def _source(address: str) -> int:
    with grpc.insecure_channel(address) as channel:
        stub = memory_grpc.MemoryServiceStub(channel)
        (page, *_) = stub.Scan(memory_pb.ScanRequest(org_id=ORG, batch_size=1), timeout=30)
        return int(page.records[0].data_source)


def _geos(address: str) -> list[str]:
    with grpc.insecure_channel(address) as channel:
        stub = memory_grpc.MemoryServiceStub(channel)
        pages = stub.Scan(memory_pb.ScanRequest(org_id=ORG), timeout=30)
        return sorted({r.geo for p in pages for r in p.records})


def test_unknown_campaigns_and_geos_are_dropped_from_the_filter(memory: str) -> None:
    geos = _geos(memory)
    assert len(geos) == 4
    got = _scan(memory, ["c0", "c-never"], [geos[1], "XX-NOWHERE"])
    assert got == [("c0", geos[1])]
    assert _scan(memory, ["c1"], ["XX-NOWHERE"]) == []  # no geo left: no history
    assert _scan(memory, ["c-never"], [geos[0]]) == []  # no campaign left
    everything = _scan(memory, [], [])  # no filter: every series of the source
    assert ("c0", geos[1]) in everything and len(everything) >= 8


def test_many_unknown_campaigns_in_one_scan(memory: str) -> None:
    """More unknown values than an error's field violations can list (a status is capped):
    the scan still answers with the known campaign's history, in one call."""
    unknown = [f"c-new-{i}" for i in range(300)]
    got = _scan(memory, [*unknown, "c0"], [])
    assert {c for c, _ in got} == {"c0"} and len(got) == 4
