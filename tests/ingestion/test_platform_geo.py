"""The platforms' geo keys on an account without ``geo_keys`` (audit R15-F1): a key stored as
it came ("US-California", "US-geoTargetConstants/21137") never meets the orders' "US-CA", so
the channel's spend silently left the model. Names become the country's codes; the
platforms' numeric ids, which only a table maps, are rejected saying the account needs one."""

from __future__ import annotations

import copy
from typing import Any

import sim
from ingestion_svc import connectors
from ingestion_svc.raw_batch import Account
from tests.ingestion.conftest import account_of, clean_line, dumps, raw_batch


def _run(source: str, rows: list[dict[str, Any]], account: Account) -> connectors.Normalised:
    return connectors.normalise(raw_batch(source, [dumps(r) for r in rows], account))


def _bare(world: sim.SimResult, source: str, **over: Any) -> Account:
    """The source's account as a user without accounts.json gives it: no geo_keys."""
    return account_of(world, source, geo_keys={}, **over)


def test_meta_region_names_become_the_countrys_codes(world: sim.SimResult) -> None:
    row = clean_line(world, "meta")
    rows = [copy.deepcopy(row) for _ in range(3)]
    rows[0]["region"], rows[1]["region"], rows[2]["region"] = "California", "New York", "Atlantis"
    out = _run("meta", rows, _bare(world, "meta"))
    assert out.frame["geo"].tolist() == ["US-CA", "US-NY"]
    assert out.frame["geo_key"].tolist() == ["CA", "NY"]
    (bad,) = out.rejections
    assert (bad.row_index, bad.field, bad.reason) == (2, "region", "unknown_geo")
    assert "Atlantis" in bad.message


def test_meta_region_through_geo_keys_is_unchanged(world: sim.SimResult) -> None:
    row = clean_line(world, "meta")
    account = account_of(world, "meta")
    out = _run("meta", [row], account)
    assert not out.rejections
    assert out.frame["geo_key"].iloc[0] == account.geo_keys[row["region"]]


def test_google_geo_target_constant_needs_geo_keys(world: sim.SimResult) -> None:
    row = clean_line(world, "google_ads")
    named = copy.deepcopy(row)
    named["segments"]["geoTargetRegion"] = "TX"  # already a code the country knows
    out = _run("google_ads", [row, named], _bare(world, "google_ads"))
    assert out.frame["row"].tolist() == [1] and out.frame["geo"].tolist() == ["US-TX"]
    (bad,) = out.rejections
    assert (bad.row_index, bad.field, bad.reason) == (
        0,
        "segments.geoTargetRegion",
        "unknown_geo",
    )
    assert row["segments"]["geoTargetRegion"] in bad.message and "geo_keys" in bad.message
    # With the account's table the same row lands on its state.
    mapped = _run("google_ads", [row], account_of(world, "google_ads"))
    assert not mapped.rejections and mapped.frame["geo"].iloc[0].startswith("US-")


def test_google_geo_target_constant_without_country_still_needs_geo_keys(
    world: sim.SimResult,
) -> None:
    row = clean_line(world, "google_ads")
    out = _run("google_ads", [row], _bare(world, "google_ads", country=""))
    assert out.frame.empty
    assert [r.reason for r in out.rejections] == ["unknown_geo"]


def test_tiktok_province_id_needs_geo_keys(world: sim.SimResult) -> None:
    row = clean_line(world, "tiktok")
    named = copy.deepcopy(row)
    named["dimensions"]["province_id"] = "California"
    out = _run("tiktok", [row, named], _bare(world, "tiktok"))
    assert out.frame["geo"].tolist() == ["US-CA"]
    (bad,) = out.rejections
    assert (bad.row_index, bad.field, bad.reason) == (0, "dimensions.province_id", "unknown_geo")
    assert "TikTok location id" in bad.message and "geo_keys" in bad.message
