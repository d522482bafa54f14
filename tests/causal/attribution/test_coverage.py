"""National media beside a per-state outcome (audit R18 F2: TV bought nationally, its file with
no geo column, is stored on geo ``US``; the panel dropped it with "1 geo(s) with media but no
first-party outcome left out: US", tv vanished from the table and search read 4.49 against a
truth of 2.0). Now the national rows are spread over the states by their outcome share, said
by name and amount, and the fit recovers every channel; a geo without an outcome that is not
national is left out, named with its channels and spend, and a REVIEW when material."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causal_svc.attribution import ModelSpec, Verdict, analyze, fit_mmm, panel_from_aggregates
from causal_svc.attribution import panel_from_frames as build
from causal_svc.attribution.coverage import is_national
from causal_svc.attribution.health import assess
from mesh.runtime.aggregates import sum_column

STATES = ("CA", "TX", "NY", "FL", "IL", "PA", "OH", "GA", "NC", "MI")
POP = np.array([39, 30, 19.5, 22, 12.5, 13, 11.8, 11, 10.7, 10])
TRUTH = {"search": 2.0, "social": 1.0, "tv": 1.5}


def _world(days: int = 182) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The audit's planted world (gen2.py, shortened): revenue per state = base + 2.0·search
    + 1.5·tv + 1.0·social + 3% noise; search and social per state, flighted weekly; tv
    national (one row a day on geo US)."""
    rng = np.random.default_rng(11)
    dates = pd.date_range("2024-01-01", periods=days)
    share = POP / POP.sum()
    t = np.arange(days)
    base = np.outer(share * 400_000, (1 + 0.1 * np.sin(2 * np.pi * t / 7)))
    wk = t // 7
    search = np.outer(share * 20_000, rng.uniform(0.3, 1.7, wk.max() + 1)[wk])
    search *= rng.uniform(0.8, 1.2, search.shape)
    tv = np.where((rng.random(wk.max() + 1) < 0.5)[wk], rng.uniform(40_000, 80_000, days), 0.0)
    social = np.outer(share * 15_000, rng.uniform(0.2, 1.8, wk.max() + 1)[wk])
    social *= rng.uniform(0.8, 1.2, social.shape)
    rev = base + 2.0 * search + 1.5 * np.outer(share, tv) + social
    rev += rng.normal(0, 0.03, rev.shape) * base
    geos = [f"US-{s}" for s in STATES]
    long = lambda a: a.reshape(-1)  # noqa: E731 (geo-major, as np.repeat below)
    g, d = np.repeat(geos, days), np.tile(dates, len(geos))
    outcome = pd.DataFrame({"geo": g, "date": d, "value": long(rev)})
    zero = np.zeros(g.size)
    media = pd.concat([
        pd.DataFrame({"geo": g, "date": d, "channel": "search", "spend": long(search),
                      "impressions": zero, "platform_outcome": zero}),
        pd.DataFrame({"geo": g, "date": d, "channel": "social", "spend": long(social),
                      "impressions": zero, "platform_outcome": zero}),
        pd.DataFrame({"geo": "US", "date": dates, "channel": "tv", "spend": tv,
                      "impressions": 0.0, "platform_outcome": 0.0}),
    ], ignore_index=True)  # fmt: skip
    return outcome, media


def _wide(outcome: pd.DataFrame, media: pd.DataFrame) -> pd.DataFrame:
    """Memory's wide sums of the same rows (days since 1970-01-01)."""
    day = lambda f: (f["date"] - pd.Timestamp("1970-01-01")).dt.days  # noqa: E731
    m = media.assign(day=day(media)).pivot_table(index=["day", "geo"], columns="channel",
                                                 values="spend", aggfunc="sum")  # fmt: skip
    wide = pd.DataFrame({sum_column("generic_media", ch, "spend"): m[ch] for ch in m.columns})
    o = outcome.assign(day=day(outcome)).set_index(["day", "geo"])["value"]
    wide = wide.join(o.rename(sum_column("generic", "", "revenue")), how="outer")
    return wide.fillna(0.0).reset_index().rename(columns={"day": "date"})


@pytest.fixture(scope="module")
def world() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _world()


def test_the_country_and_no_geo_are_national() -> None:
    states = {"US-CA", "US-NY"}
    assert is_national("US", states) and is_national("", states)
    assert not is_national("CA", states) and not is_national("US-CA", states)
    assert not is_national("ZZ", {"CA", "NY"})
    assert is_national("US", {"US-CA", "US-NY", ""})  # orders without an address


def test_national_media_is_spread_by_outcome_share_and_said(world) -> None:
    outcome, media = world
    for p in (build(outcome, media, currency="USD"), panel_from_aggregates(_wide(*world))):
        assert p.channels == ("search", "social", "tv")
        tv = p.spend[p.channels.index("tv")]
        national = media.loc[media["channel"] == "tv", "spend"].to_numpy()
        np.testing.assert_allclose(tv.sum(axis=0), national, rtol=1e-9)
        share = p.outcome.sum(axis=1) / p.outcome.sum()
        np.testing.assert_allclose(tv.sum(axis=1) / tv.sum(), share, rtol=1e-9)
        (said,) = [w for w in p.warnings if "national media" in w]
        assert said.startswith(
            "national media (US: rows without a state or region) spread over the 10 geos with an "
            "outcome by each one's share of it over the window"
        )
        total = media["spend"].sum()
        assert f"tv {national.sum():,.0f}" in said and f"{national.sum() / total:.0%}" in said
        assert p.checks == () and not [w for w in p.warnings if "left out" in w]


def test_the_spread_reads_rows_by_position(world) -> None:
    """Frames concatenated without a fresh index repeat their labels: each national row is
    spread once all the same."""
    outcome, media = world
    p = build(outcome, media.set_axis(np.zeros(len(media), dtype=np.int64)))
    national = media.loc[media["channel"] == "tv", "spend"].sum()
    assert p.spend[p.channels.index("tv")].sum() == pytest.approx(national, rel=1e-9)


def test_a_geo_dropped_for_missing_days_loses_its_part(world) -> None:
    outcome, media = world
    gappy = outcome.loc[~((outcome["geo"] == "US-MI") & (outcome["date"].dt.day == 1))]
    p = build(gappy, media)
    assert "US-MI" not in p.geos and len(p.geos) == 9
    national = media.loc[media["channel"] == "tv", "spend"].sum()
    mi = outcome.loc[outcome["geo"] == "US-MI", "value"].sum() - (
        outcome.loc[(outcome["geo"] == "US-MI") & (outcome["date"].dt.day == 1), "value"].sum()
    )
    share = mi / gappy["value"].sum()
    got = p.spend[p.channels.index("tv")].sum()
    assert got == pytest.approx(national * (1 - share), rel=1e-9)


def test_the_fit_holds_every_truth_with_tv_spread(world) -> None:
    """Before: tv absent, search 4.49 on the audit's year; here every truth is inside."""
    result = analyze(build(*world), ModelSpec(holdout_days=0))
    got = {c.channel: c.iroas for c in result.channels if c.iroas}
    assert set(got) == set(TRUTH)
    held = [ch for ch, ci in got.items() if ci.lower <= TRUTH[ch] <= ci.upper]
    assert sorted(held) == sorted(TRUTH), {ch: (ci.lower, ci.upper) for ch, ci in got.items()}


def test_a_geo_without_outcome_is_named_with_its_spend_and_review(world) -> None:
    outcome, media = world
    # tv bought in Canada: not the outcome's country, left out as before, now named
    ca = media.assign(geo=np.where(media["channel"] == "tv", "CA-ON", media["geo"]))
    for p in (build(outcome, ca, currency="USD"), panel_from_aggregates(_wide(outcome, ca))):
        assert p.channels == ("search", "social")
        (said,) = [w for w in p.warnings if "without a first-party outcome left out" in w]
        tv = media.loc[media["channel"] == "tv", "spend"].sum()
        share = tv / media["spend"].sum()
        assert said.startswith(
            f"media on 1 geo(s) without a first-party outcome left out (CA-ON): tv {tv:,.0f}"
        )
        assert f"{share:.0%} of the window's spend" in said
        (check,) = p.checks
        assert (check.name, check.threshold) == ("media_left_out", 0.05)
        assert check.value == pytest.approx(share)
    p = build(outcome, ca)
    health = assess(fit_mmm(p, ModelSpec()), holdout=False)
    first = health.checks[0]
    assert (first.name, first.verdict) == ("media_left_out", Verdict.REVIEW)
    assert first.message.startswith(f"{share:.0%} of the window's spend is on geo(s) without")
    # a sliver (under 5% of the spend) is said but is no REVIEW
    sliver = ca.loc[(ca["geo"] != "CA-ON") | (ca["date"] < ca["date"].min() + pd.Timedelta(days=3))]
    p = build(outcome, sliver)
    assert p.checks == () and [w for w in p.warnings if "(CA-ON): tv" in w]
