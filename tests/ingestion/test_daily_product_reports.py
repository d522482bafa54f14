"""A product report row that sums several days (Meta insights pulled without
``time_increment=1``, a Google shopping_performance_view row by week or month) is refused
over a real Ingest stream, naming the field, as the campaign connectors refuse it; the daily
row beside it is stored on its own day (audit R21-F2: the week was stored as one day's
spend)."""

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
ACCOUNT = ingestion_pb.AccountInfo(
    account_id="act_1", timezone="America/New_York", currency_code="USD", country_code="US"
)


def _meta(start: str, stop: str | None, spend: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "account_id": "act_1", "campaign_id": "c1", "campaign_name": "Catalog",
        "product_id": "sku-1", "date_start": start, "spend": spend, "impressions": "7000",
        "clicks": "70", "account_currency": "USD",
        "actions": [{"action_type": "omni_purchase", "value": "7"}],
        "action_values": [{"action_type": "omni_purchase", "value": "350.00"}],
    }  # fmt: skip
    if stop is not None:
        row["date_stop"] = stop
    return row


def _google(segments: dict[str, str], micros: str) -> dict[str, Any]:
    return {
        "customer": {"id": "act_1", "currencyCode": "USD"},
        "campaign": {"id": "77", "name": "Shopping"},
        "segments": {"productItemId": "shopify_us_101_11", **segments},
        "metrics": {"costMicros": micros, "impressions": "100", "clicks": "5"},
    }


def _ingest(
    stub: ingestion_grpc.IngestionServiceStub,
    org: str,
    source: common_pb.DataSource.ValueType,
    rows: list[dict[str, Any]],
) -> ingestion_pb.IngestResponse:
    request = ingestion_pb.IngestRequest(
        org_id=org, source=source, batch_id="b1", json_rows=[json.dumps(r) for r in rows],
        account=ACCOUNT,
    )  # fmt: skip
    request.pulled_at.FromJsonString("2024-04-01T00:00:00Z")
    (ack,) = list(stub.Ingest(iter([request]), timeout=60))
    return ack


def _reason(value: ingestion_pb.RejectionReason.ValueType) -> str:
    return ingestion_pb.RejectionReason.Name(value).removeprefix("REJECTION_REASON_").lower()


@pytest.fixture()
def stubs(
    services: dict[str, Any],
) -> tuple[ingestion_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub]:
    return (
        ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(services["ingestion"].address)),
        memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address)),
    )


# case -> (source, rows: a daily one first, (field, words of the message) of the second's refusal)
CASES: dict[str, tuple[common_pb.DataSource.ValueType, list[dict[str, Any]], tuple[str, str]]] = {
    "meta_week": (
        common_pb.DATA_SOURCE_META_PRODUCTS,
        [_meta("2024-03-08", "2024-03-08", "100.00"), _meta("2024-03-01", "2024-03-07", "700.00")],
        ("date_stop", "date_stop 2024-03-07 differs from date_start 2024-03-01: rows must be daily"),
    ),
    "google_week": (
        common_pb.DATA_SOURCE_GOOGLE_ADS_SHOPPING,
        [_google({"date": "2024-03-08"}, "100000000"),
         _google({"week": "2024-03-04"}, "700000000")],
        ("segments.week", "segments.week 2024-03-04 without segments.date"),
    ),
    "google_month": (
        common_pb.DATA_SOURCE_GOOGLE_ADS_SHOPPING,
        [_google({"date": "2024-03-08"}, "100000000"),
         _google({"month": "2024-03-01"}, "700000000")],
        ("segments.month", "rows must be daily"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_a_multi_day_row_is_refused_and_the_daily_row_stored(
    stubs: tuple[ingestion_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub], case: str
) -> None:
    ingestion, memory = stubs
    source, rows, (field, words) = CASES[case]
    ack = _ingest(ingestion, "org_days", source, rows)
    got = [(r.row_index, r.field, _reason(r.reason)) for r in ack.rejections]
    assert (ack.accepted_count, got) == (1, [(1, field, "invalid_date")])
    assert words in ack.rejections[0].message
    stored = memory.AggregateProducts(
        memory_pb.AggregateProductsRequest(org_id="org_days", spend_only=True), timeout=60
    )
    spend = table_to_frame(stored.spend)
    assert spend["spend"].tolist() == [100.0]
    # days since the epoch
    assert [EPOCH + dt.timedelta(days=int(d)) for d in spend["date"]] == [dt.date(2024, 3, 8)]


def test_a_daily_meta_row_without_date_stop_is_still_read(
    stubs: tuple[ingestion_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub],
) -> None:
    """A row without ``date_stop`` says nothing about its span: kept, as the campaign
    connector keeps it."""
    ingestion, _ = stubs
    ack = _ingest(
        ingestion, "org_nostop", common_pb.DATA_SOURCE_META_PRODUCTS,
        [_meta("2024-03-08", None, "100.00")],
    )  # fmt: skip
    assert (ack.accepted_count, list(ack.rejections)) == (1, [])
