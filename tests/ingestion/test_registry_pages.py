"""The services' registry readers (mesh.runtime.peers) follow ListExternalFactors' page tokens
to the last page, over a real ingestion server."""

from __future__ import annotations

import asyncio
import datetime as dt

import grpc
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc

from mesh.runtime.peers import Peer, external_factor_series
from mesh.sdk.client import LiftOS
from tests.ingestion.conftest import peers_of

D0 = dt.date(2024, 9, 1)


def test_external_factor_series_reads_every_page(services) -> None:  # type: ignore[no-untyped-def]
    # 50 series a page: 123 series take three pages, the last a partial one.
    names = [f"factor_{i:03d}" for i in range(123)]
    with LiftOS(peers_of(services), org_id="acme") as client:
        for i, name in enumerate(names):
            client.register_external_factor(
                name, "macro", {D0: float(i), D0 + dt.timedelta(1): 1.0}
            )
        client.register_external_factor("other_org_factor", "macro", {D0: 1.0}, org_id="zeta")

    async def read() -> list[tuple[str, int, float]]:
        peer = Peer(services["ingestion"].address, ingestion_grpc.IngestionServiceStub, timeout=10)
        try:
            return [
                (s.name, len(s.values), s.values[0].value)
                async for s in external_factor_series(peer, "acme", timeout=10)
            ]
        finally:
            await peer.close()

    got = asyncio.run(read())
    assert [name for name, _, _ in got] == names  # every page, in order, no repeats, no other org
    assert all(n == 2 for _, n, _ in got)  # values included
    assert [v for _, _, v in got] == [float(i) for i in range(123)]


def test_pages_with_values_fit_a_default_grpc_client(services) -> None:  # type: ignore[no-untyped-def]
    """With values a page ends before 3.5 MB (R32: 12 series of 20,000 values were one 4.8 MB
    reply, refused by grpcurl's and Go's default 4 MiB receive limit): every reply fits 4 MiB,
    and the pages together hold every series and value once, in order."""
    days = [D0 - dt.timedelta(days=i) for i in range(20_000)]
    names = [f"daily_index_{i:02d}" for i in range(12)]
    with LiftOS(peers_of(services), org_id="acme") as client:
        for i, name in enumerate(names):
            client.register_external_factor(name, "macro", {d: i + 0.5 for d in days})
    channel = grpc.insecure_channel(
        services["ingestion"].address,
        options=[("grpc.max_receive_message_length", 4 * 1024 * 1024)],  # a default client's
    )
    stub = ingestion_grpc.IngestionServiceStub(channel)
    got: list[tuple[str, int, float]] = []
    sizes: list[int] = []
    token = ""
    try:
        while True:
            reply = stub.ListExternalFactors(
                ingestion_pb.ListExternalFactorsRequest(
                    org_id="acme", include_values=True, page_token=token
                ),
                timeout=30,
            )
            sizes.append(reply.ByteSize())
            got += [(s.name, len(s.values), s.values[-1].value) for s in reply.series]
            token = reply.next_page_token
            if not token:
                break
    finally:
        channel.close()
    assert [n for n, _, _ in got] == names
    assert all(n == 20_000 for _, n, _ in got)
    assert [v for _, _, v in got] == [i + 0.5 for i in range(12)]
    assert len(sizes) > 1 and max(sizes) <= 3_500_000, sizes
