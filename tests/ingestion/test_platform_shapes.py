"""Other real shapes of the platforms' rows (audit R15-F11): Google Ads rows in the client
libraries' snake_case are read like proto3 JSON's camelCase; Klaviyo's campaign-values-report
response as the API returns it is rejected saying which row shape to send, not that a field
is missing."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

import sim
from ingestion_svc import connectors
from ingestion_svc.connectors.klaviyo import ROW_SHAPE
from ingestion_svc.connectors.product_reports import normalise_google_shopping
from ingestion_svc.parse import parse_json_rows
from ingestion_svc.raw_batch import Account
from tests.ingestion.conftest import account_of, clean_line, dumps, raw_batch


def _snake(value: Any) -> Any:
    if isinstance(value, dict):
        return {re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", k).lower(): _snake(v) for k, v in value.items()}  # fmt: skip
    return value


def _run(source: str, rows: list[Any], account: Account) -> connectors.Normalised:
    return connectors.normalise(raw_batch(source, [dumps(r) for r in rows], account))


def test_google_snake_case_rows_read_as_camel_case(world: sim.SimResult) -> None:
    row = clean_line(world, "google_ads")
    row["metrics"]["conversions"] = 2.5
    snake = _snake(row)
    assert "geo_target_region" in snake["segments"] and "cost_micros" in snake["metrics"]
    account = account_of(world, "google_ads")
    camel, got = _run("google_ads", [row], account), _run("google_ads", [snake], account)
    assert not got.rejections
    assert got.frame.drop(columns="row").equals(camel.frame.drop(columns="row"))


def test_google_snake_case_rejections_name_the_rows_own_fields(world: sim.SimResult) -> None:
    row = _snake(clean_line(world, "google_ads"))
    gone = copy.deepcopy(row)
    del gone["segments"]["geo_target_region"]
    device = copy.deepcopy(row)
    device["segments"]["device"] = "MOBILE"
    cost = copy.deepcopy(row)
    cost["metrics"]["cost_micros"] = "12,5"
    out = _run("google_ads", [row, gone, device, cost], account_of(world, "google_ads"))
    assert out.frame["row"].tolist() == [0]
    got = sorted((r.row_index, r.field, r.reason) for r in out.rejections)
    assert got == [
        (1, "segments.geo_target_region", "missing_field"),
        (2, "segments.device", "finer_than_key"),
        (3, "metrics.cost_micros", "invalid_number"),
    ]
    (missing,) = [r for r in out.rejections if r.row_index == 1]
    assert missing.message == "segments.geo_target_region is missing"


def test_google_shopping_snake_case_rows_are_read() -> None:
    world = sim.simulate(
        "products", seed=5, days=28, n_geos=2, products=2, product_orders_per_day=5.0
    )
    assert world.products is not None
    row = next(iter(world.products.report_rows("google_ads")))
    account = Account(account_id=row["customer"]["id"], currency="USD", country="US")
    rows, _, _ = parse_json_rows([dumps(row), dumps(_snake(row))])
    out = normalise_google_shopping(rows, account)
    assert not out.rejections and len(out.frame) == 2
    a, b = out.frame.iloc[0], out.frame.iloc[1]
    assert (a["item_id"], a["spend"], a["category"]) == (b["item_id"], b["spend"], b["category"])


@pytest.mark.parametrize(
    ("shape", "field"),
    [("response", "data.attributes.results"), ("bare", "groupings")],
)
def test_klaviyo_report_response_is_rejected_naming_the_row_shape(
    world: sim.SimResult, shape: str, field: str
) -> None:
    row = clean_line(world, "klaviyo")
    result = {k: row["attributes"][k] for k in ("groupings", "statistics")}
    other = (
        {"data": {"type": "campaign-values-report", "id": "x", "attributes": {"results": [result]}}}
        if shape == "response"
        else result
    )
    out = _run("klaviyo", [row, other], account_of(world, "klaviyo"))
    assert out.frame["row"].tolist() == [0]
    (bad,) = out.rejections
    assert (bad.row_index, bad.field, bad.reason) == (1, field, "malformed")
    assert ROW_SHAPE in bad.message
