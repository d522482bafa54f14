"""Channels whose accounts' days start hours apart from the outcome's are named with the
offset and what it means (audit R31 F5: a Berlin Meta account, a Los Angeles Google Ads
account and New York orders were joined by their date labels without a word). The records
are decoded as the causal service's Scan decodes them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from causal_svc.attribution.day_alignment import day_alignment_warnings, day_start_offsets
from mesh.runtime.frames import records_to_frame

_SOURCES = {
    "meta": common_pb.DATA_SOURCE_META,
    "google_ads": common_pb.DATA_SOURCE_GOOGLE_ADS,
    "generic": common_pb.DATA_SOURCE_GENERIC,
}


def _records(accounts: list[tuple[str, str, str]], days: int = 10) -> pd.DataFrame:
    """Records of (source, channel, zone) accounts over ``days`` days from 2024-09-15, two
    geos each, stamped as ingestion stamps them (the local midnight in UTC)."""
    out = []
    for source, channel, zone in accounts:
        for k in range(days):
            day = dt.date(2024, 9, 15) + dt.timedelta(days=k)
            start = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(zone))
            for geo in ("US-NY", "US-CA"):
                r = md_pb.CausalMarketingData(
                    data_source=_SOURCES[source], channel=channel, geo=geo
                )
                r.local_date.year, r.local_date.month, r.local_date.day = (
                    day.year,
                    day.month,
                    day.day,
                )
                r.timestamp.FromDatetime(start.astimezone(dt.UTC).replace(tzinfo=None))
                out.append(r)
    return records_to_frame(out, groups=("core", "external"))


_AGENCY = [
    ("meta", "meta_prospecting", "Europe/Berlin"),
    ("google_ads", "google_search", "America/Los_Angeles"),
    ("generic", "first_party", "America/New_York"),
]


def test_offsets_per_channel() -> None:
    got = day_start_offsets(_records(_AGENCY)).set_index("channel")["offset_h"].to_dict()
    assert got == {"meta_prospecting": 2.0, "google_search": -7.0, "first_party": -4.0}


def test_a_berlin_account_against_new_york_orders_is_named() -> None:
    (meta,) = day_alignment_warnings(_records(_AGENCY))  # Los Angeles, 3 hours off: not named
    assert meta.startswith("meta_prospecting's days start at 22:00 UTC (UTC+2")
    assert "the outcome's at 04:00 UTC (UTC-4): 6 hours apart" in meta
    assert (
        "the first 6 hours of each meta_prospecting day fall on the outcome's previous day" in meta
    )
    assert "re-export the account" in meta.lower()
    tokyo = [("google_ads", "google_pmax", "Asia/Tokyo"), *_AGENCY]
    google, meta = day_alignment_warnings(_records(tokyo))  # the farthest first
    assert google.startswith("google_pmax's days start at 15:00 UTC (UTC+9")
    assert "13 hours apart" in google and "outcome's previous day" in google


def test_channels_of_one_zone_are_named_once() -> None:
    berlin = [("meta", "meta_prospecting", "Europe/Berlin"), ("meta", "meta_retargeting",
              "Europe/Berlin"), ("generic", "first_party", "America/Los_Angeles")]  # fmt: skip
    (both,) = day_alignment_warnings(_records(berlin))
    assert both.startswith(
        "the days of meta_prospecting and meta_retargeting start at 22:00 UTC (UTC+2, their"
    )
    assert "9 hours apart" in both and "first 9 hours of each of their days" in both


def test_aligned_or_close_zones_and_no_outcome_say_nothing() -> None:
    same = [("meta", "meta_prospecting", "America/New_York"),
            ("generic", "first_party", "America/New_York")]  # fmt: skip
    assert day_alignment_warnings(_records(same)) == []
    chicago = [("meta", "meta_prospecting", "America/Chicago"),
               ("generic", "first_party", "America/New_York")]  # fmt: skip
    assert day_alignment_warnings(_records(chicago)) == []  # an hour apart
    coasts = [("google_ads", "google_search", "America/New_York"),
              ("generic", "first_party", "America/Los_Angeles")]  # fmt: skip
    assert day_alignment_warnings(_records(coasts)) == []  # the demo's: 3 hours, not named
    assert day_alignment_warnings(_records(_AGENCY[:2])) == []  # no outcome: nothing to join
    only = day_alignment_warnings(_records(_AGENCY), channels=("google_search",))
    assert only == []  # meta_prospecting is not in the model
    only = day_alignment_warnings(_records(_AGENCY), channels=("meta_prospecting",))
    assert len(only) == 1 and only[0].startswith("meta_prospecting")


def test_a_channels_second_account_in_a_far_zone_is_named() -> None:
    """Audit s17 V2 F5: only a channel's most common zone was compared, so a Meta channel with
    a New York account and a smaller Berlin one (6 hours off the New York orders) was never
    named. Now every zone a channel's records carry is; summer and winter time stay one."""
    two = _records([("meta", "meta_prospecting", "America/New_York"),
                    ("generic", "first_party", "America/New_York")], days=30)  # fmt: skip
    berlin = _records([("meta", "meta_prospecting", "Europe/Berlin")], days=10)
    records = pd.concat([two, berlin], ignore_index=True)
    got = day_start_offsets(records)
    meta = got[got["channel"] == "meta_prospecting"]
    assert meta[["offset_h", "records", "total"]].values.tolist() == [[-4, 60, 80], [2, 20, 80]]
    (warning,) = day_alignment_warnings(records)
    assert warning.startswith(
        "the days of meta_prospecting's accounts in UTC+2 (20 of its 80 records) start at "
        "22:00 UTC (UTC+2"
    ), warning
    assert "6 hours apart" in warning
    # a Berlin account over the end of summer time (+2, from 27 October +1) is one zone, named once
    autumn = _records([("meta", "meta_prospecting", "Europe/Berlin"),
                       ("generic", "first_party", "America/Los_Angeles")], days=45)  # fmt: skip
    assert len(day_start_offsets(autumn).query("channel == 'meta_prospecting'")) == 1
    (once,) = day_alignment_warnings(autumn)
    assert once.startswith("meta_prospecting's days start at 22:00 UTC (UTC+2")
