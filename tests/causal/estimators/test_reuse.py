"""The refuters' re-estimates of cross-fitted estimators: placebo treatments and data subsets
answered from the fit's out-of-fold residuals or scores, everything else refitted."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from causal_svc.estimators import dml, weighting
from causal_svc.estimators.result import CheckKind, EffectSpec, Method
from causal_svc.methods import EstimationOptions
from causal_svc.pipeline import estimate_effect

SPEC = EffectSpec(outcome="y", treatment="d", covariates=("x1", "x2"))


# The two cross-fitted estimators whose refuters reuse the fit.
CROSS_FITTED = pytest.mark.parametrize(
    "fit",
    [
        lambda f: dml.fit_with_reuse(f, SPEC, model_y="linear", model_t="linear"),
        lambda f: weighting.fit_with_reuse(f, SPEC),
    ],
    ids=["dml", "aipw"],
)


def _frame(n: int = 800, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    d = (rng.uniform(size=n) < 1 / (1 + np.exp(-x1))).astype(int)
    y = 2.0 * d + x1 + 0.5 * x2 + rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "x2": x2, "d": d, "y": y}, index=np.arange(n) * 3)


@CROSS_FITTED
def test_placebo_and_subsets_come_from_the_fit_and_the_rest_refits(fit) -> None:  # type: ignore[no-untyped-def]
    frame = _frame()
    estimate, refit = fit(frame)
    rng = np.random.default_rng(1)
    placebo = frame.assign(d=rng.permutation(frame["d"].to_numpy()))
    effects = [refit(placebo.assign(d=rng.permutation(frame["d"].to_numpy())), SPEC).point_estimate
               for _ in range(20)]  # fmt: skip
    assert abs(np.mean(effects)) < 0.1 and np.std(effects) < 3 * estimate.stderr
    subset = frame.sample(600, random_state=2)
    part = refit(subset, SPEC)
    assert abs(part.point_estimate - estimate.point_estimate) < 4 * estimate.stderr
    # the subset answered from the fit equals nothing refitted: a full refit differs a little
    full_refit = dml.estimate_dml if estimate.method is Method.DML else weighting.estimate_aipw
    assert part.point_estimate != pytest.approx(full_refit(subset, SPEC).point_estimate, rel=1e-12)
    # an added covariate (the random common cause) must be seen by every nuisance: refitted
    noisy = frame.assign(u=rng.normal(size=len(frame)))
    spec_u = EffectSpec(outcome="y", treatment="d", covariates=("x1", "x2", "u"))
    assert refit(noisy, spec_u).point_estimate == pytest.approx(
        full_refit(noisy, spec_u, **({"model_y": "linear", "model_t": "linear"}
                                     if estimate.method is Method.DML else {})).point_estimate
    )  # fmt: skip
    # the unperturbed frame is not a placebo: refitted, so it reproduces the estimate
    again = refit(frame, SPEC).point_estimate
    assert again == pytest.approx(estimate.point_estimate, rel=1e-9)


def test_pipeline_checks_of_dml_refit_once_for_the_random_common_cause() -> None:
    frame = _frame(600)
    result = estimate_effect(
        frame, SPEC, Method.DML, options=EstimationOptions(dml_forest=False)
    ).estimate
    checks = {c.kind: c for c in result.checks}
    assert "over 1 draws" in checks[CheckKind.RANDOM_COMMON_CAUSE].interpretation
    assert checks[CheckKind.PLACEBO_TREATMENT].outcome.value == "passed"
    assert checks[CheckKind.DATA_SUBSET].outcome.value == "passed"


@CROSS_FITTED
def test_a_placebo_on_the_outcome_less_the_effect_comes_from_the_fit(fit) -> None:  # type: ignore[no-untyped-def]
    frame = _frame()
    estimate, refit = fit(frame)
    refits: list[int] = []

    def counted(f: pd.DataFrame, s: EffectSpec):  # type: ignore[no-untyped-def]
        refits.append(1)
        return refit.fallback(f, s)

    reuse = dataclasses.replace(refit, fallback=counted)
    theta = estimate.point_estimate
    untreated = frame.assign(y=frame["y"] - theta * frame["d"])  # what the placebo check runs on
    rng = np.random.default_rng(3)
    effects = np.array([
        reuse(untreated.assign(d=rng.permutation(frame["d"].to_numpy())), SPEC).point_estimate
        for _ in range(40)
    ])  # fmt: skip
    assert not refits
    # the real effect is out of both placebo arms: centred on zero, spread about the SE
    assert abs(effects.mean()) < 3 * estimate.stderr / np.sqrt(40)
    assert 0.6 < effects.std(ddof=1) / estimate.stderr < 1.5
    # any other change of the outcome is no such placebo: refitted
    reuse(untreated.assign(y=untreated["y"] + rng.normal(size=len(frame)) * 1e-3,
                           d=rng.permutation(frame["d"].to_numpy())), SPEC)  # fmt: skip
    assert refits == [1]
