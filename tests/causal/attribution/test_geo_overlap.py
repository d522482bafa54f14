"""The refusal when every channel's spend lies on geos the outcome does not have names both
sides and the fix (audits R25 F1, R31 F4: ads ingested without --country)."""

from __future__ import annotations

import pandas as pd
import pytest

from causal_svc.attribution import panel_from_frames
from causal_svc.attribution.geo_overlap import no_channel_message
from causal_svc.errors import InsufficientData

from .world import frames, simulate


@pytest.fixture(scope="module")
def long_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return frames(simulate("demo", 0))


def test_ads_without_country_are_named_with_the_fix(long_frames) -> None:
    outcome, media, _ = long_frames
    orders = outcome.assign(geo="US-" + outcome["geo"].astype(str))
    with pytest.raises(InsufficientData) as info:
        panel_from_frames(orders, media)
    text = str(info.value)
    assert info.value.subject == "spend"
    assert "share none with the outcome's" in text
    assert "geos (AZ, CA, " in text and "outcome's (US-AZ, US-CA, " in text
    assert "--country US" in text


def test_region_names_get_the_country_fix() -> None:
    text = no_channel_message(["California", "Texas"], ["US-CA", "US-TX"])
    assert "(California, Texas)" in text and "--country US" in text


def test_other_spellings_get_the_mapping_fix() -> None:
    text = no_channel_message(["DMA-501", "DMA-803"], ["US-CA", "US-TX"])
    assert "(DMA-501, DMA-803)" in text and "geo_keys" in text
    assert "--country US (liftos" not in text


def test_shared_geos_keep_the_short_refusal() -> None:
    assert no_channel_message(["US-CA"], ["US-CA", "US-TX"]) == (
        "no channel has spend or impressions in the window"
    )
    assert no_channel_message([], ["US-CA"]).startswith("no channel has spend")
