"""A national channel (a TV file with no geo) is spread over the panel's geos by outcome
shares, a dropped geo's share included, as the analysis spreads it. When only the outcome
changed, those spread amounts move with the shares: the drift check said "tv 154,583 ->
148,275 (-4.1%)" with no spend row changed (review V4 F3). The outcome's line says it all."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from surfacing_svc.data_drift import StoredReading, data_drift

DAYS = pd.date_range("2024-01-01", periods=60, freq="D")
GEOS = ("US-CA", "US-NY")  # the panel's: US-TX is dropped, its outcome missing on 10 days


def _frame(ca_bump: float = 1.0, tx_full: bool = False, tv_bump: float = 1.0) -> pd.DataFrame:
    rows = []
    for i, d in enumerate(DAYS):
        for g, base in (("US-CA", 1000.0), ("US-NY", 800.0), ("US-TX", 600.0)):
            if g == "US-TX" and i >= 50 and not tx_full:
                continue
            y = (
                base
                * (1 + 0.1 * np.sin(i / 5 + len(g)))
                * (ca_bump if g == "US-CA" and 20 <= i < 25 else 1)
            )
            rows.append({"local_date": d, "data_source": "generic", "channel": "", "geo": g,
                         "spend": 0.0, "revenue": y})  # fmt: skip
            rows.append({"local_date": d, "data_source": "meta", "channel": "meta", "geo": g,
                         "spend": 50.0 + i, "revenue": 0.0})  # fmt: skip
        tv = (3000.0 + 10 * i) * (tv_bump if i == 30 else 1)
        rows.append({"local_date": d, "data_source": "generic_media", "channel": "tv",
                     "geo": "US", "spend": tv, "revenue": 0.0})  # fmt: skip
    return pd.DataFrame(rows)


def _stored(base: pd.DataFrame) -> StoredReading:
    """What the analysis kept of ``base`` (as the drift module reads it: unchanged compares clean)."""
    y = base[base.data_source == "generic"]
    national = y[y.geo.isin(GEOS)].groupby("local_date").revenue.sum().reindex(DAYS).to_numpy()
    by_geo = y.groupby("geo").revenue.sum()
    share = (by_geo["US-CA"] + by_geo["US-NY"]) / by_geo.sum()
    tv = base[base.channel == "tv"].spend.sum() * share
    meta = base[(base.channel == "meta") & base.geo.isin(GEOS)].spend.sum()
    dates = DAYS.to_numpy().astype("datetime64[D]")
    return StoredReading("an-x", dates, national, "revenue", {"meta": meta, "tv": tv}, geos=GEOS)


@pytest.mark.parametrize("changed", [{"ca_bump": 1.2}, {"tx_full": True}])
def test_an_outcome_change_is_not_a_national_channels_spend_change(changed: dict) -> None:  # type: ignore[type-arg]
    stored = _stored(_frame())
    assert data_drift(_frame(), stored).spend == ()
    drift = data_drift(_frame(**changed), stored)
    assert drift.changed and drift.spend == (), drift.spend


def test_a_national_channels_own_change_is_still_said() -> None:
    drift = data_drift(_frame(tv_bump=2.0), _stored(_frame()))
    assert [c for c, _, _ in drift.spend] == ["tv"] and not drift.changed
