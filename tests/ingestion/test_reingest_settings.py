"""An export re-sent under corrected account settings (--country, --timezone) restates the
stored rows to the new geo and day start instead of being counted duplicates of them (audits
R31 F4, R25 F1), and sent once more under the same settings it is a duplicate again. Real
memory + ingestion over gRPC."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from typing import Any

import grpc
import pandas as pd
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from mesh.runtime.tables import table_to_frame
from tests.ingestion.conftest import PULLED, dumps
from tests.ingestion.test_ingest_service import _request

_N = 12


def _stubs(services: Any) -> tuple[Any, Any]:
    return (
        ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(services["ingestion"].address)),
        memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address)),
    )


def _stored(memory: Any) -> list[Any]:
    return [
        r for b in memory.Scan(memory_pb.ScanRequest(org_id="acme"), timeout=30) for r in b.records
    ]


def _send(
    ingestion: Any, world: sim.SimResult, lines: list[str], batch: str, **account: Any
) -> Any:
    request = _request(world, lines, batch, pulled_at=PULLED)  # the same file: the same pull
    for name, value in account.items():
        if name == "geo_keys":
            request.account.geo_keys.clear()
            request.account.geo_keys.update(value)
        else:
            setattr(request.account, name, value)
    (ack,) = ingestion.Ingest(iter([request]))
    assert ack.rejected_count == 0, ack.rejections
    return ack


def _counts(ack: Any) -> tuple[int, int, int]:
    written = ack.accepted_count - ack.duplicate_count - ack.superseded_count
    return written, ack.duplicate_count, ack.restated_count


def _lines(world: sim.SimResult) -> list[str]:
    return [dumps(world.raw["meta"].base_row(k)) for k in range(_N)]


def test_a_corrected_country_restates_the_geos(services, world: sim.SimResult) -> None:  # type: ignore[no-untyped-def]
    ingestion, memory = _stubs(services)
    lines = _lines(world)
    first = _send(ingestion, world, lines, "no-country", country_code="")
    assert _counts(first) == (_N, 0, 0)
    assert all("-" not in r.geo for r in _stored(memory))
    fixed = _send(ingestion, world, lines, "with-country", country_code="US")
    assert _counts(fixed) == (_N, 0, _N), "the corrected re-send changed nothing"
    stored = _stored(memory)
    assert len(stored) == _N and all(r.geo.startswith("US-") for r in stored)
    # memory's sums follow: the spend is on the US- geos only
    sums = table_to_frame(
        memory.AggregateRecords(
            memory_pb.AggregateRecordsRequest(org_id="acme"), timeout=30
        ).geo_days
    )
    assert len(sums) and all(str(g).startswith("US-") for g in sums["geo"])
    again = _send(ingestion, world, lines, "with-country-again", country_code="US")
    assert _counts(again) == (0, _N, 0)


def test_a_region_name_keyed_before_the_country_is_re_keyed_not_doubled(  # type: ignore[no-untyped-def]
    services, world: sim.SimResult
) -> None:
    """Without geo_keys Meta's "California" is the row's geo code; with --country US it is
    "CA", another natural key: the re-send must restate the stored record, not add one."""
    ingestion, memory = _stubs(services)
    lines = _lines(world)
    first = _send(ingestion, world, lines, "names", country_code="", geo_keys={})
    assert _counts(first) == (_N, 0, 0)
    before = {r.id: r.natural_key for r in _stored(memory)}
    assert any("|California|" in k for k in before.values())
    fixed = _send(ingestion, world, lines, "codes", country_code="US", geo_keys={})
    assert _counts(fixed) == (_N, 0, _N)
    stored = _stored(memory)
    assert {r.id for r in stored} == set(before), "a second record of the same rows"
    assert all(r.geo.startswith("US-") for r in stored)
    assert _counts(_send(ingestion, world, lines, "codes-2", country_code="US", geo_keys={})) == (
        0,
        _N,
        0,
    )


def test_a_corrected_time_zone_restates_the_day_starts(services, world: sim.SimResult) -> None:  # type: ignore[no-untyped-def]
    ingestion, memory = _stubs(services)
    lines = _lines(world)
    assert _counts(_send(ingestion, world, lines, "utc", timezone="UTC")) == (_N, 0, 0)
    assert {r.timestamp.ToDatetime().hour for r in _stored(memory)} == {0}
    fixed = _send(ingestion, world, lines, "la", timezone="America/Los_Angeles")
    assert _counts(fixed) == (_N, 0, _N)
    stored = _stored(memory)
    assert len(stored) == _N
    starts = pd.DatetimeIndex([r.timestamp.ToDatetime() for r in stored])
    assert set(starts.hour) <= {7, 8}  # Los Angeles midnight in UTC (PDT / PST)
    assert _counts(_send(ingestion, world, lines, "la-2", timezone="America/Los_Angeles")) == (
        0,
        _N,
        0,
    )


_ORDER = {
    "id": 5001, "name": "#1001", "created_at": "2024-10-02T04:30:00Z",
    "processed_at": "2024-10-02T04:30:00Z", "updated_at": "2024-10-02T04:31:00Z",
    "currency": "USD", "financial_status": "paid", "test": False, "taxes_included": False,
    "line_items": [{"id": 9001, "product_id": 77, "variant_id": 78, "sku": "BOOT",
                    "title": "Boot", "price": "120.00", "quantity": 1, "total_discount": "0.00"}],
    "shipping_address": {"province_code": "CA", "country_code": "US"}, "refunds": [],
}  # fmt: skip


def _order(
    ingestion: Any, zone: str, batch: str, *, row: dict[str, Any] = _ORDER,
    source: int = common_pb.DATA_SOURCE_SHOPIFY_ORDERS, pulled: str = "2024-10-03T00:00:00Z",
) -> Any:  # fmt: skip
    request = ingestion_pb.IngestRequest(
        org_id="acme", source=source, batch_id=batch, json_rows=[json.dumps(row)],
        account=ingestion_pb.AccountInfo(account_id="shop", timezone=zone, currency_code="USD",
                                         country_code="US"),
    )  # fmt: skip
    request.pulled_at.FromJsonString(pulled)
    (ack,) = ingestion.Ingest(iter([request]), timeout=60)
    assert ack.rejected_count == 0, ack.rejections
    return ack


def test_a_shopify_order_re_sent_in_its_stores_zone_moves_to_its_day(services) -> None:  # type: ignore[no-untyped-def]
    """04:30 UTC on 2 October is 21:30 on 1 October in Los Angeles: a store first ingested
    with UTC, then with its own zone, has the order on 1 October (it stayed on the 2nd, and
    the ack said "written 1")."""
    ingestion, memory = _stubs(services)
    assert _counts(_order(ingestion, "UTC", "utc")) == (1, 0, 0)
    fixed = _order(ingestion, "America/Los_Angeles", "la")
    assert _counts(fixed) == (1, 0, 1)
    (line,) = _stored(memory)
    assert (line.local_date.year, line.local_date.month, line.local_date.day) == (2024, 10, 1)
    assert line.timestamp.ToJsonString() == "2024-10-01T07:00:00Z"
    assert _counts(_order(ingestion, "America/Los_Angeles", "la-2")) == (0, 1, 0)


def test_rows_memory_already_held_as_sent_are_counted_duplicates(  # type: ignore[no-untyped-def]
    services, world: sim.SimResult
) -> None:
    """A stream whose history predates another call's write of the same rows sends them
    again; memory keeps what it has (same version, same numbers). The ack counted them
    written; they are duplicates (R31 F4: "written" only for rows that changed anything)."""
    ingestion, memory = _stubs(services)
    sent: queue.Queue[Any] = queue.Queue()

    def stream_b() -> Iterator[Any]:
        while (item := sent.get()) is not None:
            yield item

    b_acks = ingestion.Ingest(stream_b(), timeout=60)
    sent.put(_request(world, _lines(world)[:1], "b0", pulled_at=PULLED))
    assert next(b_acks).accepted_count == 1
    lines = _lines(world)[1:5]
    (a_ack,) = ingestion.Ingest(
        iter([_request(world, lines, "a1", pulled_at=PULLED, row_offset=1)])
    )
    assert _counts(a_ack) == (4, 0, 0)
    sent.put(_request(world, lines, "b1", pulled_at=PULLED, row_offset=1))
    sent.put(None)
    (b_ack,) = list(b_acks)
    assert b_ack.accepted_count == 4 and _counts(b_ack) == (0, 4, 0)
    assert len(_stored(memory)) == 5


def test_a_catalogue_pulled_again_later_is_a_duplicate(services) -> None:  # type: ignore[no-untyped-def]
    """A catalogue snapshot is dated by its pull, not its content: the same catalogue a day
    later is the same content, not a catalogue put on another day."""
    ingestion, _ = _stubs(services)
    product = {"id": 4, "title": "p", "product_type": "shoes",
               "variants": [{"id": 41, "price": "5.00"}]}  # fmt: skip
    catalogue = {"row": product, "source": common_pb.DATA_SOURCE_SHOPIFY_PRODUCTS}
    first = _order(ingestion, "America/New_York", "c1", pulled="2024-10-03T00:00:00Z", **catalogue)
    assert _counts(first) == (1, 0, 0)
    later = _order(ingestion, "America/New_York", "c2", pulled="2024-10-04T00:00:00Z", **catalogue)
    assert _counts(later) == (0, 1, 0)


def test_a_late_batch_of_the_re_send_finds_its_rows_stored_without_the_country(  # type: ignore[no-untyped-def]
    services, world: sim.SimResult
) -> None:
    """An export whose later batch goes back more than the lags' 28 days before its first
    batch: that batch's history is scanned per series and geo, and the stored rows are under
    the geo without the country ("CA", not "US-CA"). They are found and restated too."""
    ingestion, memory = _stubs(services)
    first, fixed = late_batch_re_send(ingestion, world)
    assert [_counts(a) for a in first] == [(3, 0, 0), (3, 0, 0)]
    assert [_counts(a) for a in fixed] == [(3, 0, 3), (3, 0, 3)]
    stored = _stored(memory)
    assert len(stored) == 6 and all(r.geo.startswith("US-") for r in stored)


def late_batch_re_send(
    ingestion: Any, world: sim.SimResult, *, clear_geo_keys: bool = False
) -> tuple[list[Any], list[Any]]:
    """Three Meta rows of day 45 then three of day 0, sent without a country and again with
    it: the later batch goes back more than the lags' 28 days before the first. The acks of
    both sends; ``clear_geo_keys``: the account maps no geos (Meta's region names are kept)."""
    export = world.raw["meta"]
    by_day: dict[str, list[str]] = {}
    for k in range(5_000):
        row = export.base_row(k)
        by_day.setdefault(row["date_start"], []).append(dumps(row))
    days = sorted(by_day)
    late, early = by_day[days[45]][:3], by_day[days[0]][:3]

    def stream(batches: list[tuple[str, list[str]]], country: str) -> list[Any]:
        requests = []
        for batch_id, lines in batches:
            request = _request(world, lines, batch_id, pulled_at=PULLED)
            request.account.country_code = country
            if clear_geo_keys:
                request.account.geo_keys.clear()
            requests.append(request)
        return list(ingestion.Ingest(iter(requests)))

    first = stream([("late-0", late), ("early-0", early)], "")
    return first, stream([("late-1", late), ("early-1", early)], "US")
