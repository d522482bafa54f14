"""A channel's spend in another unit (audit R4 F6: search's spend ×100, impressions unchanged,
took a 96.9% share and erased the one established channel, with health REVIEW as on clean data
and no warning): the panel names the channel, its spend per thousand impressions, the peers'
and the likely unit, and the model's health carries it as a REVIEW check. The simulator's
worlds, whose channels' CPMs differ up to ~6×, are not flagged."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from causal_svc.attribution import ModelSpec, Verdict, fit_mmm, panel_from_frames
from causal_svc.attribution.health import assess
from causal_svc.attribution.spend_scale import spend_scale_findings

from .world import World, frames

DATES = np.arange("2024-01-01", "2024-04-01", dtype="datetime64[D]")


def _media(cpm: dict[str, float | np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(spend, impressions) of channels on 3 geos with the CPMs given (a number, or one a
    day), 1,000 impressions a geo-day with a little noise."""
    rng = np.random.default_rng(0)
    imps = 1000.0 * np.exp(rng.normal(0, 0.2, (len(cpm), 3, DATES.size)))
    price = np.array([np.broadcast_to(c, DATES.size) for c in cpm.values()])[:, None, :]
    return price * imps / 1000.0 * np.exp(rng.normal(0, 0.1, imps.shape)), imps


def test_a_cents_column_is_named_with_its_peers() -> None:
    cpm = {"display": 3.0, "search": 40.0 * 100, "social": 9.0, "tv": 30.0}
    (f,) = spend_scale_findings(tuple(cpm), *_media(cpm), DATES)
    assert f.channel == "search" and 300 < f.factor < 600  # 4,000 against a median of 9
    assert f.message.startswith("search's spend per thousand impressions is $4,")
    assert "its peers' median $8.9" in f.message and "display $3.0" in f.message
    assert "is it in cents? divide by 100" in f.message
    assert "no channel's estimate can be trusted" in f.message


def test_a_micros_column_is_named_without_peers() -> None:
    cpm = {"search": 40.0 * 1e6}
    (f,) = spend_scale_findings(tuple(cpm), *_media(cpm), DATES)
    assert "beyond what ad platforms charge" in f.message
    assert "micros" in f.message


@pytest.mark.parametrize(("factor", "unit"), [(100.0, "cents"), (0.01, "the rest in cents")])
def test_a_batch_in_another_unit_is_a_step(factor: float, unit: str) -> None:
    steps = np.where(np.arange(DATES.size) >= 60, 12.0 * factor, 12.0)
    cpm = {"pmax": steps, "search": 40.0, "tiktok": 7.0}
    findings = spend_scale_findings(tuple(cpm), *_media(cpm), DATES)
    assert [f.channel for f in findings] == ["pmax"]
    assert f"before {DATES[60]} to $" in findings[0].message
    assert unit in findings[0].message


@pytest.mark.parametrize(
    "cpm",
    [
        # search priced per click beside TV and social: ~10x, as ordinary mixes differ
        {"search": 60.0, "tv": 25.0, "social": 6.0},
        # a pricey channel beside cheap ones (within 50x of their median)
        {"linkedin": 90.0, "display": 2.5, "tiktok": 6.0, "meta": 9.0},
        # seasonal pricing: Q4 at 3x the rest of the year
        {"meta": np.where(np.arange(DATES.size) >= 45, 27.0, 9.0), "search": 40.0},
    ],
)
def test_ordinary_prices_are_not_flagged(cpm: dict[str, float | np.ndarray]) -> None:
    assert spend_scale_findings(tuple(cpm), *_media(cpm), DATES) == []


def _cents(demo: World, channel: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    outcome, media, campaigns = frames(demo.result)
    media = media.copy()
    rows = media["channel"].astype(str).eq(channel)
    media.loc[rows, "spend"] *= 100.0
    return outcome, media, campaigns


def test_the_panel_warns_and_the_health_is_review(demo: World) -> None:
    assert not [w for w in demo.panel.warnings if "another unit" in w]
    assert demo.panel.checks == ()
    outcome, media, campaigns = _cents(demo, "google_pmax")
    panel = panel_from_frames(outcome, media, campaigns=campaigns)
    (warning,) = [w for w in panel.warnings if "another unit" in w]
    assert warning.startswith("google_pmax's spend per thousand impressions is $1,2")
    assert "is it in cents? divide by 100" in warning
    (check,) = panel.checks
    assert (check.name, check.threshold) == ("spend_scale", 50.0) and 50 < check.value < 500
    panel = dataclasses.replace(panel, national=demo.panel.national)
    health = assess(fit_mmm(panel, ModelSpec()), holdout=False)
    first = health.checks[0]
    assert (first.name, first.verdict) == ("spend_scale", Verdict.REVIEW)
    assert first.message.startswith("google_pmax's spend looks in another unit ($1,2")
    assert " per thousand impressions against $1" in first.message
    assert health.verdict is not Verdict.PASS


def test_prices_in_a_small_unit_currency_are_not_a_unit_error() -> None:
    """Won and rupiah CPMs run to tens of thousands: the dollar limits do not apply there, and
    the unit-free test against peers still names a cents column, in the org's currency."""
    krw = {"display": 3_000.0, "search": 45_000.0, "social": 9_000.0}
    assert spend_scale_findings(tuple(krw), *_media(krw), DATES, currency="KRW") == []
    # read as dollars, 9,000 and 45,000 are beyond any price: both flagged, wrongly
    as_dollars = spend_scale_findings(tuple(krw), *_media(krw), DATES)
    assert [f.channel for f in as_dollars] == ["search", "social"]
    krw["search"] *= 100
    (f,) = spend_scale_findings(tuple(krw), *_media(krw), DATES, currency="KRW")
    assert f.channel == "search" and "its peers' median 6,0" in f.message
    assert f.message.startswith("search's spend per thousand impressions is 4.56e6 KRW")
    assert "KRW" in f.message and "$" not in f.message
