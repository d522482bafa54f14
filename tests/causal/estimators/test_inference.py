"""Shared inference: the reference distribution an estimate carries, and cluster handling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from causal_svc.errors import InsufficientData, InvalidSpec
from causal_svc.estimators._inference import (
    cluster_codes,
    cluster_sums,
    effect_estimate,
    influence_stderr,
    interval,
    intervals,
)
from causal_svc.estimators.result import Estimand, Method


def test_interval_uses_t_with_df_and_the_normal_without() -> None:
    lo, hi, p = interval(2.0, 1.0, 0.05, df=5)
    q = stats.t.ppf(0.975, 5)
    assert (lo, hi) == pytest.approx((2 - q, 2 + q))
    assert p == pytest.approx(2 * stats.t.sf(2.0, 5))
    lo, hi, p = interval(2.0, 1.0, 0.05)
    z = stats.norm.ppf(0.975)
    assert (lo, hi) == pytest.approx((2 - z, 2 + z))
    assert p == pytest.approx(2 * stats.norm.sf(2.0))
    assert np.isnan(interval(2.0, 0.0, 0.05)).all()
    lows, highs, ps = intervals(np.array([2.0, 1.0]), np.array([1.0, 0.0]), 0.05, df=5)
    assert (lows[0], highs[0], ps[0]) == pytest.approx(interval(2.0, 1.0, 0.05, df=5))
    assert np.isnan([lows[1], highs[1], ps[1]]).all()


def test_conf_int_at_another_level_follows_the_estimates_reference() -> None:
    t_based = effect_estimate(Method.DID, Estimand.ATT, 2.0, 1.0, alpha=0.05, nobs=10, df=5)
    normal = effect_estimate(Method.IV, Estimand.LATE, 2.0, 1.0, alpha=0.05, nobs=10)
    assert t_based.conf_int() == (t_based.ci_lower, t_based.ci_upper)
    q90 = stats.t.ppf(0.95, 5)
    assert t_based.conf_int(0.1) == pytest.approx((2 - q90, 2 + q90))
    z90 = stats.norm.ppf(0.95)
    assert normal.conf_int(0.1) == pytest.approx((2 - z90, 2 + z90))


def test_clusters_are_coded_and_one_cluster_is_refused() -> None:
    frame = pd.DataFrame({"g": ["b", "a", "b", "c"], "one": 1, "gap": [1.0, None, 2.0, 2.0]})
    codes, n = cluster_codes(frame, "g")
    assert codes.tolist() == [1, 0, 1, 2] and n == 3
    with pytest.raises(InsufficientData) as one:
        cluster_codes(frame, "one")
    assert one.value.subject == "clusters"
    with pytest.raises(InvalidSpec) as missing:
        cluster_codes(frame, "gap")
    assert missing.value.field == "roles.cluster"


def test_cluster_sums_and_influence_standard_errors() -> None:
    psi = np.array([1.0, -1.0, 2.0, 0.5])
    groups = np.array([0, 0, 2, 2])  # cluster 1 absent, as after trimming
    assert cluster_sums(psi, groups).tolist() == [0.0, 0.0, 2.5]
    plain = influence_stderr(psi, groups)
    assert plain == pytest.approx(np.sqrt(2.5**2) / 4)
    # G/(G-1) counts the clusters present (2), not the largest code
    assert influence_stderr(psi, groups, small_sample=True) == pytest.approx(plain * np.sqrt(2))
