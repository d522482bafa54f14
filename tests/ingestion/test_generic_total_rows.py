"""A per-day total row in a geo file (audit R18 #3): ingested without --country (the way
DMAs and Meridian's geo codes are kept), "Total" was stored as one more geo and every
absolute figure the geos add up to — spend, incremental outcome, baseline — doubled, with no
word naming it. Over real memory and ingestion servers where rows are sent."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from ingestion_svc import connectors
from ingestion_svc.raw_batch import Account, ColumnMap
from mesh import cli
from mesh.sdk.client import LiftOS
from tests.ingestion.conftest import peers_of, raw_batch

GEOS = {"501": 3.0, "602": 5.0, "803": 7.5}  # DMA codes: ingested without a country


def _file(days: int, total: str) -> str:
    lines = ["Day,DMA,NetSales,Orders"]
    for d in range(1, days + 1):
        for geo, base in GEOS.items():
            lines.append(f"2024-01-{d:02},{geo},{base * 100 + d:.2f},{int(base) + d}")
        sales = sum(b * 100 + d for b in GEOS.values())
        lines.append(f"2024-01-{d:02},{total},{sales:.2f},{sum(int(b) + d for b in GEOS.values())}")
    return "\n".join(lines) + "\n"


ARGV = ["ingest", "--source", "generic", "--account-id", "shop", "--timezone",
        "America/New_York", "--currency", "USD", "--quiet", "--json",
        "--mapping", "date=Day,geo=DMA,revenue=NetSales,conversions=Orders"]  # fmt: skip


def _geos(address: str, org: str) -> set[str]:
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    try:
        return {r.geo for b in stub.Scan(memory_pb.ScanRequest(org_id=org)) for r in b.records}
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.NOT_FOUND, err
        return set()


@pytest.mark.parametrize("country", ["", "US"])
def test_total_and_placeholder_labels_are_refused_by_name(country: str) -> None:
    labels = ["Total", "(All)", "Grand total:", "national", "(not set)", " ", "501"]
    rows = [json.dumps({"Day": "2024-01-01", "DMA": g, "NetSales": "1"}) for g in labels]
    account = Account("shop", "America/New_York", "USD", country)
    mapping = ColumnMap(date="Day", geo="DMA", revenue="NetSales")
    out = connectors.normalise(raw_batch("generic", rows, account, mapping=mapping))
    why = {r.row_index: (r.reason, r.message) for r in out.rejections}
    for i in range(4):
        assert why[i][0] == "unknown_geo" and "reads as a total over geos" in why[i][1], why[i]
    assert why[4][0] == "unknown_geo" and "'(not set)' is a placeholder" in why[4][1]
    assert why[5] == ("missing_field", "DMA is missing (blank)")
    if country:  # a DMA is no US state: refused as before
        assert why[6][0] == "unknown_geo" and "not a subdivision" in why[6][1]
    else:
        assert list(out.frame["geo"]) == ["501"]


def test_a_label_the_accounts_geo_keys_map_is_kept() -> None:
    account = Account("shop", "America/New_York", "USD", "", geo_keys={"All": "ALL-MARKETS"})
    rows = [json.dumps({"Day": "2024-01-01", "DMA": "All", "NetSales": "1"})]
    out = connectors.normalise(
        raw_batch(
            "generic", rows, account, mapping=ColumnMap(date="Day", geo="DMA", revenue="NetSales")
        )
    )
    assert out.rejections == [] and list(out.frame["geo"]) == ["ALL-MARKETS"]


def test_the_cli_refuses_a_geo_that_is_the_others_sum_under_any_name(  # type: ignore[no-untyped-def]
    services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    peers = peers_of(services)
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", peers.ingestion)
    path = tmp_path / "dma.csv"
    path.write_text(_file(10, "All DMAs combined"))
    assert cli.main([*ARGV, "--org", "sum", str(path)]) == 2
    err = capsys.readouterr().err
    assert (
        "geo 'All DMAs combined' (first on line 5) equals the sum of the other geos on 10 of its 10 days"
        in err
    )
    assert _geos(peers.memory, "sum") == set()
    # a 'Total' label on a short file (too few days to tell by the sums): refused by row
    path.write_text(_file(3, "Total"))
    assert cli.main([*ARGV, "--org", "label", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["rows"], summary["accepted"], summary["rejected"]) == (12, 9, 3)
    assert summary["rejected_by_reason"] == {"unknown_geo": 3}
    assert _geos(peers.memory, "label") == set(GEOS)


def test_the_sdk_refuses_a_total_geo_before_sending(services) -> None:  # type: ignore[no-untyped-def]
    peers = peers_of(services)
    head, *lines = _file(8, "9999").strip().split("\n")
    rows = [dict(zip(head.split(","), ln.split(","), strict=True)) for ln in lines]
    account = {"account_id": "shop", "timezone": "America/New_York", "currency": "USD"}
    mapping = {"date": "Day", "geo": "DMA", "revenue": "NetSales", "conversions": "Orders"}
    with LiftOS(peers, org_id="sdk-total") as client, pytest.raises(ValueError, match="'9999'"):
        client.ingest("generic", rows, account=account, mapping=mapping)
    assert _geos(peers.memory, "sdk-total") == set()
    without = [r for r in rows if r["DMA"] != "9999"]
    with LiftOS(peers, org_id="sdk-total") as client:
        got = client.ingest("generic", without, account=account, mapping=mapping)
    assert (got.accepted, got.rejected) == (24, 0)
