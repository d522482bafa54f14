"""A spend-only channel's unit, read against the business's sales (audit R18 F1: social bought
as spend only, its column in cents, read 556M of spend against 181M of revenue; nothing warned,
every other channel's iROAS collapsed and recommend cut them all at "confidence 100%"). The
CPM tests need impressions; this one needs the outcome: a channel that spends as much as the
business sells is flagged, naming the channel, the ratio and the likely unit, as a REVIEW.
A heavy but real spender (half the revenue) and a conversions outcome are not flagged."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from causal_svc.attribution import ModelSpec, Verdict, fit_mmm, panel_from_frames
from causal_svc.attribution.health import assess
from causal_svc.attribution.spend_scale import spend_scale_findings, thousandths

from .world import World, frames

DATES = np.arange("2024-01-01", "2024-04-01", dtype="datetime64[D]")
NAMES = ("search", "social", "tv")


def _spend(shares: dict[str, float], revenue: float) -> tuple[np.ndarray, np.ndarray]:
    """(spend, impressions): each channel spending its share of ``revenue`` over 3 geos, flighted
    day to day; no impressions (spend-only exports)."""
    rng = np.random.default_rng(1)
    day = rng.uniform(0.3, 1.7, (len(shares), 3, DATES.size))
    day /= day.sum(axis=(1, 2), keepdims=True)
    spend = day * np.array(list(shares.values()))[:, None, None] * revenue
    return spend, np.zeros_like(spend)


@pytest.mark.parametrize(
    ("factor", "unit"),
    [(100.0, "is it in cents? divide by 100"), (1e6, "is it in micros")],
)
def test_a_spend_only_channel_in_another_unit_is_named(factor: float, unit: str) -> None:
    shares = {"search": 0.04, "social": 0.03 * factor, "tv": 0.06}
    (f,) = spend_scale_findings(NAMES, *_spend(shares, 1e8), DATES, revenue=1e8)
    assert f.channel == "social" and f.factor == pytest.approx(0.03 * factor)
    assert f.message.startswith("social's spend over the panel's geos and days is $")
    assert "× the outcome's revenue over the same geos and days ($1e8)" in f.message
    assert unit in f.message and "no channel's estimate can be trusted" in f.message
    assert (f.value, f.limit) == (pytest.approx(0.03 * factor), 1.0)
    assert f.reason.startswith("social's spend looks in another unit (spend $")
    assert "× the outcome's revenue" in f.reason


@pytest.mark.parametrize(
    "shares",
    [
        # an ordinary mix
        {"search": 0.04, "social": 0.03, "tv": 0.06},
        # a TV-led brand: one channel at half the revenue, the mix at 70%
        {"search": 0.1, "social": 0.1, "tv": 0.5},
        # a launch: the mix outspends the sales, no channel alone does
        {"search": 0.6, "social": 0.5, "tv": 0.9},
    ],
)
def test_heavy_real_spenders_are_not_flagged(shares: dict[str, float]) -> None:
    assert spend_scale_findings(NAMES, *_spend(shares, 1e8), DATES, revenue=1e8) == []


def test_no_revenue_no_test() -> None:
    """A conversions outcome (revenue None) has no ceiling to read spend against."""
    shares = {"search": 0.04, "social": 3.0, "tv": 0.06}
    assert spend_scale_findings(NAMES, *_spend(shares, 1e8), DATES) == []
    assert len(spend_scale_findings(NAMES, *_spend(shares, 1e8), DATES, revenue=1e8)) == 1


def _spend_only(demo: World, channel: str, factor: float) -> tuple[pd.DataFrame, ...]:
    """The demo's frames with ``channel`` exported as spend only, its spend × ``factor``."""
    outcome, media, campaigns = frames(demo.result)
    media = media.copy()
    rows = media["channel"].astype(str).eq(channel)
    media.loc[rows, "spend"] *= factor
    media.loc[rows, "impressions"] = 0.0
    return outcome, media, campaigns


def test_the_panel_warns_and_the_health_is_review(demo: World) -> None:
    # meta_prospecting spends 2.8% of the demo's revenue; as spend only, in dollars, and
    # at 20× (55% of the revenue, a heavy spender), nothing is said
    for factor in (1.0, 20.0):
        outcome, media, campaigns = _spend_only(demo, "meta_prospecting", factor)
        panel = panel_from_frames(outcome, media, campaigns=campaigns)
        assert panel.checks == () and not [w for w in panel.warnings if "another unit" in w]
    outcome, media, campaigns = _spend_only(demo, "meta_prospecting", 100.0)
    panel = panel_from_frames(outcome, media, campaigns=campaigns)
    (warning,) = [w for w in panel.warnings if "another unit" in w]
    assert warning.startswith("meta_prospecting's spend over the panel's geos and days is $3")
    assert "2.78× the outcome's revenue" in warning and "is it in cents? divide by 100" in warning
    (check,) = panel.checks
    assert (check.name, check.threshold) == ("spend_scale", 1.0)
    assert check.value == pytest.approx(2.78, abs=0.01)
    # a conversions outcome: the same column is not read against it
    conv = panel_from_frames(outcome, media, campaigns=campaigns, outcome_name="conversions")
    assert conv.checks == ()
    panel = dataclasses.replace(panel, national=demo.panel.national)
    health = assess(fit_mmm(panel, ModelSpec()), holdout=False)
    first = health.checks[0]
    assert (first.name, first.verdict) == ("spend_scale", Verdict.REVIEW)
    assert first.message.startswith("meta_prospecting's spend looks in another unit (spend $3")
    assert health.verdict is not Verdict.PASS


def test_a_channel_beyond_the_revenue_names_the_revenue_as_the_other_candidate(demo: World) -> None:
    outcome, media, campaigns = _spend_only(demo, "meta_prospecting", 100.0)
    panel = panel_from_frames(outcome, media, campaigns=campaigns)
    (warning,) = [w for w in panel.warnings if "another unit" in w]
    assert "or the revenue does (the first-party rows, ingested with the generic source" in warning


def test_revenue_of_thousands_read_as_decimals_is_named_instead_of_every_spend(
    demo: World,
) -> None:
    """s18 R34 F1's outcome side: a German export's whole euros "80.620" (= 80,620) stored as
    80.620 made every channel's correct spend 10-30× the revenue, and each was told 'is it in
    cents? divide by 100'. The geo-days' three decimals below 1,000 say which column it is."""
    outcome, media, campaigns = frames(demo.result)
    outcome = outcome.assign(value=np.round(outcome["value"]) / 1000.0)
    panel = panel_from_frames(outcome, media, campaigns=campaigns)
    (warning,) = [w for w in panel.warnings if "thousandth" in w or "another unit" in w]
    assert warning.startswith("the outcome's revenue (the first-party rows, ingested with")
    assert "liftos ingest --decimal ','" in warning and "divide by 100" not in warning
    assert "meta_prospecting 27.8×" in warning and "6 channel(s)" in warning
    (check,) = panel.checks
    assert check.name == "spend_scale" and check.value == pytest.approx(27.77, abs=0.01)
    assert check.message.startswith("the outcome's revenue looks in another unit (revenue $111,009")
    panel = dataclasses.replace(panel, national=demo.panel.national)
    health = assess(fit_mmm(panel, ModelSpec()), holdout=False)
    assert (health.checks[0].name, health.checks[0].verdict) == ("spend_scale", Verdict.REVIEW)


@pytest.mark.parametrize(
    ("values", "read"),
    [
        ([70.034, 6.034, 987.0, 12.5 + 0.006, 70.03], True),  # 70.030 prints as 70.03
        ([70034.39, 6034.1, 987.0, 12.25], False),  # cents: two decimals at most
        ([70.0343, 6.03411, 987.0, 12.52611], False),  # modelled or converted
        ([1234.567, 2345.678, 3456.789], False),  # "1.234" reads below 1,000
        ([70.034, 987.0, 12.0], False),  # one such value is chance
    ],
)
def test_thousandths(values: list[float], read: bool) -> None:
    assert (thousandths(np.array(values)) is not None) is read
