"""Shared inference: the reference distribution an estimate carries, and cluster handling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from causal_svc.errors import InsufficientData, InvalidSpec
from causal_svc.estimators import _ols
from causal_svc.estimators._inference import (
    cluster_codes,
    cluster_sums,
    effect_estimate,
    few_cluster_warnings,
    group_codes,
    influence_stderr,
    interval,
    intervals,
    wild_cluster_bootstrap,
)
from causal_svc.estimators.did import estimate_did
from causal_svc.estimators.difference_in_means import estimate_difference_in_means
from causal_svc.estimators.naive import estimate_naive_regression
from causal_svc.estimators.result import EffectSpec, Estimand, Method


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


# -- the wild cluster bootstrap ----------------------------------------------------------------


def _castle_few_states() -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Castle-doctrine homicides (Cheng & Hoekstra 2013), 6 adopting and 7 other states."""
    from causaldata import castle

    data = castle.load_pandas().data
    adopters = sorted(data.loc[data["post"] > 0, "sid"].unique())[:6]
    others = sorted(set(data["sid"]) - set(data.loc[data["post"] > 0, "sid"]))[:7]
    sub = data[data["sid"].isin(adopters + others)].reset_index(drop=True)
    groups = [group_codes(sub["sid"])[0], group_codes(sub["year"])[0]]
    return sub, groups


def test_wild_cluster_bootstrap_matches_wildboottest_on_real_data() -> None:
    import statsmodels.api as sm
    from wildboottest.wildboottest import wildboottest

    sub, groups = _castle_few_states()
    y, x = sub["l_homicide"].to_numpy(), sub[["post", "unemployrt"]].to_numpy(float)
    swept = _ols.demean(np.column_stack([y, x]), groups)
    ours = wild_cluster_bootstrap(
        swept[:, 0], swept[:, 1:], np.array([1.0, 0.0]), groups[0], alpha=0.05,
        rng=np.random.default_rng(0), absorb=lambda z: _ols.demean(z, groups),
    )  # fmt: skip
    dummies = pd.get_dummies(sub[["sid", "year"]].astype(str), drop_first=True).astype(float)
    design = pd.concat([sub[["post", "unemployrt"]].astype(float), dummies], axis=1)
    design.insert(0, "const", 1.0)
    with pytest.warns(UserWarning, match="full_enumeration"):
        ref = wildboottest(
            sm.OLS(y, design), param="post", cluster=sub["sid"].to_numpy(), B=9999,
            weights_type="rademacher", seed=1, show=False,
        )  # fmt: skip
    # 13 clusters: both enumerate all 2^13 sign vectors; the draws v and -v that reproduce the
    # sample's own |t| are ties, which float rounding puts on either side.
    assert ours.enumerated and ours.draws == 2**13 and ours.weights == "rademacher"
    assert ours.pvalue == pytest.approx(float(ref["p-value"].iloc[0]), abs=2 / 2**13)


def test_wild_bootstrap_interval_inverts_its_test() -> None:
    sub, groups = _castle_few_states()
    y, x = sub["l_homicide"].to_numpy(), sub[["post"]].to_numpy(float)
    absorb = lambda z: _ols.demean(z, groups)  # noqa: E731

    def test(shift: float) -> float:
        swept = _ols.demean(np.column_stack([y - shift * x[:, 0], x]), groups)
        rng = np.random.default_rng(0)
        r = np.array([1.0])
        return wild_cluster_bootstrap(
            swept[:, 0], swept[:, 1:], r, groups[0], alpha=0.1, rng=rng, absorb=absorb
        )

    base = test(0.0)
    assert base.ci_lower < 0 < base.ci_upper or base.pvalue < 0.1
    width = base.ci_upper - base.ci_lower
    # H0: β = bound is rejected just outside the interval and not just inside it
    assert (
        test(base.ci_upper + 0.01 * width).pvalue <= 0.1 < test(base.ci_upper - 0.01 * width).pvalue
    )
    assert (
        test(base.ci_lower - 0.01 * width).pvalue <= 0.1 < test(base.ci_lower + 0.01 * width).pvalue
    )


def test_did_with_few_clusters_uses_the_wild_bootstrap_unless_told_not_to() -> None:
    rng = np.random.default_rng(3)
    unit, t = np.repeat(np.arange(10), 12), np.tile(np.arange(12), 10)
    frame = pd.DataFrame(
        {"u": unit, "t": t, "d": ((unit < 5) & (t >= 8)).astype(int),
         "y": rng.normal(size=unit.size) + 0.3 * unit}
    )  # fmt: skip
    spec = EffectSpec(outcome="y", treatment="d", unit="u", time="t")
    wild = estimate_did(frame, spec)
    assert wild.statistics["wild_bootstrap_webb"] == 1.0  # 10 clusters: Webb weights
    assert wild.ci_lower < wild.point_estimate < wild.ci_upper
    assert (wild.ci_lower, wild.ci_upper) != (
        wild.statistics["cr1_ci_lower"],
        wild.statistics["cr1_ci_upper"],
    )
    assert not any("wild cluster bootstrap, options" in w for w in wild.warnings)
    cr1 = estimate_did(frame, spec, cluster_inference="cluster_robust")
    assert "wild_bootstrap_draws" not in cr1.statistics
    assert (cr1.ci_lower, cr1.ci_upper) == (
        wild.statistics["cr1_ci_lower"],
        wild.statistics["cr1_ci_upper"],
    )
    assert any("only 10 clusters" in w for w in cr1.warnings)


def test_bootstrap_pvalue_is_never_zero_and_the_summary_says_below() -> None:
    """A huge effect over 20 clusters: no bootstrap draw is as extreme as the sample, which
    reported p = 0 (and the summary printed "p = 0"); the sample is itself a draw, p >= 1/(B+1)."""
    from causal_svc.estimators._inference import WILD_DRAWS
    from causal_svc.estimators.result import EffectSpec, Method
    from causal_svc.methods import EstimationOptions
    from causal_svc.pipeline import estimate_effect

    rng = np.random.default_rng(0)
    geo, day = np.meshgrid(np.arange(20), np.arange(30), indexing="ij")
    treated = (geo < 10) & (day >= 15)
    y = geo + 0.1 * day + 20 * treated + rng.normal(size=geo.shape)
    frame = pd.DataFrame(
        {"g": geo.ravel(), "d": day.ravel(), "t": treated.ravel().astype(int), "y": y.ravel()}
    )
    spec = EffectSpec("y", "t", unit="g", time="d")
    result = estimate_effect(
        frame, spec, Method.DID, options=EstimationOptions(), skip_refutation=True
    )
    assert result.estimate.statistics.get("wild_bootstrap_draws", WILD_DRAWS) == WILD_DRAWS
    assert result.estimate.pvalue == pytest.approx(1 / (WILD_DRAWS + 1))
    assert "p < 0.001" in result.summary and "p = 0" not in result.summary


@pytest.mark.parametrize(
    ("stderr", "says"),
    [
        (0.0, "fitted exactly or does not vary"),
        (float("nan"), "overflowed or the design is degenerate"),
        (float("inf"), "overflowed or the design is degenerate"),
    ],
)
def test_a_missing_standard_error_names_the_right_cause(stderr: float, says: str) -> None:
    """A nan from overflow (one 1e308 outcome) read 'the outcome ... does not vary'."""
    from causal_svc.estimators._inference import require_stderr

    with pytest.raises(InsufficientData, match=says):
        require_stderr(stderr, "did")


def test_few_cluster_warnings_are_one_text_for_every_estimator() -> None:
    """One rule (review item: each estimator had its own wording, and a weighted difference in
    means asked for the wild bootstrap skipped it without a word)."""
    rng = np.random.default_rng(5)
    unit, t = np.repeat(np.arange(10), 12), np.tile(np.arange(12), 10)
    frame = pd.DataFrame(
        {"u": unit, "t": t, "d": ((unit < 5) & (t >= 8)).astype(int),
         "y": rng.normal(size=unit.size) + 0.3 * unit, "w": 1.0 + (unit % 3)}
    )  # fmt: skip
    did = estimate_did(
        frame, EffectSpec(outcome="y", treatment="d", unit="u", time="t"),
        cluster_inference="cluster_robust",
    )  # fmt: skip
    cross = frame[frame.t == 11]
    spec = EffectSpec(outcome="y", treatment="d", cluster="u")
    naive = estimate_naive_regression(
        pd.concat([cross, cross]), spec, cluster_inference="cluster_robust"
    )
    means = estimate_difference_in_means(
        pd.concat([cross, cross]), spec, cluster_inference="cluster_robust"
    )
    expected = few_cluster_warnings("X", 10, wild_bootstrap=False)[0].split(": ", 1)[1]
    for estimate in (did, naive, means):
        said = [w for w in estimate.warnings if w.startswith("only 10 clusters")]
        assert len(said) == 1 and estimate.df == 9
        assert said[0].split("'s", 1)[1] == expected.split("'s", 1)[1]
    assert "t with G-1 = 9 df" in expected and "options.cluster_inference" in expected
    assert "only 5 clusters hold treated units" in " ".join(did.warnings)
    assert few_cluster_warnings("X", 10, wild_bootstrap=True) == []
    assert "X has no wild cluster bootstrap" in few_cluster_warnings("X", 10)[0]
    assert "uses the normal" in few_cluster_warnings("X", 10, wild_bootstrap=False, normal=True)[0]

    weighted = estimate_difference_in_means(
        pd.concat([cross, cross]),
        EffectSpec(outcome="y", treatment="d", cluster="u", weights="w"),
        cluster_inference="wild_bootstrap",
    )
    assert "wild_bootstrap_draws" not in weighted.statistics
    assert any("not available for weighted regressions" in w for w in weighted.warnings)


def _three_cluster_panel() -> pd.DataFrame:
    """R27-F1: 12 units × 10 days, 4 treated from day 7 (effect 2.0), clustered by a
    three-level region: the strong-effect case where |t| lies beyond every weight vector's
    |t*| except the six proportional to 1, which tie with it."""
    rng = np.random.default_rng(2)
    rows = []
    for u in range(12):
        a = rng.normal()
        for t in range(10):
            d = int(u < 4 and t >= 6)
            y = a + 0.1 * t + 2 * d + rng.normal()
            rng.normal()  # R27's genp.py drew a noise covariate here: the same panel
            rows.append({"unit": u, "day": t, "cl": u % 3, "d": d, "y": y})
    return pd.DataFrame(rows)


def _enumerated_webb_pvalue(frame: pd.DataFrame) -> float:
    """The exact restricted wild bootstrap p, by brute force on the dummy-variable regression:
    every one of the 6^G Webb vectors, |t*| >= |t| (ties counted)."""
    import itertools

    x = pd.get_dummies(frame[["unit", "day"]].astype(str), drop_first=True).astype(float)
    x.insert(0, "d", frame.d.astype(float))
    x.insert(0, "const", 1.0)
    xm, y, g = x.to_numpy(), frame.y.to_numpy(), frame.cl.to_numpy()
    xtx_inv = np.linalg.inv(xm.T @ xm)

    def t_stat(yy: np.ndarray) -> float:
        beta = xtx_inv @ xm.T @ yy
        u = yy - xm @ beta
        scores = np.array([xm[g == k].T @ u[g == k] for k in range(3)])
        return beta[1] / np.sqrt((xtx_inv @ scores.T @ scores @ xtx_inv)[1, 1])

    xr = np.delete(xm, 1, axis=1)
    fitted = xr @ np.linalg.lstsq(xr, y, rcond=None)[0]
    t0 = abs(t_stat(y))
    webb = np.sqrt(np.array([1.5, 1.0, 0.5, 0.5, 1.0, 1.5])) * np.array([-1, -1, -1, 1, 1, 1])
    stars = [
        abs(t_stat(fitted + (y - fitted) * np.array(v)[g]))
        for v in itertools.product(webb, repeat=3)
    ]
    return float(np.mean(np.array(stars) >= t0 * (1 - 1e-9)))


def test_few_cluster_bootstrap_counts_ties_and_enumerates() -> None:
    import statsmodels.formula.api as smf
    from wildboottest.wildboottest import wildboottest

    frame = _three_cluster_panel()
    spec = EffectSpec(outcome="y", treatment="d", unit="unit", time="day", cluster="cl")
    res = estimate_did(frame, spec)
    exact = _enumerated_webb_pvalue(frame)
    assert exact == pytest.approx(6 / 216)  # only the six tied vectors, as R27 found
    assert res.statistics["wild_bootstrap_draws"] == 216  # 6^3 vectors, every one
    assert res.pvalue == pytest.approx(exact, rel=1e-12)  # was 1/10,000
    model = smf.ols("y ~ d + C(unit) + C(day)", frame)
    ref = wildboottest(
        model, param="d", cluster=frame.cl.to_numpy(), B=9999, weights_type="webb",
        seed=1, show=False,
    )  # fmt: skip
    # 9,999 random Webb draws of the same 216-point distribution: Monte Carlo error ~0.0017
    assert res.pvalue == pytest.approx(float(ref["p-value"].iloc[0]), abs=0.006)
    assert any("cannot fall below 0.028" in w for w in res.warnings)
    # At 1% no effect size is rejectable with 3 clusters: the interval is the whole line.
    strict = estimate_did(frame, spec, alpha=0.01)
    assert strict.ci_lower == -np.inf and strict.ci_upper == np.inf and not strict.supported
