"""A user's own first-party files (R4 audit): an order-level export (several rows per day and
region) was stored as its last row of each (57% of a day's revenue gone, "accepted 5", exit 0);
spreadsheet date-times were rejected; a load whose every row failed exited 0; a DMA code's
refusal did not say how to keep it."""

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
from mesh.cli import generic_rows
from tests.ingestion.conftest import peers_of, raw_batch

MAPPING = {"date": "date", "geo": "region", "conversions": "orders", "revenue": "revenue"}
ORDERS = (
    "date,region,orders,revenue\n"
    "2024-01-01,CA,1,80.00\n"
    "2024-01-01,CA,1,120.50\n"
    "2024-01-01,CA,1,80.00\n"
    "2024-01-01,TX,1,55.00\n"
    "2024-01-02 14:33:00,CA,1,99.00\n"
    "2024-01-02T09:10,CA,1,1.00\n"
)
ARGV = ["ingest", "--org", "shop", "--source", "generic", "--account-id", "orders",
        "--timezone", "America/New_York", "--currency", "USD", "--country", "US",
        "--mapping", ",".join(f"{k}={v}" for k, v in MAPPING.items())]  # fmt: skip


def _rows(text: str) -> list[tuple[int, str]]:
    head, *lines = text.strip().split("\n")
    cols = head.split(",")
    return [(i + 2, json.dumps(dict(zip(cols, ln.split(","), strict=True))))
            for i, ln in enumerate(lines)]  # fmt: skip


def test_rows_of_a_key_that_differ_are_found_and_identical_copies_are_not() -> None:
    clash = generic_rows.conflict(_rows(ORDERS), MAPPING)
    assert clash is not None and clash.first == (2, 3) and clash.key == ("2024-01-01", "CA", "", "")
    # rows differing from their key's first: CA on the 1st (120.50; the second 80.00 is the
    # first's copy) and CA on the 2nd, whose two date-times are one day
    assert (clash.rows, clash.keys) == (2, 2)
    assert "--sum-rows" in clash.text("orders.csv")
    duplicated_pull = "date,region,orders,revenue\n2024-01-01,CA,1,80\n2024-01-01,CA,1,80\n"
    assert generic_rows.conflict(_rows(duplicated_pull), MAPPING) is None


def test_summed_rows_add_each_key_at_its_first_line() -> None:
    out = [(line, json.loads(text)) for line, text in generic_rows.summed(_rows(ORDERS), MAPPING)]
    assert [line for line, _ in out] == [2, 5, 6]
    ca, tx, ca2 = (row for _, row in out)
    assert (ca["orders"], ca["revenue"]) == (3.0, 280.5)  # identical rows are two orders
    assert (tx["orders"], tx["revenue"]) == (1.0, 55.0)
    assert (ca2["orders"], ca2["revenue"]) == (2.0, 100.0)
    # a row whose measure is no number goes alone, for ingestion to reject with its reason
    bad = ORDERS + "2024-01-01,CA,one,5\n"
    assert [line for line, _ in generic_rows.summed(_rows(bad), MAPPING)] == [2, 5, 6, 8]


def test_local_and_zoned_date_times_are_their_day_in_the_account_zone() -> None:
    """A zoned time is dated in the account's zone (s18 R34 F5; it was refused)."""
    mapping = ColumnMap(date="day", geo="state", revenue="rev")
    days = ["2024-01-05T00:00:00", "2024-01-05 14:33", "2024-01-05 14:33:07.25",
            "2024-01-05T14:33:00Z", "2024-01-05 25:00", "2024-01-05T14:33:00+01:00",
            "2024-01-06T03:00:00Z"]  # fmt: skip
    rows = [json.dumps({"day": d, "state": "CA", "rev": "1"}) for d in days]
    account = Account("shop", "America/New_York", "USD", "US")
    out = connectors.normalise(raw_batch("generic", rows, account, mapping=mapping))
    # 03:00 UTC on the 6th is 22:00 on the 5th in New York
    assert [str(d)[:10] for d in out.frame["local_date"]] == ["2024-01-05"] * 6
    assert [(r.row_index, r.reason) for r in out.rejections] == [(4, "invalid_date")]
    assert out.rejections[0].message.startswith("day '2024-01-05 25:00' is not a real")
    assert "hh:mm:ss, local or with its zone" in out.rejections[0].message


def test_a_dma_code_s_refusal_says_how_to_keep_it() -> None:
    mapping = ColumnMap(date="day", geo="dma", revenue="rev")
    rows = [json.dumps({"day": "2024-01-05", "dma": "501", "rev": "1"})]
    account = Account("shop", "America/New_York", "USD", "US")
    out = connectors.normalise(raw_batch("generic", rows, account, mapping=mapping))
    (rejection,) = out.rejections
    assert rejection.reason == "unknown_geo" and "ingest without a country" in rejection.message


def _ca_first_day(address: str) -> tuple[float, float]:
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    records = [r for b in stub.Scan(memory_pb.ScanRequest(org_id="shop")) for r in b.records]
    day = [r for r in records if r.geo == "US-CA" and r.local_date.day == 1]
    return sum(r.conversions for r in day), sum(r.revenue for r in day)


def test_the_cli_refuses_an_order_level_file_and_sums_it_when_told(
    services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    peers = peers_of(services)
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", peers.ingestion)
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS)
    assert cli.main([*ARGV, str(orders)]) == 2  # refused before anything is sent
    err = capsys.readouterr().err
    assert "2 rows share their date × geo × campaign" in err and "lines 2 and 3" in err
    assert cli.main([*ARGV, "--sum-rows", "--json", str(orders)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == summary["written"] == 3 and summary["superseded"] == 0
    assert _ca_first_day(peers.memory) == (3.0, pytest.approx(280.5))
    # every row rejected: the summary names the reason's message, and the command fails
    us_dates = tmp_path / "us_dates.csv"
    us_dates.write_text("date,region,orders,revenue\n01/15/2024,CA,1,5\n01/16/2024,CA,1,5\n")
    assert cli.main([*ARGV, str(us_dates)]) == 1
    out = capsys.readouterr()
    assert "invalid_date" in out.out and "not a real yyyy-mm-dd date" in out.out
    assert "every one of the 2 rows was rejected" in out.err
