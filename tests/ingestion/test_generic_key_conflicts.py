"""Rows of one date × geo × campaign that differ (audit R18 #4): the SDK sent them as they
were and the service kept the last, all counted accepted ("accepted=40 … superseded=20", 20
days of a state's revenue gone); and `liftos ingest`'s check keyed the geo as written, so
"NY" and "New York" (one geo to the service) slipped through, --sum-rows or not. Over real
memory and ingestion servers."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from mesh import cli
from mesh.sdk.client import LiftOS
from tests.ingestion.conftest import peers_of

ACCOUNT = {"account_id": "shop", "timezone": "America/New_York", "currency": "USD",
           "country": "US"}  # fmt: skip
MAPPING = {"date": "Day", "geo": "Region", "revenue": "NetSales"}
STORES = [{"Day": f"2024-01-{d:02}", "Region": "CA", "NetSales": 100.0 + d} for d in range(1, 21)]
SECOND_STORE = [{**row, "NetSales": 1.0} for row in STORES]


def _stored(address: str, org: str) -> dict[tuple[int, str], float]:
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    try:
        scan = list(stub.Scan(memory_pb.ScanRequest(org_id=org)))
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.NOT_FOUND, err
        return {}
    return {(r.local_date.day, r.geo): r.revenue for b in scan for r in b.records}


def test_the_sdk_refuses_differing_rows_of_a_key_and_sums_them_when_told(services) -> None:  # type: ignore[no-untyped-def]
    peers = peers_of(services)
    with LiftOS(peers, org_id="two-stores") as client:
        with pytest.raises(ValueError, match="share their date × geo × campaign") as refused:
            client.ingest("generic", STORES + SECOND_STORE, account=ACCOUNT, mapping=MAPPING)
        assert "sum_rows=True" in str(refused.value) and "--sum-rows" not in str(refused.value)
        assert _stored(peers.memory, "two-stores") == {}  # nothing was sent
        got = client.ingest(
            "generic", STORES + SECOND_STORE, account=ACCOUNT, mapping=MAPPING, sum_rows=True
        )
    assert (got.rows, got.accepted, got.written, got.superseded, got.rejected) == (20, 20, 20, 0, 0)
    assert _stored(peers.memory, "two-stores") == {
        (d, "US-CA"): pytest.approx(101.0 + d) for d in range(1, 21)
    }


def test_one_geo_spelled_two_ways_is_refused_by_row_and_the_counts_add_up(services) -> None:  # type: ignore[no-untyped-def]
    peers = peers_of(services)
    rows = [
        {"Day": "2024-01-01", "Region": "NY", "NetSales": 1000.0},
        {"Day": "2024-01-01", "Region": "New York", "NetSales": 250.0},
        {"Day": "2024-01-01", "Region": "CA", "NetSales": 500.0},
        {"Day": "2024-01-01", "Region": "CA", "NetSales": 500.0},  # a copy: a duplicate
    ]
    with LiftOS(peers, org_id="spellings") as client:
        got = client.ingest("generic", rows, account=ACCOUNT, mapping=MAPPING)
    assert (got.rows, got.accepted, got.rejected, got.duplicates, got.written) == (4, 2, 2, 1, 1)
    assert got.superseded == got.restated == 0
    assert [(i, f, r) for i, f, r, _ in got.rejections] == [
        (0, "Region", "finer_than_key"), (1, "Region", "finer_than_key"),
    ]  # fmt: skip
    message = got.rejections[0][3]
    assert (
        "2 rows of this batch share date 2024-01-01 × geo US-NY (written 'NY', 'New York')"
        in message
    )
    assert "NetSales 1000, 250" in message
    assert _stored(peers.memory, "spellings") == {(1, "US-CA"): 500.0}


def test_the_cli_with_sum_rows_does_not_drop_a_second_spelling(  # type: ignore[no-untyped-def]
    services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    peers = peers_of(services)
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", peers.ingestion)
    path = tmp_path / "ny_two.csv"
    path.write_text(
        "Day,Region,NetSales\n2024-01-01,NY,1000.00\n2024-01-01,New York,250.00\n"
        "2024-01-01,CA,500.00\n2024-01-01,CA,20.00\n"
    )
    argv = ["ingest", "--org", "ny", "--source", "generic", "--account-id", "shop",
            "--timezone", "America/New_York", "--currency", "USD", "--country", "US", "--quiet",
            "--mapping", "date=Day,geo=Region,revenue=NetSales", "--sum-rows", "--json",
            str(path)]  # fmt: skip
    assert cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    # CA's two rows summed into one (sent as line 4's); NY's two spellings refused by line
    assert (summary["rows"], summary["accepted"], summary["rejected"]) == (3, 1, 2)
    assert summary["superseded"] == summary["restated"] == 0
    assert [(r["line"], r["reason"]) for r in summary["first_rejections"]] == [
        (2, "finer_than_key"), (3, "finer_than_key"),
    ]  # fmt: skip
    assert _stored(peers.memory, "ny") == {(1, "US-CA"): 520.0}


def test_two_spellings_far_apart_meet_in_one_batch(services) -> None:  # type: ignore[no-untyped-def]
    """The service compares a key's rows within a batch: the SDK sends each day's rows in one
    batch, so 'NY' and 'New York' rows of one day far apart in the input still meet."""
    peers = peers_of(services)
    rows = [
        {"Day": "2024-01-01", "Region": "NY", "NetSales": 1000.0},
        {"Day": "2024-01-01", "Region": "CA", "NetSales": 500.0},
        {"Day": "2024-01-02", "Region": "TX", "NetSales": 70.0},
        {"Day": "2024-01-02", "Region": "CA", "NetSales": 60.0},
        {"Day": "2024-01-01", "Region": "New York", "NetSales": 250.0},
    ]
    with LiftOS(peers, org_id="far") as client:
        got = client.ingest("generic", rows, account=ACCOUNT, mapping=MAPPING, batch_size=3)
    assert (got.batches, got.rows, got.accepted, got.rejected) == (2, 5, 3, 2)
    assert got.superseded == got.restated == 0
    # the rejections carry the rows' places in the input, not in the sorted stream
    assert [(i, r) for i, _, r, _ in got.rejections] == [
        (0, "finer_than_key"),
        (4, "finer_than_key"),
    ]
    assert _stored(peers.memory, "far") == {
        (1, "US-CA"): 500.0, (2, "US-TX"): 70.0, (2, "US-CA"): 60.0,
    }  # fmt: skip
