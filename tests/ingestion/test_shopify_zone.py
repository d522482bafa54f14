"""R34-F7: Shopify orders whose own offsets contradict the account's ``--timezone`` (a Berlin
shop ingested as America/New_York, or as Etc/GMT+1, which is UTC-01:00) are dated in the zone
given, as before, but the ack says so in a ``timezone_mismatch`` note naming the zone the
offsets fit; orders written in UTC (GraphQL, ETL tools) say nothing of the shop's zone."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import grpc
import pytest
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from ingestion_svc.connectors.shopify_orders import normalise
from ingestion_svc.product_batch import ProductBook, finish_products, prepare_products
from ingestion_svc.raw_batch import Account
from mesh import cli
from tests.ingestion.conftest import peers_of

from .conftest import raw_batch
from .test_shopify_order_shapes import order

# Berlin shop orders as Shopify REST writes them (the shop's offset), around both 2024 DST
# switches: four of the six are placed after midnight, Berlin time.
BERLIN_TIMES = (
    "2024-10-27T00:30:00+02:00",
    "2024-10-27T23:30:00+01:00",
    "2024-10-28T05:00:00+01:00",
    "2024-03-31T00:30:00+01:00",
    "2024-04-01T00:30:00+02:00",
    "2024-10-29T01:15:00+01:00",
)
UTC_TIMES = ("2024-10-26T22:30:00Z", "2024-03-30T23:30:00Z")
PULLED = dt.datetime(2024, 11, 1, tzinfo=dt.UTC)


def _orders(times: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        order(
            5560001 + k,
            created_at=t,
            processed_at=t,
            updated_at=t,
            currency="EUR",
            shipping_address={"province_code": "BY", "country_code": "DE"},
        )
        for k, t in enumerate(times)
    ]


def _notes(times: tuple[str, ...], zone: str, country: str = "DE") -> list[str]:
    account = Account(account_id="shopde", timezone=zone, currency="EUR", country=country)
    out = normalise(_orders(times), account)
    return [n.message for n in out.notes if n.kind == "timezone_mismatch"]


def test_offsets_the_zone_has_say_nothing() -> None:
    assert _notes(BERLIN_TIMES + UTC_TIMES, "Europe/Berlin") == []
    assert _notes(UTC_TIMES, "America/New_York") == []  # UTC: any shop's time
    # one order from another offset among many that fit: not "most"
    assert _notes((*BERLIN_TIMES, "2024-10-28T12:00:00-04:00"), "Europe/Berlin") == []


def test_a_wrong_zone_is_named_with_the_one_the_offsets_fit() -> None:
    (said,) = _notes(BERLIN_TIMES + UTC_TIMES, "America/New_York")
    assert said.startswith("6 of 6 orders carry offsets +01:00/+02:00, which Europe/Berlin has")
    assert "--timezone America/New_York has not: 4 are dated on another day" in said
    assert said.endswith("ingest again with --timezone Europe/Berlin")
    (said,) = _notes(BERLIN_TIMES, "Etc/GMT+1")
    assert "Etc/GMT+1 (UTC-01:00: Etc/GMT signs are inverted)" in said
    # no country given: still a zone that has those offsets on those dates
    (said,) = _notes(BERLIN_TIMES, "America/New_York", country="")
    assert "which Europe/" in said or "which Africa/Ceuta" in said
    (said,) = _notes(("2024-10-27T00:30:00+05:17",), "Europe/Berlin")  # no zone has it
    assert said.endswith("Check --timezone: it is the shop's zone")


def _berlin_days(address: str) -> list[dt.date]:
    stub = memory_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    records = [r for b in stub.Scan(memory_pb.ScanRequest(org_id="de")) for r in b.records]
    return sorted(dt.date(r.local_date.year, r.local_date.month, r.local_date.day) for r in records)


def test_the_ack_says_it_and_the_right_zone_restates_the_days(
    services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    peers = peers_of(services)
    monkeypatch.setenv("LIFTOS_INGESTION_ADDR", peers.ingestion)
    export = tmp_path / "shopify_de.ndjson"
    export.write_text("".join(json.dumps(o) + "\n" for o in _orders(BERLIN_TIMES)))
    argv = ["ingest", "--org", "de", "--source", "shopify_orders", "--currency", "EUR",
            "--country", "DE", "--pulled-at", "2024-11-01T00:00:00", "--json"]  # fmt: skip
    assert cli.main([*argv, "--timezone", "America/New_York", str(export)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["written"] == 6 and summary["notes_by_kind"] == {"timezone_mismatch": 1}
    (note,) = summary["first_notes"]
    assert note["field"] == "processed_at" and "which Europe/Berlin has" in note["message"]
    assert _berlin_days(peers.memory)[:2] == [dt.date(2024, 3, 30), dt.date(2024, 3, 31)]

    assert cli.main([*argv, "--timezone", "Europe/Berlin", str(export)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["notes_by_kind"] == {} and summary["restated"] == 6  # none stored twice
    assert _berlin_days(peers.memory) == sorted(dt.date.fromisoformat(t[:10]) for t in BERLIN_TIMES)


def test_the_note_stands_when_its_example_order_is_not_stored() -> None:
    """The note is the batch's: its row (the first order off the zone) is only an example, so
    a cancellation there, which stores nothing of that order, does not take the note away."""
    rows = _orders(BERLIN_TIMES)
    rows[0]["cancelled_at"] = rows[0]["processed_at"]
    account = Account(
        account_id="shopde", timezone="America/New_York", currency="EUR", country="DE"
    )
    lines = [json.dumps(r) for r in rows]
    result = finish_products(
        prepare_products(raw_batch("shopify_orders", lines, account, pulled_at=PULLED)),
        ProductBook(),
    )
    assert [r.row_index for r in result.rejections] == [0]  # not a sale: never taken
    (note,) = result.notes
    assert note.kind == "timezone_mismatch" and note.message.startswith("6 of 6 orders")
