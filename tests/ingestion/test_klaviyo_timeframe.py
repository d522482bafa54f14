"""A Klaviyo values-report row over more than one day is refused, naming
``attributes.timeframe.end`` (audit R21-F6: a 30-day timeframe's sends, spend and conversions
were stored on its first day, ``end`` never read). A one-day timeframe is one local day
whatever its length in hours: 23 and 25 on the DST days, and a day whose next midnight does
not exist ends at the next day's first instant."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from mesh.runtime.tables import table_to_frame

EPOCH = dt.date(1970, 1, 1)
END = "attributes.timeframe.end"


def _row(start: str, end: str | None, message: str, spend: float) -> dict[str, Any]:
    timeframe = {"start": start} if end is None else {"start": start, "end": end}
    return {
        "type": "campaign-values-report",
        "attributes": {
            "timeframe": timeframe,
            "groupings": {"send_channel": "sms", "campaign_id": "c1", "campaign_message_id": message},
            "statistics": {
                "recipients": 1000, "clicks_unique": 10, "conversions": 2,
                "conversion_value": 40.0, "text_message_spend": spend,
            },
        },
        "relationships": {"segments": {"data": [{"type": "segment", "id": "seg"}]}},
    }  # fmt: skip


@pytest.fixture()
def stubs(
    services: dict[str, Any],
) -> tuple[ingestion_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub]:
    return (
        ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(services["ingestion"].address)),
        memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address)),
    )


def _ingest(
    stubs: tuple[ingestion_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
    org: str,
    zone: str,
    rows: list[dict[str, Any]],
) -> tuple[ingestion_pb.IngestResponse, dict[dt.date, float]]:
    ingestion, memory = stubs
    request = ingestion_pb.IngestRequest(
        org_id=org, source=common_pb.DATA_SOURCE_KLAVIYO, batch_id="b1",
        json_rows=[json.dumps(r) for r in rows],
        account=ingestion_pb.AccountInfo(
            account_id="klav1", timezone=zone, currency_code="USD", country_code="US",
            geo_keys={"seg": "CA"},
        ),
    )  # fmt: skip
    request.pulled_at.FromJsonString("2024-12-14T09:00:00Z")
    (ack,) = list(ingestion.Ingest(iter([request]), timeout=60))
    agg = memory.AggregateRecords(memory_pb.AggregateRecordsRequest(org_id=org), timeout=60)
    days = table_to_frame(agg.campaign_days)
    stored = {
        EPOCH + dt.timedelta(days=int(d)): float(s)
        for d, s in zip(days["date"], days["spend"], strict=True)
    }
    return ack, stored


def test_a_month_long_timeframe_is_refused_and_the_daily_row_stored(
    stubs: tuple[ingestion_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    rows = [
        _row("2024-09-16T00:00:00-04:00", "2024-09-17T00:00:00-04:00", "m1", 5.0),
        _row("2024-09-16T00:00:00-04:00", "2024-10-16T00:00:00-04:00", "m2", 150.0),
        _row("2024-09-18T00:00:00-04:00", "2024-09-18T00:00:00-04:00", "m3", 7.0),
    ]
    ack, stored = _ingest(stubs, "org_month", "America/New_York", rows)
    got = [(r.row_index, r.field) for r in ack.rejections]
    assert (ack.accepted_count, got) == (1, [(1, END), (2, END)])
    assert "rows must be daily" in ack.rejections[0].message
    assert "2024-10-16T00:00:00-04:00" in ack.rejections[0].message
    assert "is not after timeframe.start" in ack.rejections[1].message
    assert stored == {dt.date(2024, 9, 16): 5.0}


def test_one_local_day_of_any_length_is_read(
    stubs: tuple[ingestion_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    rows = [
        # 25 hours: New York falls back on 2024-11-03
        _row("2024-11-03T00:00:00-04:00", "2024-11-04T00:00:00-05:00", "m1", 1.0),
        # 23 hours: it springs forward on 2024-03-10
        _row("2024-03-10T00:00:00-05:00", "2024-03-11T00:00:00-04:00", "m2", 2.0),
        # an end inside the day, and no end at all
        _row("2024-09-16T00:00:00-04:00", "2024-09-16T23:59:59-04:00", "m3", 3.0),
        _row("2024-09-17T00:00:00-04:00", None, "m4", 4.0),
        # the bounds as UTC instants of the local midnights
        _row("2024-09-18T04:00:00Z", "2024-09-19T04:00:00Z", "m5", 5.0),
    ]
    ack, stored = _ingest(stubs, "org_ny", "America/New_York", rows)
    assert (ack.accepted_count, list(ack.rejections)) == (5, [])
    assert stored == {
        dt.date(2024, 11, 3): 1.0,
        dt.date(2024, 3, 10): 2.0,
        dt.date(2024, 9, 16): 3.0,
        dt.date(2024, 9, 17): 4.0,
        dt.date(2024, 9, 18): 5.0,
    }


def test_a_day_before_one_without_a_midnight_ends_at_its_first_instant(
    stubs: tuple[ingestion_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    """America/Santiago: 2024-09-08 begins at 01:00 -03:00, which ends 2024-09-07; an hour
    later is into the next day."""
    rows = [
        _row("2024-09-07T00:00:00-04:00", "2024-09-08T01:00:00-03:00", "m1", 1.0),
        _row("2024-09-07T00:00:00-04:00", "2024-09-08T02:00:00-03:00", "m2", 2.0),
    ]
    ack, stored = _ingest(stubs, "org_scl", "America/Santiago", rows)
    assert (ack.accepted_count, [(r.row_index, r.field) for r in ack.rejections]) == (
        1,
        [(1, END)],
    )
    assert stored == {dt.date(2024, 9, 7): 1.0}
