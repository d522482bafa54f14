"""The panel from memory's wide sums (numpy) is the panel the long rows give (pandas): same
geos, days, channels, grids, campaigns, warnings and refusals — on a whole world, with geos
missing days, a channel choice, the conversions outcome and campaign days outside the window."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from causal_svc.attribution import MediaPanel, panel_from_aggregates
from causal_svc.errors import InsufficientData, InvalidSpec
from mesh.runtime.aggregates import melt_geo_days

from .world import frames, simulate

SUMS = ("spend", "impressions", "conversions", "revenue")


def _day(s: pd.Series) -> np.ndarray:
    return pd.to_datetime(s).to_numpy("datetime64[D]").astype(np.int64)


@pytest.fixture(scope="module")
def sums() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demo world's sums as AggregateRecords sends them: wide geo-days (a column per
    non-zero (source, channel, sum)) and long campaign-days."""
    outcome, media, campaigns = frames(simulate("demo", 0))
    source = np.where(media["channel"].str.startswith("google"), "google_ads", "meta")
    long = pd.concat([
        pd.DataFrame({"date": _day(outcome["date"]), "geo": outcome["geo"], "source": "generic",
                      "channel": "first_party", "spend": 0.0, "impressions": 0.0,
                      "conversions": np.round(outcome["value"] / 80), "revenue": outcome["value"]}),
        pd.DataFrame({"date": _day(media["date"]), "geo": media["geo"], "source": source,
                      "channel": media["channel"], "spend": media["spend"],
                      "impressions": media["impressions"],
                      "conversions": np.round(media["platform_outcome"] / 90),
                      "revenue": media["platform_outcome"]}),
    ], ignore_index=True)  # fmt: skip
    wide = long.pivot_table(index=["date", "geo"], columns=["source", "channel"], values=SUMS,
                            aggfunc="sum", fill_value=0.0)  # fmt: skip
    wide.columns = [f"{s}:{c}:{m}" for m, s, c in wide.columns]
    wide = wide.loc[:, (wide != 0).any()].reset_index()
    camp_source = np.where(campaigns["channel"].str.startswith("google"), "google_ads", "meta")
    camp = pd.DataFrame({"date": _day(campaigns["date"]), "campaign_id": campaigns["campaign"],
                         "source": camp_source, "channel": campaigns["channel"],
                         "spend": campaigns["spend"], "impressions": campaigns["impressions"],
                         "conversions": np.round(campaigns["platform_outcome"] / 90),
                         "revenue": campaigns["platform_outcome"], "records": 1})  # fmt: skip
    return wide, camp


def _same(a: MediaPanel, b: MediaPanel) -> None:
    for f in dataclasses.fields(MediaPanel):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.shape == y.shape, f.name
            np.testing.assert_allclose(x.astype(float), y.astype(float), rtol=1e-12,
                                       err_msg=f.name)  # fmt: skip
        else:
            assert x == y, f.name


def _both(wide: pd.DataFrame, camp: pd.DataFrame | None, **kw: object) -> MediaPanel:
    a = panel_from_aggregates(wide, camp, **kw)  # type: ignore[arg-type]
    _same(a, panel_from_aggregates(melt_geo_days(wide), camp, **kw))  # type: ignore[arg-type]
    return a


def test_wide_sums_build_the_long_rows_panel(sums) -> None:
    wide, camp = sums
    p = _both(wide, camp)
    assert p.outcome.shape == (20, 120) and len(p.campaigns) > 0
    _both(wide, camp, outcome_name="conversions")
    _both(wide, None)  # platform claims from the geo sums
    _both(wide, camp, channels=("meta_prospecting", "klaviyo_email"))


def test_missing_days_dropped_geos_and_campaigns_outside_the_window(sums) -> None:
    wide, camp = sums
    days = np.sort(wide["date"].unique())
    holes = wide.loc[~((wide["geo"] == "TX") & wide["date"].isin(days[10:30]))]  # dropped
    holes = holes.loc[~((holes["geo"] == "CA") & (holes["date"] == days[5]))]  # kept, one day 0
    window = holes.loc[holes["date"] >= days[7]]  # campaign days start before the window
    p = _both(window, camp)
    assert "TX" not in p.geos and "CA" in p.geos and p.warnings
    assert p.n_days == len(days) - 7


def test_refusals_match(sums) -> None:
    wide, camp = sums
    no_outcome = wide.drop(columns=[c for c in wide.columns if c.startswith("generic:")])
    no_media = wide[["date", "geo", *[c for c in wide.columns if c.startswith("generic:")]]]
    short = wide.loc[wide["date"] < wide["date"].min() + 20]
    for bad, kind in ((no_outcome, InsufficientData), (no_media, InsufficientData),
                      (short, InsufficientData), (wide.iloc[:0], InsufficientData)):  # fmt: skip
        with pytest.raises(kind) as got:
            panel_from_aggregates(bad, camp)
        with pytest.raises(kind) as want:
            panel_from_aggregates(melt_geo_days(bad), camp)
        assert (got.value.subject, str(got.value)) == (want.value.subject, str(want.value))
    with pytest.raises(InvalidSpec) as info:
        panel_from_aggregates(wide, camp, channels=("myspace",))
    assert info.value.field == "channels"


def test_media_outside_the_outcome_is_left_out_and_said(sums) -> None:
    """Ad rows past the last orders day and in a geo without orders (memory's sums carry no
    row presence: such cells read 0 for the outcome) leave the panel on the outcome's days and
    geos — the panel without them — and warn; both paths alike."""
    wide, camp = sums
    last = int(wide["date"].max())
    media_cols = [c for c in wide.columns if c.split(":")[0] not in ("generic", "date", "geo")]
    tail = wide.loc[wide["date"] == last].copy()
    tail.loc[:, [c for c in wide.columns if c.startswith("generic:")]] = 0.0
    extra = [tail.assign(date=last + k) for k in (1, 2, 3)]
    stray = tail.assign(geo="ZZ", date=last - 5)
    more = pd.concat([wide, *extra, stray], ignore_index=True)
    more_camp = pd.concat([camp, camp.loc[camp["date"] == last].assign(date=last + 1)])
    assert (more[media_cols].iloc[len(wide) :] != 0).any(axis=None)
    p, base = _both(more, more_camp), _both(wide, camp)
    assert p.geos == base.geos and p.n_days == base.n_days == 120
    for name in ("outcome", "media", "spend", "platform_outcome", "campaign_spend"):
        np.testing.assert_array_equal(getattr(p, name), getattr(base, name), err_msg=name)
    day = lambda d: str(np.datetime64(int(d), "D"))  # noqa: E731
    assert p.warnings[0] == (
        f"media on 3 day(s) outside the first-party outcome's days "
        f"{day(wide['date'].min())}..{day(last)} left out (3 after it ({day(last + 1)}.."
        f"{day(last + 3)}); {3 * 20} geo-day(s) with spend or impressions): the panel spans the "
        "days the outcome is observed, as a day without outcome rows is not a day without sales"
    )
    # the geo named with its channels and spend (R18 F2; tests/causal/attribution/test_coverage.py)
    assert p.warnings[1].startswith(
        "media on 1 geo(s) without a first-party outcome left out (ZZ): google_pmax 18,692, 0.2% of"
    )
    assert p.checks == ()  # a sliver of the window's spend
    # a day inside the span with no outcome anywhere stays (read as zero) and is said
    hole = more.copy()
    hole.loc[hole["date"] == last - 7, [c for c in wide.columns if c.startswith("generic:")]] = 0
    assert "1 day(s) inside the outcome's days have no first-party outcome" in " ".join(
        _both(hole, camp).warnings
    )
