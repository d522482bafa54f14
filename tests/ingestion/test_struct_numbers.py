"""Ids sent as numbers in ``IngestRequest.rows`` (google.protobuf.Struct, every number a
double), as a Go/TS/grpcurl client sends them (s18 R32): an id within 2^53 is stored as the
same text ``json_rows`` gives it ("27965069839", not "27965069839.0"); an id past 2^53 (a
TikTok/Meta id) is its row's rejection naming the field and the fix, where it used to be
rounded so that two campaigns merged and one's spend was replaced as a "restatement". Through
a real ingestion + memory pair, against the same rows sent as ``json_rows``; and ids written
as JSON float literals in ``json_rows`` (1.7e18, 27965069839.0), read by the same rule."""

from __future__ import annotations

import json
from typing import Any

import grpc
from google.protobuf import struct_pb2
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from ingestion_svc.convert.struct_numbers import exact_numbers, inexact_key, json_keys
from ingestion_svc.parse import parse_json_rows
from tests.ingestion.conftest import clean_line

ORG = "structs"
MEDIA = ingestion_pb.ColumnMapping(
    date="date", campaign_id="campaign_id", campaign_name="campaign_name", geo="geo",
    spend="spend", channel="channel",
)  # fmt: skip
ACCOUNT = ingestion_pb.AccountInfo(
    account_id="struct-acct", timezone="America/New_York", currency_code="USD", country_code="US"
)
SMALL = 27965069839
BIG_A, BIG_B = 1717286153417985487, 1717286153417985488  # one double apart: none


def _struct(row: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(row)  # ints become number_value doubles, as Go's structpb.NewStruct does
    return s


def _send(services, batch_id: str, **kw: Any) -> ingestion_pb.IngestResponse:  # type: ignore[no-untyped-def]
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(services["ingestion"].address))
    kw.setdefault("source", common_pb.DATA_SOURCE_GENERIC_MEDIA)
    kw.setdefault("account", ACCOUNT)
    req = ingestion_pb.IngestRequest(org_id=ORG, batch_id=batch_id, **kw)
    (ack,) = list(stub.Ingest(iter([req]), timeout=60))
    return ack


def _stored(services) -> list[Any]:  # type: ignore[no-untyped-def]
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address))
    try:
        return [r for part in stub.Scan(memory_pb.ScanRequest(org_id=ORG), timeout=60)
                for r in part.records]  # fmt: skip
    except grpc.RpcError as e:  # an org with no record yet
        assert e.code() == grpc.StatusCode.NOT_FOUND, e
        return []


def _media(day: int, cid: int | str, spend: float, name: str = "Spark Ads") -> dict[str, Any]:
    return {"date": f"2024-09-{day:02d}", "campaign_id": cid, "campaign_name": name,
            "geo": "CA", "spend": spend, "channel": "tiktok"}  # fmt: skip


def test_an_id_within_2_53_is_stored_as_json_rows_stores_it(services) -> None:  # type: ignore[no-untyped-def]
    struct = _send(services, "s", mapping=MEDIA, rows=[_struct(_media(15, SMALL, 100.5))])
    as_json = _send(services, "j", mapping=MEDIA, json_rows=[json.dumps(_media(16, SMALL, 7.0))])
    assert (struct.accepted_count, as_json.accepted_count) == (1, 1)
    by_day = {r.timestamp.ToDatetime().day: r for r in _stored(services)}
    assert by_day[15].campaign_id == by_day[16].campaign_id == str(SMALL)
    assert by_day[15].spend == 100.5  # an amount keeps its fraction


def test_ids_past_2_53_are_refused_not_merged(services) -> None:  # type: ignore[no-untyped-def]
    acks = [
        _send(services, f"b{k}", mapping=MEDIA, rows=[_struct(_media(15, cid, spend, name))])
        for k, (cid, spend, name) in enumerate(((BIG_A, 100.0, "A"), (BIG_B, 200.0, "B")))
    ]
    for ack in acks:
        assert (ack.accepted_count, ack.rejected_count, ack.restated_count) == (0, 1, 0)
        (why,) = ack.rejections
        assert why.field == "campaign_id" and why.reason == ingestion_pb.REJECTION_REASON_MALFORMED
        assert "2^53" in why.message and "send ids as strings" in why.message
        assert "json_rows" in why.message
    assert _stored(services) == []
    # The same ids through json_rows are two campaigns, each with its own spend.
    rows = [json.dumps(_media(15, BIG_A, 100.0, "A")), json.dumps(_media(15, BIG_B, 200.0, "B"))]
    assert _send(services, "j", mapping=MEDIA, json_rows=rows).accepted_count == 2
    got = {r.campaign_id: r.spend for r in _stored(services)}
    assert got == {str(BIG_A): 100.0, str(BIG_B): 200.0}


def test_a_numeric_geo_is_one_geo_whichever_field_carries_it(services) -> None:  # type: ignore[no-untyped-def]
    orders = ingestion_pb.ColumnMapping(
        date="date", geo="dma", conversions="orders", revenue="revenue"
    )
    account = ingestion_pb.AccountInfo(
        account_id="geo-acct", timezone="America/New_York", currency_code="USD"
    )
    row = {"date": "2024-09-15", "dma": 501, "orders": 5, "revenue": 100.25}
    source = common_pb.DATA_SOURCE_GENERIC
    a = _send(services, "gs", source=source, account=account, mapping=orders, rows=[_struct(row)])
    row["date"] = "2024-09-16"
    b = _send(services, "gj", source=source, account=account, mapping=orders,
              json_rows=[json.dumps(row)])  # fmt: skip
    assert (a.accepted_count, b.accepted_count) == (1, 1)
    assert {r.geo for r in _stored(services)} == {"501"}


def test_a_platform_id_past_2_53_is_refused_at_its_path(services, world: sim.SimResult) -> None:  # type: ignore[no-untyped-def]
    base = clean_line(world, "meta")
    acct = next(x for x in world.accounts if x["source"] == "meta")
    account = ingestion_pb.AccountInfo(
        account_id=acct["account_id"], timezone=acct["timezone"],
        currency_code=acct["currency"], country_code="US", geo_keys=acct["geo_keys"],
    )  # fmt: skip
    ack = _send(services, "m", source=common_pb.DATA_SOURCE_META, account=account,
                rows=[_struct(dict(base, campaign_id=120250365460216532))])  # fmt: skip
    assert [(r.field, r.row_index) for r in ack.rejections] == [("campaign_id", 0)]
    small = _send(services, "m2", source=common_pb.DATA_SOURCE_META, account=account,
                  rows=[_struct(dict(base, campaign_id=SMALL))])  # fmt: skip
    assert small.accepted_count == 1
    assert [r.campaign_id for r in _stored(services)] == [str(SMALL)]


def test_nested_key_paths_and_fractions() -> None:
    row = exact_numbers({"id": 5.0, "line_items": [{"id": 7.0}, {"id": 2.0**60}], "x": 1.5})
    assert row["id"] == 5 and type(row["id"]) is int and row["x"] == 1.5
    bad = inexact_key(3, row, ("id", "line_items[].id"))
    assert bad is not None and (bad.row_index, bad.field) == (3, "line_items[].id")
    frac = inexact_key(0, exact_numbers({"geo": 501.5}), ("geo",))
    assert frac is not None and "fraction" in frac.message
    assert inexact_key(0, exact_numbers({"geo": "501.5", "spend": 2.0**60}), ("geo",)) is None


def test_json_float_ids_are_read_as_the_struct_path_reads_them(services) -> None:  # type: ignore[no-untyped-def]
    """A JSON float literal in a key field of ``json_rows`` (a JS client's JSON.stringify of a
    double, a pandas export of an id column with gaps): a whole one within 2^53 is the same
    campaign (and geo) as its integer, not the text "27965069839.0"; one past 2^53 has lost
    its last digits and refuses its row naming the field, while the batch's other rows land."""
    lines = [
        '{"date": "2024-09-15", "campaign_id": 27965069839.0, "campaign_name": "Spark Ads", '
        '"geo": "CA", "spend": 10.0, "channel": "tiktok"}',
        '{"date": "2024-09-16", "campaign_id": 27965069839, "campaign_name": "Spark Ads", '
        '"geo": "CA", "spend": 20.5, "channel": "tiktok"}',
        '{"date": "2024-09-17", "campaign_id": 1.7e18, "campaign_name": "Other", '
        '"geo": "CA", "spend": 30.0, "channel": "tiktok"}',
        '{"date": "2024-09-18", "campaign_id": "1717286153417985487", "campaign_name": "Other", '
        '"geo": "CA", "spend": 40.0, "channel": "tiktok"}',
    ]
    ack = _send(services, "jf", mapping=MEDIA, json_rows=lines)
    assert (ack.accepted_count, ack.rejected_count) == (3, 1), ack
    (why,) = ack.rejections
    assert (why.row_index, why.field) == (2, "campaign_id")
    assert why.reason == ingestion_pb.REJECTION_REASON_MALFORMED
    assert "2^53" in why.message and "send ids as strings" in why.message, why.message
    by_day = {r.timestamp.ToDatetime().day: r for r in _stored(services)}
    assert sorted(by_day) == [15, 16, 18]
    assert by_day[15].campaign_id == by_day[16].campaign_id == str(SMALL)
    # a numeric geo (a DMA) written as a float is the geo its integer is
    orders = ingestion_pb.ColumnMapping(date="date", geo="dma", conversions="orders",
                                        revenue="revenue")  # fmt: skip
    account = ingestion_pb.AccountInfo(account_id="geo-acct", timezone="America/New_York",
                                       currency_code="USD")  # fmt: skip
    dma = _send(services, "jg", source=common_pb.DATA_SOURCE_GENERIC, account=account,
                mapping=orders, json_rows=[
                    '{"date": "2024-09-15", "dma": 501.0, "orders": 5, "revenue": 100.25}',
                    '{"date": "2024-09-16", "dma": 501, "orders": 4, "revenue": 80.0}'])  # fmt: skip
    assert dma.accepted_count == 2, dma
    assert {r.geo for r in _stored(services) if r.revenue} == {"501"}
    assert by_day[18].campaign_id == "1717286153417985487"
    assert by_day[15].spend == 10.0 and by_day[16].spend == 20.5  # amounts as sent


def test_a_json_float_id_with_a_fraction_is_refused() -> None:
    rows, _, _ = parse_json_rows(['{"geo": 501.5, "campaign_id": 7.0, "spend": 2.0}'])
    row = rows[0]
    assert row is not None
    bad = json_keys(4, row, ("campaign_id", "geo"))
    assert bad is not None and (bad.row_index, bad.field) == (4, "geo")
    assert "fraction" in bad.message
    assert row["campaign_id"] == 7 and type(row["campaign_id"]) is int and row["spend"] == 2.0
