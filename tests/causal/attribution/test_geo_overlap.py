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


def test_geos_that_print_alike_are_shown_as_they_differ() -> None:
    """R30 F6: media geos in NFD or another case print as the outcome's ("BR-São Paulo" twice);
    the refusal and the off-panel warning show both escaped, so the difference is visible."""
    import unicodedata

    from causal_svc.attribution.geo_overlap import no_channel_message, spelling_twins

    nfc = ["BR-São Paulo", "BR-Rio de Janeiro"]
    nfd = [unicodedata.normalize("NFD", g) for g in nfc[:1]] + ["BR-RIO DE JANEIRO"]
    twins = spelling_twins(nfd, nfc)
    assert twins == [
        "'BR-RIO DE JANEIRO' vs the outcome's 'BR-Rio de Janeiro'",
        "'BR-Sa\\u0303o Paulo' vs the outcome's 'BR-S\\xe3o Paulo'",
    ]
    message = no_channel_message(nfd, nfc)
    assert "differ only in Unicode form or letter case" in message
    assert "'BR-Sa\\u0303o Paulo' vs the outcome's 'BR-S\\xe3o Paulo'" in message
    assert spelling_twins(nfc, nfc) == [] and spelling_twins(["BR-Bahia"], nfc) == []


def test_media_left_out_for_a_twin_spelling_says_how_they_differ() -> None:
    import unicodedata

    import numpy as np
    import pandas as pd

    from causal_svc.attribution.coverage import media_off_panel

    nfd = unicodedata.normalize("NFD", "BR-São Paulo")
    days = pd.date_range("2024-01-01", periods=3)
    media = pd.DataFrame({
        "geo": [nfd] * 3 + ["BR-Bahia"] * 3, "date": list(days) * 2, "channel": "search",
        "spend": 100.0, "impressions": 0.0, "platform_outcome": 0.0,
    })  # fmt: skip
    off = media_off_panel(
        media, ["BR-São Paulo", "BR-Bahia"], ["BR-São Paulo", "BR-Bahia"], np.ones(2),
        (days[0], days[-1]), "BRL",
    )  # fmt: skip
    (said,) = off.warnings
    assert "1 of them differ from an outcome geo only in Unicode form or letter case" in said
    assert "'BR-Sa\\u0303o Paulo' vs the outcome's 'BR-S\\xe3o Paulo'" in said
