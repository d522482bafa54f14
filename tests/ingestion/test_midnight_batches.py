"""A batch whose every zoned time is exactly midnight UTC holds dates (V1 F2) — but one such
time alone in its batch is an instant, as in the rest of its file: an order at 00:00Z (19:00
the day before in New York) sent in a batch of its own was dated as written, a day late, and
its row was replaced by the next day's (review V3 F2)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from mesh.runtime.config import PeerConfig
from mesh.sdk.client import LiftOS
from tests.ingestion.test_zoned_dates import mesh  # noqa: F401

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def _new_york_days(address: str, org: str) -> dict[str, float]:
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    records = [r for b in stub.Scan(memory_pb.ScanRequest(org_id=org)) for r in b.records]
    return {
        dt.datetime.fromtimestamp(r.timestamp.seconds, NEW_YORK).date().isoformat(): r.revenue
        for r in records
    }


def test_an_instant_at_utc_midnight_is_dated_the_same_whatever_the_batching(
    mesh: dict[str, str],  # noqa: F811
) -> None:
    peers = PeerConfig.from_env().with_overrides(**mesh)
    account = {"account_id": "shop", "timezone": "America/New_York", "currency": "USD"}
    mapping = {"date": "Time", "geo": "Region", "revenue": "Revenue"}
    # Jan 4 19:00 in New York (00:00Z on the 5th), and Jan 5 10:00 in New York
    rows: list[dict[str, Any]] = [
        {"Time": "2024-01-05T00:00:00Z", "Region": "CA", "Revenue": 10},
        {"Time": "2024-01-05T15:00:00Z", "Region": "CA", "Revenue": 5},
    ]
    days = {}
    for org, size in (("one-batch", 500), ("per-row", 1)):
        with LiftOS(peers, org_id=org) as client:
            client.ingest("generic", rows, account=account, mapping=mapping, batch_size=size)
        days[org] = _new_york_days(mesh["memory"], org)
    assert days["one-batch"] == {"2024-01-04": 10.0, "2024-01-05": 5.0}
    assert days["per-row"] == days["one-batch"]
