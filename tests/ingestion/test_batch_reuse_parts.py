"""A batch id re-sent with something other than its rows changed (s18 R32): a retry that
re-stamps pulled_at sent the same rows and was told the batch "was acked for different rows".
Now the refusal names the part that differs (pulled_at with both values, row_offset, account,
mapping) and what to do; different rows still read "different rows"; an identical retry is
replayed, also against a ledger entry written before the parts were kept. Real ingestion +
memory on localhost."""

from __future__ import annotations

import json

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc

from ingestion_svc.convert.ingest import digest_of
from ingestion_svc.ledger import BatchLedger
from tests.ingestion.conftest import rich_error

ORG = "bidi"
T = 1731574800  # 2024-11-14T09:00:00Z


def _request(batch_id: str, *, day: int = 20, **kw: object) -> ingestion_pb.IngestRequest:
    row = {"date": f"2024-09-{day:02d}", "region": "CA", "orders": 5, "revenue": 100.0}
    kw.setdefault("pulled_at", Timestamp(seconds=T))
    kw.setdefault("account", ingestion_pb.AccountInfo(
        account_id="bidi-acct", timezone="America/New_York", currency_code="USD",
        country_code="US"))  # fmt: skip
    return ingestion_pb.IngestRequest(
        org_id=ORG, source=common_pb.DATA_SOURCE_GENERIC, batch_id=batch_id,
        json_rows=[json.dumps(row)],
        mapping=ingestion_pb.ColumnMapping(date="date", geo="region", conversions="orders",
                                           revenue="revenue"),
        **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def _send(services, request: ingestion_pb.IngestRequest):  # type: ignore[no-untyped-def]
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(services["ingestion"].address))
    (ack,) = stub.Ingest(iter([request]), timeout=60)
    return ack


def _refused(services, request: ingestion_pb.IngestRequest) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        _send(services, request)
    code, reason, _, _ = rich_error(info.value)
    assert (code, reason) == (grpc.StatusCode.ALREADY_EXISTS, "BATCH_ID_REUSED")
    return info.value.details() or ""


def test_a_new_pulled_at_is_named_with_both_values(services) -> None:  # type: ignore[no-untyped-def]
    assert _send(services, _request("pa-1")).accepted_count == 1
    assert _send(services, _request("pa-1")).replayed
    said = _refused(services, _request("pa-1", pulled_at=Timestamp(seconds=T + 1)))
    assert "pulled_at 2024-11-14T09:00:00Z then, 2024-11-14T09:00:01Z now" in said
    assert "its rows are the same" in said and "different rows" not in said
    assert "resend the batch as it was" in said and "new batch_id" in said


def test_each_other_part_is_named(services) -> None:  # type: ignore[no-untyped-def]
    _send(services, _request("pa-2"))
    assert "different rows" in _refused(services, _request("pa-2", day=21))
    said = _refused(services, _request("pa-2", row_offset=10))
    assert "row_offset 0 then, 10 now" in said and "its rows are the same" in said
    other = ingestion_pb.AccountInfo(account_id="bidi-acct", timezone="America/Chicago",
                                     currency_code="USD", country_code="US")  # fmt: skip
    said = _refused(services, _request("pa-2", account=other, pulled_at=Timestamp(seconds=T + 5)))
    assert "with another pulled_at, account (pulled_at" in said


def test_a_ledger_entry_from_before_the_parts_still_replays(services, tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = _send(services, _request("warm"))  # the server's ledger exists
    old = _request("legacy")
    BatchLedger(tmp_path / "ingestion" / "ledger.sqlite").put(
        ORG, "legacy", digest_of(old), first.SerializeToString()
    )
    assert _send(services, old).replayed
    said = _refused(services, _request("legacy", pulled_at=Timestamp(seconds=T + 1)))
    assert "for a different request" in said and "pulled_at" in said
