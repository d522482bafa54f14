"""Building the panel from long frames: shapes, impressions for a channel without spend, the
campaign split, and refusals that name what is missing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causal_svc.attribution import panel_from_frames
from causal_svc.errors import InsufficientData, InvalidSpec

from .world import frames, simulate


@pytest.fixture(scope="module")
def long_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return frames(simulate("demo", 0))


def test_dense_panel_from_frames(long_frames) -> None:
    outcome, media, campaigns = long_frames
    p = panel_from_frames(outcome, media, campaigns=campaigns)
    assert p.outcome.shape == (20, 120) and p.media.shape == (7, 20, 120)
    assert p.spend.sum() == pytest.approx(media["spend"].sum())
    email = p.channels.index("klaviyo_email")
    assert p.spend[email].sum() == 0 and p.media[email].sum() > 0  # sends drive email
    assert p.campaign_spend.sum() == pytest.approx(media["spend"].sum())
    assert p.population[p.geos.index("CA")] == pytest.approx(39.54)


def test_controls_split_into_national_and_geo(long_frames) -> None:
    outcome, media, _ = long_frames
    ctrl = outcome[["geo", "date"]].copy()
    ctrl["macro"] = pd.to_datetime(ctrl["date"]).dt.dayofyear.astype(float)
    ctrl["weather"] = np.arange(len(ctrl), dtype=float) % 7
    p = panel_from_frames(outcome, media, controls=ctrl)
    assert set(p.national) == {"macro"} and set(p.controls) == {"weather"}


def test_refusals(long_frames) -> None:
    outcome, media, _ = long_frames
    with pytest.raises(InsufficientData) as info:
        panel_from_frames(outcome.iloc[:0], media)
    assert info.value.subject == "outcome"
    with pytest.raises(InsufficientData):
        panel_from_frames(outcome, media.assign(spend=0.0, impressions=0.0))
    with pytest.raises(InvalidSpec) as bad:
        panel_from_frames(outcome, media, channels=("myspace",))
    assert bad.value.field == "channels"
    short = outcome.loc[pd.to_datetime(outcome["date"]) < pd.Timestamp("2024-09-25")]
    with pytest.raises(InsufficientData):
        panel_from_frames(short, media)


def test_panel_from_memory_aggregates_equals_the_frames_panel(long_frames) -> None:
    """What AggregateRecords returns (first-party rows as source 'generic') builds the same
    panel as the long frames do."""
    from causal_svc.attribution import panel_from_aggregates

    outcome, media, campaigns = long_frames
    day = lambda s: pd.to_datetime(s).to_numpy("datetime64[D]").astype(np.int64)  # noqa: E731
    fp = pd.DataFrame({"date": day(outcome["date"]), "geo": outcome["geo"], "source": "generic",
                       "channel": "first_party", "spend": 0.0, "impressions": 0.0,
                       "conversions": 1.0, "revenue": outcome["value"]})  # fmt: skip
    plat = pd.DataFrame({"date": day(media["date"]), "geo": media["geo"], "source": "meta",
                         "channel": media["channel"], "spend": media["spend"],
                         "impressions": media["impressions"], "conversions": 0.0,
                         "revenue": media["platform_outcome"]})  # fmt: skip
    camp = pd.DataFrame({"date": day(campaigns["date"]), "campaign_id": campaigns["campaign"],
                         "source": "meta", "channel": campaigns["channel"],
                         "spend": campaigns["spend"], "impressions": campaigns["impressions"],
                         "conversions": 0.0, "revenue": campaigns["platform_outcome"]})  # fmt: skip
    a = panel_from_aggregates(pd.concat([fp, plat], ignore_index=True), camp)
    b = panel_from_frames(outcome, media, campaigns=campaigns)
    assert a.channels == b.channels and a.geos == b.geos
    np.testing.assert_allclose(a.outcome, b.outcome)
    np.testing.assert_allclose(a.media, b.media)
    np.testing.assert_allclose(a.platform_outcome, b.platform_outcome)
    np.testing.assert_allclose(a.campaign_spend, b.campaign_spend)


def test_registered_external_series_join_the_panel(long_frames) -> None:
    import datetime as dt

    from causal_svc.attribution import with_external_series

    outcome, media, _ = long_frames
    p = panel_from_frames(outcome, media)
    days = [dt.date(2024, 9, 15) + dt.timedelta(days=i) for i in range(10)]
    out = with_external_series(p, [
        ("macro", "", days, list(range(10))),
        ("weather", "US-CA", days, [1.0] * 10),
        ("elsewhere", "ZZ", days, [1.0] * 10),
    ])  # fmt: skip
    assert out.national["macro"][:10].tolist() == list(range(10))
    assert np.isnan(out.national["macro"][10:]).all()
    assert set(out.controls) == {"weather"} and out.controls["weather"].shape == p.outcome.shape


def test_a_factor_spelled_without_the_country_meets_its_region_and_an_unknown_one_is_named(
    long_frames,
) -> None:
    """R52-F1: orders ingested with --country US are stored "US-CA"; a per-region factor
    registered as the user's files write it ("CA") was left out of every analysis without a
    word, and its effect went to a channel. It now meets "US-CA"; a region the panel lacks is
    named in the panel's warnings."""
    import datetime as dt

    from causal_svc.attribution import with_external_series

    outcome, media, _ = long_frames
    outcome, media = (
        outcome.assign(geo="US-" + outcome["geo"]),
        media.assign(geo="US-" + media["geo"]),
    )
    p = panel_from_frames(outcome, media)
    days = [dt.date(2024, 9, 15) + dt.timedelta(days=i) for i in range(10)]
    out = with_external_series(p, [
        ("promo", "CA", days, [1.0] * 10),
        ("promo", "ca ", days, [1.0] * 10),
        ("promo", "ZZ", days, [1.0] * 10),
    ])  # fmt: skip
    grid = out.controls["promo"]
    assert np.isfinite(grid[p.geos.index("US-CA")]).all()
    assert grid[p.geos.index("US-CA"), :10].tolist() == [1.0] * 10
    (said,) = [w for w in out.warnings if "match no region" in w]
    assert "'ZZ'" in said and "'CA'" not in said and "US-" in said


def test_a_factor_region_that_is_two_regions_of_the_panel_is_said_so(long_frames) -> None:
    """V1-F4: the factor's region is read by the rule memory's search reads a geo by
    (mesh.runtime.region_names): "California" is US-CA, and "CA" beside US-CA and ES-CA is
    two places (it had been said to "match no region")."""
    import datetime as dt

    from causal_svc.attribution import with_external_series

    outcome, media, _ = long_frames
    geos = sorted(outcome["geo"].unique())
    to = {g: ("ES-CA" if g == geos[0] and g != "CA" else f"US-{g}") for g in geos}
    outcome, media = (
        outcome.assign(geo=outcome["geo"].map(to)),
        media.assign(geo=media["geo"].map(to)),
    )
    p = panel_from_frames(outcome, media)
    assert {"US-CA", "ES-CA"} <= set(p.geos)
    days = [dt.date(2024, 9, 15) + dt.timedelta(days=i) for i in range(10)]
    out = with_external_series(p, [("promo", "California", days, [1.0] * 10),
                                   ("heat", "CA", days, [1.0] * 10)])  # fmt: skip
    assert out.controls["promo"][p.geos.index("US-CA"), :10].tolist() == [1.0] * 10
    assert "heat" not in out.controls
    (said,) = [w for w in out.warnings if "more than one region" in w]
    assert "'ES-CA', 'US-CA'" in said and "heat" in said
