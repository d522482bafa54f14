"""The budget-response check on an outcome of revenue only (Robyn's shape; audit R18 F10): it
needs order counts, and says so, instead of "the window has 0" beside geos with revenue."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from bench.confounder_detection import simulated_sums
from causal_svc.confounders_retro import budget_response_finding, detect_budget_response
from causal_svc.errors import InsufficientData


@pytest.fixture(scope="module")
def sums():  # type: ignore[no-untyped-def]
    geo_days, campaign_days = simulated_sums(sim.simulate("demo", seed=13, dirt=False, days=60))
    geo_days = geo_days.assign(**{"generic::revenue": geo_days["generic::conversions"] * 80.0})
    return geo_days, campaign_days


def test_revenue_only_is_said_as_such(sums) -> None:  # type: ignore[no-untyped-def]
    geo_days, campaign_days = sums
    geos = geo_days["geo"].nunique()
    revenue_only = geo_days.assign(**{"generic::conversions": 0.0})
    line, share = budget_response_finding(revenue_only, campaign_days)
    assert share is None
    assert line == (
        "budget response not assessed: budget response needs first-party order counts "
        f"(conversions) in at least 3 geos; the outcome has revenue only ({geos} geos): map an "
        "orders column to conversions at ingest to assess it"
    )
    # orders in two geos: counted as such
    two = sorted(geo_days["geo"].unique())[:2]
    some = geo_days.assign(**{"generic::conversions": np.where(
        geo_days["geo"].isin(two), geo_days["generic::conversions"], 0.0)})  # fmt: skip
    with pytest.raises(InsufficientData) as info:
        detect_budget_response(some, campaign_days)
    assert str(info.value) == (
        "budget response needs first-party orders (conversions) in at least 3 geos; the "
        "window has them in 2"
    )
    # with the counts it runs
    assert budget_response_finding(geo_days, campaign_days)[1] is not None
