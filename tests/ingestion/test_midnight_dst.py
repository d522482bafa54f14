"""Days whose clocks change at midnight (audit R21-F5). In America/Santiago the clocks jump
from 2024-09-07 23:59 to 2024-09-08 01:00: that day has no midnight, yet it is a day. TikTok
dates it by the UTC instant of its first moment (04:00 UTC); re-localising midnight raised,
the row was rejected "malformed (ValueError)" and its spend lost, and the whole batch was
prepared again row by row. In America/Havana the clocks fall back from 01:00 to 00:00 on
2024-11-03, which has two midnights: Klaviyo's timeframe may open at either."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import grpc
import numpy as np
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from ingestion_svc.connectors import klaviyo
from ingestion_svc.connectors.tiktok import local_days
from ingestion_svc.raw_batch import Account
from mesh.runtime.tables import table_to_frame

EPOCH = dt.date(1970, 1, 1)


def _tiktok(stamp: str, spend: str) -> dict[str, Any]:
    return {
        "advertiser_id": "adv1",
        "dimensions": {"campaign_id": "t1", "stat_time_day": stamp, "province_id": "5332921"},
        "metrics": {
            "campaign_name": "TT", "spend": spend, "impressions": "1000", "clicks": "10",
            "currency": "USD", "complete_payment": "1", "total_complete_payment_rate": "20",
        },
    }  # fmt: skip


def _klaviyo(start: str, end: str) -> dict[str, Any]:
    return {
        "type": "campaign-values-report",
        "attributes": {
            "timeframe": {"start": start, "end": end},
            "groupings": {"send_channel": "sms", "campaign_id": "c1", "campaign_message_id": "m1"},
            "statistics": {
                "recipients": 1000, "clicks_unique": 10, "conversions": 1,
                "conversion_value": 20.0, "text_message_spend": 5.0,
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


def _stored_days(memory: memory_grpc.MemoryServiceStub, org: str) -> dict[dt.date, float]:
    agg = memory.AggregateRecords(memory_pb.AggregateRecordsRequest(org_id=org), timeout=60)
    days = table_to_frame(agg.campaign_days)
    return {
        EPOCH + dt.timedelta(days=int(d)): float(s)
        for d, s in zip(days["date"], days["spend"], strict=True)
    }


def test_tiktok_day_without_a_midnight_is_stored_on_its_day(
    stubs: tuple[ingestion_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    ingestion, memory = stubs
    rows = [
        _tiktok("2024-09-07 04:00:00", "10"),  # 00:00 -04:00
        _tiktok("2024-09-08 04:00:00", "20"),  # 01:00 -03:00, the day's first instant
        _tiktok("2024-09-09 03:00:00", "30"),  # 00:00 -03:00
    ]
    request = ingestion_pb.IngestRequest(
        org_id="org_scl", source=common_pb.DATA_SOURCE_TIKTOK, batch_id="b1",
        json_rows=[json.dumps(r) for r in rows],
        account=ingestion_pb.AccountInfo(
            account_id="adv1", timezone="America/Santiago", currency_code="USD",
            country_code="US", geo_keys={"5332921": "US-CA"},
        ),
    )  # fmt: skip
    request.pulled_at.FromJsonString("2024-10-01T00:00:00Z")
    (ack,) = list(ingestion.Ingest(iter([request]), timeout=60))
    assert (ack.accepted_count, list(ack.rejections)) == (3, [])
    assert _stored_days(memory, "org_scl") == {
        dt.date(2024, 9, 7): 10.0,
        dt.date(2024, 9, 8): 20.0,
        dt.date(2024, 9, 9): 30.0,
    }


def test_tiktok_stamp_inside_a_day_is_still_refused() -> None:
    """01:00 local on an ordinary Santiago day (04:00 UTC on 2024-09-09, a -03:00 day) opens
    nothing: refused, not moved to a day."""
    day, _, invalid = local_days(
        np.array(["2024-09-09 04:00:00", "2024-09-08 05:00:00"], dtype=object), "America/Santiago"
    )
    assert invalid.tolist() == [True, True] and np.isnat(day).all()


def test_klaviyo_timeframes_opening_days_without_or_with_two_midnights() -> None:
    def run(zone: str, starts: list[tuple[str, str]]) -> Any:
        account = Account(
            account_id="k", currency="USD", country="US", timezone=zone, geo_keys={"seg": "CA"}
        )
        return klaviyo.normalise([_klaviyo(s, e) for s, e in starts], account)

    scl = run(
        "America/Santiago",
        [
            ("2024-09-08T01:00:00-03:00", "2024-09-09T00:00:00-03:00"),  # the first instant
            ("2024-09-08T00:00:00-04:00", "2024-09-09T00:00:00-03:00"),  # the same instant
            ("2024-09-08T02:00:00-03:00", "2024-09-09T00:00:00-03:00"),  # an hour into it
        ],
    )
    assert [str(d)[:10] for d in scl.frame["local_date"]] == ["2024-09-08"] * 2
    assert scl.frame["tz_mismatch"].tolist() == [False, False]
    assert [(r.row_index, r.reason) for r in scl.rejections] == [(2, "invalid_date")]
    hav = run(
        "America/Havana",
        [
            ("2024-11-03T00:00:00-04:00", "2024-11-04T00:00:00-05:00"),  # the first midnight
            ("2024-11-03T00:00:00-05:00", "2024-11-04T00:00:00-05:00"),  # the second
            ("2024-11-03T00:00:00+00:00", "2024-11-04T00:00:00+00:00"),  # not this zone's
        ],
    )
    assert [str(d)[:10] for d in hav.frame["local_date"]] == ["2024-11-03"] * 3
    assert hav.frame["tz_mismatch"].tolist() == [False, False, True]
