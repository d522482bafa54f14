"""Propensity-score matching: a hand-worked example, the NSW benchmark, simulated effects."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from causaldata import cps_mixtape, nsw_mixtape

from causal_svc.errors import InsufficientData, InvalidSpec
from causal_svc.estimators.matching import estimate_matching
from causal_svc.estimators.result import CheckKind, CheckOutcome, EffectSpec, Estimand

HAND_RTOL = 1e-9
# Dehejia & Wahba (1999): experimental NSW benchmark $1,794 with standard error $633. A
# matching estimate "recovers" it when it lands within one experimental standard error.
NSW_BENCHMARK = 1794.0
NSW_TOLERANCE = 633.0
DW_COVARIATES = (
    "age", "age2", "educ", "educ2", "marr", "nodegree", "black", "hisp",
    "re74", "re75", "u74", "u75",
)  # fmt: skip


@pytest.fixture
def hand() -> pd.DataFrame:
    """Five treated, five controls, one covariate: matching on the logit of a one-covariate
    logistic score is matching on x, and 0.2 SD of the logit is 0.2 SD of x (~0.509)."""
    return pd.DataFrame(
        {
            "x": [0.0, 1.0, 2.0, 3.0, 0.2, 0.1, 1.1, 1.9, 5.0, 8.0],
            "t": [1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
            "y": [5.0, 7.0, 9.0, 30.0, 6.0, 1.0, 3.0, 4.0, 10.0, 12.0],
        }
    )


def test_hand_worked_att_with_replacement(hand: pd.DataFrame) -> None:
    spec = EffectSpec(outcome="y", treatment="t", covariates=("x",))
    result = estimate_matching(hand, spec, variance_neighbors=1)
    # Matches: x=0 -> 0.1 (y 1), x=1 -> 1.1 (y 3), x=2 -> 1.9 (y 4), x=0.2 -> 0.1 (y 1);
    # x=3 is 1.1 from its nearest control, beyond the caliper: dropped.
    # Unit effects 4, 4, 5, 5 -> ATT 4.5.
    assert result.estimand is Estimand.ATT
    assert result.point_estimate == pytest.approx(4.5, rel=HAND_RTOL)
    # Abadie-Imbens: sum of squared deviations of unit effects = 4 * 0.25 = 1; control x=0.1 is
    # used K=2 times, K(K-1) = 2, and its variance from its nearest control (x=1.1, y=3) is
    # 1/2 * (1 - 3)^2 = 2. V = (1 + 2 * 2) / 4^2.
    assert result.stderr == pytest.approx(math.sqrt(5) / 4, rel=HAND_RTOL)
    stats = result.statistics
    assert stats["n_matched"] == 4
    assert stats["n_unmatched"] == 1
    assert stats["n_controls_used"] == 3
    assert stats["max_reuse"] == 2
    assert stats["caliper_logit"] > 0
    assert result.n_treated == 4 and result.n_control == 3
    assert any("dropped" in w for w in result.warnings)


def test_hand_worked_greedy_without_replacement(hand: pd.DataFrame) -> None:
    spec = EffectSpec(outcome="y", treatment="t", covariates=("x",))
    result = estimate_matching(hand, spec, replace=False, variance_neighbors=1)
    # The score falls with x, so x=0 goes first and takes control 0.1; x=0.2 then finds only
    # 1.1 (0.9 away, beyond the caliper) and is dropped; x=1 -> 1.1, x=2 -> 1.9; x=3 dropped.
    assert result.point_estimate == pytest.approx((4 + 4 + 5) / 3, rel=HAND_RTOL)
    assert result.statistics["n_matched"] == 3
    assert result.statistics["max_reuse"] == 1
    # Without reuse K(K-1) = 0: only the spread of unit effects remains.
    effects = np.array([4.0, 4.0, 5.0])
    assert result.stderr == pytest.approx(
        math.sqrt(np.sum((effects - effects.mean()) ** 2)) / 3, rel=HAND_RTOL
    )


def _dw(frame: pd.DataFrame) -> pd.DataFrame:
    d = frame.drop(columns="data_id").astype(float)
    return d.assign(
        age2=d.age**2,
        educ2=d.educ**2,
        u74=(d.re74 == 0).astype(float),
        u75=(d.re75 == 0).astype(float),
    )


def test_nsw_experimental_and_cps_observational_recover_benchmark() -> None:
    nsw = nsw_mixtape.load_pandas().data
    cps = cps_mixtape.load_pandas().data
    spec = EffectSpec(outcome="re78", treatment="treat", covariates=DW_COVARIATES)

    experimental = estimate_matching(_dw(nsw), spec)
    assert abs(experimental.point_estimate - NSW_BENCHMARK) < NSW_TOLERANCE

    observational = _dw(pd.concat([nsw[nsw.treat == 1], cps], ignore_index=True))
    naive = (
        observational.re78[observational.treat == 1].mean()
        - observational.re78[observational.treat == 0].mean()
    )
    assert naive < -8000  # CPS controls earn far more: the raw comparison is badly confounded
    result = estimate_matching(observational, spec)
    assert abs(result.point_estimate - NSW_BENCHMARK) < NSW_TOLERANCE
    assert 400 < result.stderr < 1500
    balance = {row.covariate: row for row in result.balance}
    assert abs(balance["re75"].smd_before) > 1.0
    assert abs(balance["re75"].smd_after) < 0.1
    assert [c.kind for c in result.checks] == [CheckKind.OVERLAP, CheckKind.BALANCE]


def _confounded(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    t = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.7 * x1 - 0.4 * x2)))).astype(float)
    y = 1.0 + 2.0 * x1 + x2 + t * (2.0 + x1) + rng.normal(size=n)
    return pd.DataFrame({"y": y, "t": t, "x1": x1, "x2": x2, "att": t * (2.0 + x1)})


def test_simulated_att_and_ate_with_several_neighbours() -> None:
    frame = _confounded(4000, seed=21)
    spec = EffectSpec(outcome="y", treatment="t", covariates=("x1", "x2"))
    true_att = float(frame.att[frame.t == 1].mean())
    att = estimate_matching(frame, spec, n_neighbors=3)
    assert abs(att.point_estimate - true_att) < 3 * att.stderr
    ate = estimate_matching(frame, spec, estimand=Estimand.ATE, n_neighbors=3)
    assert abs(ate.point_estimate - 2.0) < 3 * ate.stderr
    assert ate.estimand is Estimand.ATE
    assert ate.statistics["n_treated_used"] > 0  # controls were matched to treated units
    assert next(c for c in att.checks if c.kind is CheckKind.BALANCE).outcome is (
        CheckOutcome.PASSED
    )


def test_common_support_drops_off_support_treated() -> None:
    frame = _confounded(1000, seed=22)
    # Push a few treated units far beyond every control.
    frame.loc[frame.index[(frame.t == 1)][:5], "x1"] = 8.0
    spec = EffectSpec(outcome="y", treatment="t", covariates=("x1", "x2"))
    result = estimate_matching(frame, spec, common_support=True, caliper=None)
    assert result.statistics["n_off_support"] >= 5
    overlap = next(c for c in result.checks if c.kind is CheckKind.OVERLAP)
    assert overlap.outcome is CheckOutcome.WARNING
    assert overlap.statistic is not None and overlap.statistic > 0


def test_bad_input_is_named() -> None:
    frame = _confounded(200, seed=23)
    spec = EffectSpec(outcome="y", treatment="t", covariates=("x1", "x2"))
    with pytest.raises(InvalidSpec) as ate_no_replace:
        estimate_matching(frame, spec, estimand=Estimand.ATE, replace=False)
    assert ate_no_replace.value.field == "options.replace"
    with pytest.raises(InvalidSpec) as caliper:
        estimate_matching(frame, spec, caliper=0.0)
    assert caliper.value.field == "options.caliper"
    with pytest.raises(InvalidSpec) as cluster:
        estimate_matching(
            frame.assign(g=1),
            EffectSpec(outcome="y", treatment="t", covariates=("x1",), cluster="g"),
        )
    assert cluster.value.field == "roles.cluster"
    with pytest.raises(InvalidSpec) as missing:
        estimate_matching(frame, EffectSpec(outcome="y", treatment="t", covariates=("nope",)))
    assert missing.value.field == "roles.covariates"
    with pytest.raises(InsufficientData) as nothing:
        estimate_matching(frame, spec, caliper=1e-12)
    assert nothing.value.subject == "options.caliper"
    with pytest.raises(InsufficientData) as flat:
        estimate_matching(frame.assign(y=0.0), spec)
    assert flat.value.subject == "roles.outcome"
    with pytest.raises(InsufficientData) as separation:
        estimate_matching(frame.assign(x1=frame.t * 10.0 + 0.01 * frame.x2), spec)
    assert separation.value.reason == "PERFECT_SEPARATION"
