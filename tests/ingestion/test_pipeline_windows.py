"""``Prepared.windows`` (the history days each series of a batch needs) against the pandas
groupby it replaced, on every batch of the demo world's exports and on rows with missing
campaigns, missing keys and days out of order."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import sim
from ingestion_svc import lags
from ingestion_svc.pipeline import Prepared, Windows, prepare
from tests.ingestion.conftest import account_of, raw_batch


def _groupby_windows(rows: pd.DataFrame) -> Windows:
    """The former implementation: a sorted groupby's min and max day per series."""
    rows = rows[rows["campaign_id"] != ""]
    if rows.empty:
        return {}
    g = rows.groupby(["account_key", "campaign_id", "geo"], sort=True)["day"]
    lo, hi = g.min(), g.max()
    return {
        (str(a), str(c), str(geo)): (int(first) - lags.MAX_LAG, int(last))
        for (a, c, geo), first, last in zip(lo.index, lo.to_numpy(), hi.to_numpy(), strict=True)
    }


@pytest.mark.parametrize("source", ["meta", "google_ads", "klaviyo", "tiktok"])
def test_windows_match_the_groupby_on_every_batch(world: sim.SimResult, source: str) -> None:
    account = account_of(world, source)
    lines = list(world.raw[source].lines())
    checked = 0
    for start in range(0, len(lines), 500):
        prepared = prepare(raw_batch(source, lines[start : start + 500], account))
        got = prepared.windows()
        assert got == _groupby_windows(prepared.rows)
        assert list(got) == sorted(got)  # in key order, as the groupby gave them
        checked += len(got)
    assert checked > 0


def test_windows_skip_missing_campaigns_and_keys(world: sim.SimResult) -> None:
    prepared = prepare(
        raw_batch("meta", list(world.raw["meta"].lines())[:200], account_of(world, "meta"))
    )
    rows = prepared.rows.copy()
    n = len(rows)
    rng = np.random.default_rng(7)
    rows["day"] = rng.permutation(rows["day"].to_numpy())  # days out of order within series
    campaign = rows["campaign_id"].to_numpy(dtype=object, copy=True)
    campaign[::7] = ""  # no campaign: no series of its own
    geo = rows["geo"].to_numpy(dtype=object, copy=True)
    geo[3::11] = None  # a missing key: no series either
    rows["campaign_id"] = pd.Series(campaign, index=rows.index, dtype="str")
    rows["geo"] = pd.Series(geo, index=rows.index, dtype=object)
    odd = dataclasses.replace(prepared, rows=rows)
    got = odd.windows()
    assert got == _groupby_windows(rows)
    assert all(c != "" and geo is not None for _, c, geo in got)
    assert len(got) < n
    empty = Prepared(prepared.batch, rows.iloc[:0], [])
    assert empty.windows() == {}
