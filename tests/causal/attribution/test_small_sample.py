"""The covariance's small-sample corrections on national rows, checked against their
definitions computed from scratch: Bell–McCaffrey's CR2 variance of an effect, and the
Satterthwaite degrees of freedom against the spread of that variance estimator over simulated
errors."""

from __future__ import annotations

import dataclasses

import numpy as np

from causal_svc.attribution import Evaluator, MMMFit


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
