"""Two accounts of one channel billed in different currencies (R31-F2): a Meta account in EUR
and one in USD, orders in USD, fx_eur_usd registered. The channel's sums hold both, so they
cannot be converted apart; with the channel's records each EUR record is converted on its
day and added where it was summed. The converted sums equal the hand conversion (every EUR
amount times its day's rate, plus the USD amounts) in each geo-day, campaign-day and
campaign-geo-day, and the note gives the window's EUR spend and what it came to. Stores in
two currencies alike. Without the records, or without the rate, the refusal names why."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from mesh.runtime.aggregates import melt_campaign_geo_days
from mesh.runtime.frames.decode import records_to_frame
from mesh.runtime.money import (
    FxSeries,
    MixedCurrencies,
    converted_channels,
    in_one_currency,
    mixed_pairs,
)

DAY0 = dt.date(2024, 9, 1)
D0 = (DAY0 - dt.date(1970, 1, 1)).days
RATES = {0: 1.10, 1: 1.20, 2: 1.05}  # USD per EUR, by day
# (source enum, short name, channel, campaign, geo, currency, day, spend, revenue)
ROWS = [
    *[(common_pb.DATA_SOURCE_META, "meta", "meta_feed", "eu1", g, "EUR", d, 100.0 + 10 * d, 30.0)
      for g in ("US-CA", "US-TX") for d in range(3)],
    *[(common_pb.DATA_SOURCE_META, "meta", "meta_feed", "us1", g, "USD", d, 50.0 + d, 20.0)
      for g in ("US-CA", "US-NY") for d in range(3)],
    *[(common_pb.DATA_SOURCE_GOOGLE_ADS, "google_ads", "google_search", "g1", "US-CA", "USD", d,
       7.0, 0.0) for d in range(3)],
    *[(common_pb.DATA_SOURCE_GENERIC, "generic", "first_party", "first_party", g, "USD", d, 0.0,
       1000.0) for g in ("US-CA", "US-TX", "US-NY") for d in range(3)],
]  # fmt: skip


def _frame(rows: list[tuple]) -> pd.DataFrame:
    out = []
    for src, _, ch, camp, geo, cur, d, spend, revenue in rows:
        r = md_pb.CausalMarketingData(data_source=src, channel=ch, campaign_id=camp, geo=geo,
                                      currency_code=cur, spend=spend, revenue=revenue)  # fmt: skip
        day = DAY0 + dt.timedelta(days=d)
        r.local_date.year, r.local_date.month, r.local_date.day = day.year, day.month, day.day
        out.append(r)
    return records_to_frame(out, groups=("core",))


def _sums(rows: list[tuple]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Memory's four tables for ``rows``: amounts added as stored, whatever their currency."""
    t = pd.DataFrame(rows, columns=["e", "source", "channel", "campaign_id", "geo", "currency",
                                    "d", "spend", "revenue"])  # fmt: skip
    t["date"] = D0 + t["d"]
    long = t.groupby(["date", "geo", "source", "channel"])[["spend", "revenue"]].sum()
    wide = long.unstack(["source", "channel"]).fillna(0.0)
    wide.columns = [f"{s}:{c}:{w}" for w, s, c in wide.columns]
    geo = wide.reset_index()
    camp = t.groupby(["date", "campaign_id", "source", "channel"], as_index=False)[
        ["spend", "revenue"]].sum()  # fmt: skip
    camp["unreported_spend"] = 0.0
    media = t.loc[t["source"] != "generic"]
    cg = media.groupby(["date", "geo", "source", "channel", "campaign_id"])["spend"].sum()
    cg = cg.unstack(["source", "channel", "campaign_id"]).fillna(0.0)
    cg.columns = [f"{s}:{c}:{k}" for s, c, k in cg.columns]
    cur = t.groupby(["source", "channel", "currency"], as_index=False)[["spend", "revenue"]].sum()
    cur["records"] = 1
    return geo, camp, cg.reset_index(), cur


def _fx() -> list[FxSeries]:
    s = FxSeries.parse("fx_eur_usd", [DAY0 + dt.timedelta(days=d) for d in RATES],
                       list(RATES.values()))  # fmt: skip
    assert s is not None
    return [s]


def _hand(rows: list[tuple], key: list[str], what: str) -> pd.Series:
    t = pd.DataFrame(rows, columns=["e", "source", "channel", "campaign_id", "geo", "currency",
                                    "d", "spend", "revenue"])  # fmt: skip
    t = t.loc[t["channel"] == "meta_feed"]
    rate = np.where(t["currency"] == "EUR", t["d"].map(RATES), 1.0)
    t = t.assign(date=D0 + t["d"], value=t[what] * rate)
    return t.groupby(key)["value"].sum()


def test_two_accounts_in_two_currencies_are_converted_record_by_record() -> None:
    geo, camp, cg, cur = _sums(ROWS)
    assert mixed_pairs(cur) == [("meta", "meta_feed")]
    records = _frame(ROWS)
    out = in_one_currency(geo, camp, cg, cur, _fx(), records=records)
    assert out.currency == "USD"
    for what in ("spend", "revenue"):
        got = out.geo_days.set_index(["date", "geo"])[f"meta:meta_feed:{what}"]
        want = _hand(ROWS, ["date", "geo"], what)
        np.testing.assert_allclose(got.loc[want.index], want.to_numpy())
        meta = out.campaign_days.loc[out.campaign_days["channel"] == "meta_feed"]
        want = _hand(ROWS, ["date", "campaign_id"], what)
        np.testing.assert_allclose(meta.set_index(["date", "campaign_id"])[what].loc[want.index],
                                   want.to_numpy())  # fmt: skip
    assert out.campaign_geo_days is not None
    cgd = out.campaign_geo_days.set_index(["date", "geo"])
    want = _hand([r for r in ROWS if r[3] == "eu1"], ["date", "geo"], "spend")
    np.testing.assert_allclose(cgd["meta:meta_feed:eu1"].loc[want.index], want.to_numpy())
    np.testing.assert_array_equal(cgd["meta:meta_feed:us1"], cg["meta:meta_feed:us1"])
    # the other channels and the orders are as they were
    for col in ("google_ads:google_search:spend", "generic:first_party:revenue"):
        np.testing.assert_array_equal(out.geo_days[col], geo[col])
    eur = sum(r[7] for r in ROWS if r[5] == "EUR")
    usd = sum(r[7] * RATES[r[6]] for r in ROWS if r[5] == "EUR")
    (note,) = out.notes
    assert note.startswith(f"meta/meta_feed: EUR converted to USD with fx_eur_usd: the window's "
                           f"spend {eur:,.2f} EUR is {usd:,.2f} USD (its records in EUR")  # fmt: skip
    (said,) = converted_channels([note])
    assert (said.channel, said.frm, said.to, said.part) == ("meta_feed", "EUR", "USD", True)
    assert said.rate == pytest.approx(usd / eur, rel=1e-6)


def test_the_long_campaign_geo_days_causal_passes_are_converted_too() -> None:
    """Audit s17 V2 F1: causal passes campaign_geo_days melted long (peers.py), which the
    record-by-record path read as wide and returned unconverted, the EUR account's spend in
    EUR beside a note saying the channel was converted."""
    geo, camp, cg, cur = _sums(ROWS)
    long = melt_campaign_geo_days(cg)
    out = in_one_currency(geo, camp, long, cur, _fx(), records=_frame(ROWS))
    assert out.campaign_geo_days is not None
    got = out.campaign_geo_days.assign(campaign_id=lambda f: f["campaign_id"].astype(str))
    eu = got.loc[got["campaign_id"] == "eu1"].groupby(["date", "geo"], observed=True)["spend"]
    want = _hand([r for r in ROWS if r[3] == "eu1"], ["date", "geo"], "spend")
    np.testing.assert_allclose(eu.sum().loc[want.index], want.to_numpy())
    # the USD account and the other channels' rows are as they were, row for row
    kept = (got["campaign_id"] != "eu1").to_numpy()
    np.testing.assert_array_equal(got["spend"].to_numpy()[kept], long["spend"].to_numpy()[kept])
    assert len(got) == len(long)


def test_stores_in_two_currencies_convert_the_outcome() -> None:
    # an EU store (EUR) beside the US one: most of the revenue is in USD, the target
    rows = [(*r[:5], "EUR", *r[6:]) if r[1] == "generic" and r[4] == "US-TX" else r
            for r in ROWS if r[3] != "eu1"]  # fmt: skip
    geo, camp, cg, cur = _sums(rows)
    assert mixed_pairs(cur) == [("generic", "first_party")]
    out = in_one_currency(geo, camp, cg, cur, _fx(), records=_frame(rows))
    got = out.geo_days.set_index(["date", "geo"])["generic:first_party:revenue"]
    for d, rate in RATES.items():
        assert got.loc[(D0 + d, "US-TX")] == pytest.approx(1000.0 * rate)
        assert got.loc[(D0 + d, "US-CA")] == pytest.approx(1000.0)
    assert "revenue 3,000.00 EUR is 3,350.00 USD" in out.notes[0]


def test_without_the_records_or_the_rate_the_refusal_says_why() -> None:
    geo, camp, cg, cur = _sums(ROWS)
    with pytest.raises(MixedCurrencies) as info:
        in_one_currency(geo, camp, cg, cur, _fx())
    assert "meta/meta_feed holds money in EUR and USD (accounts billed in different" in str(
        info.value
    )
    with pytest.raises(MixedCurrencies) as info:
        in_one_currency(geo, camp, cg, cur, [], records=_frame(ROWS))
    assert "meta/meta_feed is in EUR and no rate to USD is registered (register fx_eur_usd" in str(
        info.value
    )
    short = FxSeries.parse("fx_eur_usd", [DAY0 - dt.timedelta(days=30)], [1.1])
    late = FxSeries.parse("fx_eur_usd", [DAY0 + dt.timedelta(days=2), DAY0 + dt.timedelta(days=3)],
                          [1.1, 1.2])  # fmt: skip
    assert short is not None and late is not None
    in_one_currency(geo, camp, cg, cur, [short], records=_frame(ROWS))  # a constant covers all
    with pytest.raises(MixedCurrencies) as info:
        in_one_currency(geo, camp, cg, cur, [late], records=_frame(ROWS))
    assert "meta/meta_feed has EUR money on days fx_eur_usd does not cover" in str(info.value)
