"""The covariance's small-sample corrections on national rows, checked against their
definitions computed from scratch: Bell–McCaffrey's CR2 variance of an effect, and the
Satterthwaite degrees of freedom against the spread of that variance estimator over simulated
errors."""

from __future__ import annotations

import dataclasses

import numpy as np

from causal_svc.attribution import (
    Evaluator,
    LiftTest,
    MMMFit,
    ModelSpec,
    fit_mmm,
    restore_fit,
    state_from_bytes,
    state_to_bytes,
)
from tests.support import pickled_without

from .world import World


def _pieces(fit: MMMFit) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Data residuals and Jacobian, the bread, the data rows' hat matrix and week clusters."""
    obj = fit.objective
    r, jac = obj.evaluate(fit.theta, jacobian=True)
    assert jac is not None and obj.national
    n = obj.n_data
    bread = np.linalg.pinv(jac.T @ jac, rcond=1e-12, hermitian=True)
    qn = obj.projection.national_basis
    hat = qn @ qn.T + jac[:n] @ bread @ jac[:n].T
    return r[:n], jac, bread, hat, np.arange(n) // 7


def _adjust(block: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(np.eye(block.shape[0]) - block)
    keep = vals > 1e-8
    return (vecs[:, keep] / np.sqrt(vals[keep])) @ vecs[:, keep].T


def test_effect_variance_is_bell_mccaffrey_cr2(demo_fit: MMMFit) -> None:
    ev = Evaluator(demo_fit)
    rd, jac, bread, hat, weeks = _pieces(demo_fit)
    n = rd.size
    for c in range(demo_fit.layout.n_channels):
        _, grad = ev.effect(c)
        a = jac[:n] @ bread @ grad  # each data row's weight in the effect
        data = sum(
            float(a[weeks == g] @ _adjust(hat[np.ix_(weeks == g, weeks == g)]) @ rd[weeks == g])
            ** 2
            for g in range(weeks.max() + 1)
        )
        known = float(np.sum((jac[n:] @ bread @ grad) ** 2))
        np.testing.assert_allclose(grad @ demo_fit.cov @ grad, data + known, rtol=1e-6)


def test_satterthwaite_df_matches_the_spread_of_the_variance_estimator(demo_fit: MMMFit) -> None:
    """Under the working model (independent errors of one variance) the CR2 variance of a
    quantity is a quadratic form in the errors; its mean and variance over draws give the
    degrees of freedom the intervals use."""
    ev = Evaluator(demo_fit)
    small = demo_fit.small_sample()
    rd, jac, bread, hat, weeks = _pieces(demo_fit)
    n = rd.size
    _, grad = ev.effect(demo_fit.panel.channels.index("google_search"))
    a = jac[:n] @ bread @ grad
    rng = np.random.default_rng(3)
    errors = rng.normal(0.0, 1.0, (4000, n))
    resid = errors @ (np.eye(n) - hat)
    v = np.zeros(len(errors))
    for g in range(weeks.max() + 1):
        sel = weeks == g
        v += (resid[:, sel] @ _adjust(hat[np.ix_(sel, sel)]) @ a[sel]) ** 2
    data_only = dataclasses.replace(small, known=np.zeros_like(small.known), sigma2=1.0)
    df = data_only.df(grad)
    assert 1.0 <= df <= weeks.max() + 1  # (tr Ω)² / tr Ω² is at most the rank of Ω
    np.testing.assert_allclose(df, 2 * v.mean() ** 2 / v.var(), rtol=0.1)


def test_an_experiments_estimated_stderr_lowers_the_df_of_what_rests_on_it(demo: World) -> None:
    """A lift test whose standard error was estimated from ν degrees of freedom adds its
    variance share's ``v² / ν`` to the Satterthwaite spread; as ν grows the df returns to
    that of a known standard error, and the interval widens only through the quantile."""
    exp = demo.experiment
    assert exp is not None and np.isfinite(exp.df) and exp.df > 1  # the DiD's Welch df
    c = demo.panel.channels.index(exp.channel)
    known = fit_mmm(demo.panel, ModelSpec(), [dataclasses.replace(exp, df=float("inf"))])
    fit = fit_mmm(demo.panel, ModelSpec(), [exp])
    np.testing.assert_array_equal(fit.theta, known.theta)  # df touches no estimate
    np.testing.assert_array_equal(fit.cov, known.cov)
    _, grad = Evaluator(fit).effect(c)
    small, small_known = fit.small_sample(), known.small_sample()
    df, df_known = small.df(grad), small_known.df(grad)
    # From scratch: the working model's variance of the estimate and the spread of its
    # data part (Ω over week clusters), then the test's row (the Jacobian's last).
    _, jac, bread, _, weeks = _pieces(fit)
    n = fit.objective.n_data
    a = jac[:n] @ bread @ grad
    assert small.gram is not None
    omega = np.array([[float(a[weeks == g] @ small.gram[np.ix_(weeks == g, weeks == h)]
                             @ a[weeks == h]) for h in range(weeks.max() + 1)]
                      for g in range(weeks.max() + 1)])  # fmt: skip
    b = bread @ grad
    total = small.sigma2 * np.trace(omega) + float(np.sum((jac[n:] @ b) ** 2))
    spread = small.sigma2**2 * float((omega * omega).sum())
    share = float((jac[-1] @ b) ** 2)
    assert 0.0 < share < total
    np.testing.assert_allclose(df_known, total**2 / spread, rtol=1e-8)
    np.testing.assert_allclose(df, total**2 / (spread + share**2 / exp.df), rtol=1e-8)
    assert df < df_known
    big = fit_mmm(demo.panel, ModelSpec(), [dataclasses.replace(exp, df=1e12)])
    np.testing.assert_allclose(big.small_sample().df(grad), df_known, rtol=1e-6)
    wide = Evaluator(fit).interval(*Evaluator(fit).effect(c), floor=None)
    narrow = Evaluator(known).interval(*Evaluator(known).effect(c), floor=None)
    assert wide.upper - wide.lower > narrow.upper - narrow.lower
    assert wide.stderr == narrow.stderr


def test_a_state_stored_before_lift_tests_had_df_restores(demo: World) -> None:
    """Stored analyses pickled a LiftTest without ``df``; restoring one must not fail."""
    exp = demo.experiment
    assert exp is not None
    fit = fit_mmm(demo.panel, ModelSpec(), [exp])
    # Fields are appended, so an older pickle lacks the trailing ones: those before df
    # (s13), and those before the lift-test conventions' spends (s17: counterfactual_spend,
    # spend_added, spend_removed).
    later = ("counterfactual_spend", "spend_added", "spend_removed")
    for missing in (("df", "spend_change", "treatment_units", *later), later):
        with pickled_without(LiftTest, missing):
            blob = state_to_bytes(fit.state())
        restored = state_from_bytes(blob)
        expected_df = float("inf") if "df" in missing else fit.state().lift_tests[0].df
        assert restored.lift_tests[0].df == expected_df
        assert restored.lift_tests[0].lift == exp.lift
        assert restored.lift_tests[0].spend_removed == 0.0
        again = restore_fit(restored)
        np.testing.assert_array_equal(again.theta, fit.theta)
