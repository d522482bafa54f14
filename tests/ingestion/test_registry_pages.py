"""The services' registry readers (mesh.runtime.peers) follow ListExternalFactors' page tokens
to the last page, over a real ingestion server."""

from __future__ import annotations

import asyncio
import datetime as dt

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
