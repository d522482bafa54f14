"""Rows below the connectors' key (audit R15-F2): two ad sets of one campaign, a Google row per
location type or device, a shopping row per ad group. One key stores one row, so the later
used to replace the earlier as a 'restatement' and the other rows' spend vanished. Such rows
are now rejected naming the field and how to export at the key's grain; the others land."""

from __future__ import annotations

import copy
from typing import Any

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc

import sim
from ingestion_svc import connectors
from ingestion_svc.connectors.base import FINER, FINER_REASON
from ingestion_svc.connectors.product_reports import (
    normalise_google_shopping,
    normalise_meta_products,
)
from ingestion_svc.parse import parse_json_rows
from ingestion_svc.raw_batch import REASONS, Account
from tests.ingestion.conftest import PULLED, account_of, clean_line, dumps, raw_batch


def _run(source: str, rows: list[dict[str, Any]], account: Account) -> connectors.Normalised:
    return connectors.normalise(raw_batch(source, [dumps(r) for r in rows], account))


def _with(row: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(row)
    *parents, last = path.split(".")
    cur = out
    for p in parents:
        cur = cur.setdefault(p, {})
    cur[last] = value
    return out


def _assert_finer(out: Any, rows: list[int], field: str, fix: str) -> None:
    assert FINER_REASON == "finer_than_key" and FINER_REASON in REASONS  # a reason on the wire
    got = [(r.row_index, r.field, r.reason) for r in out.rejections]
    assert got == [(i, field, FINER_REASON) for i in rows]
    for r in out.rejections:
        assert r.message.startswith(FINER) and fix in r.message


def test_meta_adset_rows_are_rejected_and_the_campaign_row_lands(world: sim.SimResult) -> None:
    row = clean_line(world, "meta")
    a = _with(row, "adset_id", "23850000000000101")
    b = _with(_with(row, "adset_id", "23850000000000102"), "spend", "98.10")
    out = _run("meta", [a, b, row], account_of(world, "meta"))
    assert out.frame["row"].tolist() == [2]
    _assert_finer(out, [0, 1], "adset_id", "level=campaign")
    assert "23850000000000101" in out.rejections[0].message


@pytest.mark.parametrize("field", ["ad_id", "publisher_platform", "age"])
def test_meta_other_finer_fields(world: sim.SimResult, field: str) -> None:
    row = clean_line(world, "meta")
    out = _run("meta", [_with(row, field, "x1")], account_of(world, "meta"))
    _assert_finer(out, [0], field, "breakdowns=region only")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("geographicView.locationType", "AREA_OF_INTEREST"),
        ("segments.device", "MOBILE"),
        ("segments.adNetworkType", "SEARCH"),
        ("adGroup", {"id": "1501", "resourceName": "customers/1/adGroups/1501"}),
    ],
)
def test_google_rows_split_below_campaign_region_day(
    world: sim.SimResult, path: str, value: Any
) -> None:
    row = clean_line(world, "google_ads")
    out = _run("google_ads", [row, _with(row, path, value)], account_of(world, "google_ads"))
    assert out.frame["row"].tolist() == [0]
    _assert_finer(out, [1], path, "segments.geo_target_region only")


def test_google_date_segments_do_not_split(world: sim.SimResult) -> None:
    row = _with(clean_line(world, "google_ads"), "segments.dayOfWeek", "MONDAY")
    row = _with(row, "segments.geoTargetCountry", "geoTargetConstants/2840")
    out = _run("google_ads", [row], account_of(world, "google_ads"))
    assert not out.rejections and len(out.frame) == 1


@pytest.fixture(scope="module")
def products_world() -> sim.SimResult:
    return sim.simulate(
        "products", seed=5, days=28, n_geos=2, products=2, product_orders_per_day=5.0
    )


def test_shopping_rows_per_ad_group_are_rejected(products_world: sim.SimResult) -> None:
    world = products_world
    assert world.products is not None
    row = next(iter(world.products.report_rows("google_ads")))
    account = Account(account_id=row["customer"]["id"], currency="USD", country="US")
    a = _with(row, "adGroup", {"id": "77"})
    b = _with(row, "segments.productChannel", "ONLINE")
    rows, _, _ = parse_json_rows([dumps(r) for r in (row, a, b)])
    out = normalise_google_shopping(rows, account)
    assert out.frame["row"].tolist() == [0]
    got = [(r.row_index, r.field) for r in out.rejections]
    assert got == [(1, "adGroup"), (2, "segments.productChannel")]
    assert all(r.message.startswith(FINER) for r in out.rejections)


def test_meta_product_rows_per_ad_set_are_rejected(products_world: sim.SimResult) -> None:
    world = products_world
    assert world.products is not None
    row = next(iter(world.products.report_rows("meta")))
    account = Account(account_id=row["account_id"], currency="USD", country="US")
    rows, _, _ = parse_json_rows([dumps(r) for r in (row, _with(row, "adset_id", "9"))])
    out = normalise_meta_products(rows, account)
    assert out.frame["row"].tolist() == [0]
    assert [(r.row_index, r.field) for r in out.rejections] == [(1, "adset_id")]


def test_the_rejection_reaches_the_wire_and_the_campaign_row_is_stored(
    services: Any, world: sim.SimResult
) -> None:
    """Over a real ingestion + memory pair: the ad-set row's ack names its own reason and the
    campaign row alone is written (before: 'written 1, superseded 1', one ad set's spend)."""
    a = next(x for x in world.accounts if x["source"] == "meta")
    row = clean_line(world, "meta")
    request = ingestion_pb.IngestRequest(
        org_id="acme",
        source=common_pb.DATA_SOURCE_META,
        batch_id="finer",
        json_rows=[dumps(_with(row, "adset_id", "101")), dumps(row)],
        account=ingestion_pb.AccountInfo(
            account_id=a["account_id"], timezone=a["timezone"], currency_code=a["currency"],
            country_code="US", geo_keys=a["geo_keys"],
        ),
    )  # fmt: skip
    request.pulled_at.FromDatetime(PULLED.replace(tzinfo=None))
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(services["ingestion"].address))
    (ack,) = stub.Ingest(iter([request]))
    assert (ack.accepted_count, ack.rejected_count, ack.superseded_count) == (1, 1, 0)
    (r,) = ack.rejections
    assert (r.row_index, r.field, r.reason) == (
        0,
        "adset_id",
        ingestion_pb.REJECTION_REASON_FINER_THAN_KEY,
    )
