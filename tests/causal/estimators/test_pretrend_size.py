"""Size of the joint pre-trend tests with few clusters (R11-F2): on staggered panels where
parallel trends hold exactly, ``staggered_did`` and ``event_study`` must fail their PRE_TREND
check about as often as the nominal 5%, even when the number of leads q is close to the number
of clusters G, and must still fail it on a panel whose treated cohorts drift before adopting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causal_svc.estimators.event_study import estimate_event_study
from causal_svc.estimators.result import CheckOutcome, EffectEstimate, EffectSpec
from causal_svc.estimators.staggered_did import estimate_staggered_did

SPEC = EffectSpec(outcome="y", treatment="d", unit="unit", time="time")
ESTIMATORS = {"staggered_did": estimate_staggered_did, "event_study": estimate_event_study}
RUNS = 100


def _panel(
    seed: int, per: int, starts: tuple[int, int], periods: int, drift: float = 0.0
) -> pd.DataFrame:
    """Never-treated units and two cohorts, ``per`` units each (G = 3·per clusters): unit and
    period effects plus N(0, 1) noise, no effect; ``drift`` per period before adoption for the
    treated cohorts (a pre-trend: parallel trends fails)."""
    rng = np.random.default_rng(seed)
    first = np.repeat([np.inf, *starts], per)
    n = len(first)
    unit, t = np.repeat(np.arange(n), periods), np.tile(np.arange(periods), n)
    before = np.isfinite(first[unit]) & (t < first[unit])
    y = rng.normal(size=n)[unit] + rng.normal(size=periods)[t] + rng.normal(size=unit.size)
    y = y + drift * np.where(before, t - first[unit], 0.0)
    return pd.DataFrame({"unit": unit, "time": t, "d": (t >= first[unit]).astype(int), "y": y})


def _failed(est: EffectEstimate) -> bool:
    return est.checks[0].outcome is CheckOutcome.FAILED


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize(
    ("per", "starts", "periods", "most"),
    [
        # G = 12, q = 9: χ²(q) failed 90/100 (staggered_did), F(q, G-1) 73/100 (event_study)
        (4, (8, 10), 14, 10),
        # G = 30, q = 13: 60/100 and 40/100 before
        (10, (12, 14), 18, 12),
    ],
)
def test_pretrend_holds_its_level_with_few_clusters(
    name: str, per: int, starts: tuple[int, int], periods: int, most: int
) -> None:
    estimate = ESTIMATORS[name]
    failed = 0
    for seed in range(RUNS):
        est = estimate(_panel(seed, per, starts, periods), SPEC, cluster_inference="cluster_robust")
        assert est.statistics["pretrend_df1"] == starts[1] - 1  # every lead of the later cohort
        failed += _failed(est)
    # 5% of 100: more than 10 has probability 0.01, more than 12 0.002 at the nominal level
    assert failed <= most


@pytest.mark.parametrize(
    ("name", "drift"),
    # staggered_did's leads are one-period changes (varying base period), each seeing one
    # period's drift; event_study's are against event time -1 and accumulate it: at 0.3 a
    # period 5/20 and 20/20 fail, at 1.0 both 20/20
    [("staggered_did", 1.0), ("event_study", 0.3)],
)
def test_pretrend_still_detects_drifting_cohorts(name: str, drift: float) -> None:
    estimate = ESTIMATORS[name]
    failed = sum(
        _failed(
            estimate(
                _panel(seed, 10, (12, 14), 18, drift=drift),
                SPEC,
                cluster_inference="cluster_robust",
            )
        )
        for seed in range(20)
    )
    assert failed >= 16
