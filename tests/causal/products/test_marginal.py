"""The marginal return of a channel x category cell and its interval (issue 20, F13): the
slope of the response at the period's spend, drawn over the curve's slope, saturation and
decay together — not the revenue interval rescaled — and what Recommend's product moves do
with it on the world where the rescaled interval moved spend the wrong way."""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import sim
from bench.products_moves import (
    _category_spend,
    after_moves,
    before_marginal,
    before_moves,
    true_margin_change,
    true_marginal,
)
from causal_svc.products import estimate_products
from causal_svc.products.category import (
    CategoryProblem,
    _marginal_draws,
    _marginal_many,
    average_saturation,
    fit_category,
    marginal_return,
    per_product,
)
from causal_svc.products.design import DECAYS, adstock
from sim.products import PRODUCT_CHANNELS


def _spend(rng: np.random.Generator, products: int = 3, days: int = 200) -> np.ndarray:
    """Flighted daily spend: on/off weeks, a level per product."""
    on = np.repeat(rng.random((products, days // 7 + 1)) < 0.6, 7, axis=1)[:, :days]
    return on * rng.lognormal(np.log(500.0), 0.4, (products, days))


def _response(spend: np.ndarray, decay: float, k: float, b: np.ndarray, scale: float) -> float:
    """sum_p b[p] sum_t share K hill(A/K) with every day's spend scaled, K held."""
    ad = adstock(spend * scale, decay)
    total = ad.sum(axis=0)
    share = np.where(total > 0, ad / np.where(total > 0, total, 1.0), 0.0)
    return float(b @ (share * (total / (1.0 + total / k))).sum(axis=1))


def test_the_marginal_is_the_slope_of_the_response_along_the_period_s_spend() -> None:
    rng = np.random.default_rng(1)
    spend = _spend(rng)
    decay, log_m, b = 0.35, np.log(1.5), np.array([2.0, 3.0, 0.5])
    _, _, k = per_product(spend, decay, log_m)
    marginal, initial = marginal_return(spend, decay, log_m, b)
    eps = 1e-4
    slope = (_response(spend, decay, k, b, 1 + eps) - _response(spend, decay, k, b, 1 - eps)) / (
        2 * eps * spend.sum()
    )
    assert marginal == pytest.approx(slope, rel=1e-5)
    # the slope at zero: the same with no saturation, above the slope at the spend
    at_zero = (_response(spend, decay, k, b, 1e-7) - _response(spend, decay, k, b, 0.0)) / (
        1e-7 * spend.sum()
    )
    assert initial == pytest.approx(at_zero, rel=1e-4)
    assert initial > 1.5 * marginal  # K = 1.5 x mean adstock: well into the curve


def _category(rng: np.random.Generator, log_m: float) -> tuple[CategoryProblem, float, Any]:
    spend = _spend(rng)
    decay, b = 0.3, np.array([2.5, 2.5, 2.5])
    z, _, _ = per_product(spend, decay, log_m)
    days = spend.shape[1]
    t = np.arange(days) / days
    y = 20_000 + 3_000 * t + b @ z + rng.normal(0, 900, days)
    problem = CategoryProblem(y, np.column_stack([np.ones(days), t]), [spend])
    theta = problem.grid(np.array([0.3, np.log(10.0)]), 0, DECAYS)[1]
    fit = fit_category(problem, theta, hac_lags=7)
    return problem, marginal_return(spend, decay, log_m, b)[0], fit


def test_draws_carry_the_saturation_s_uncertainty_into_the_marginal() -> None:
    problem, _, fit = _category(np.random.default_rng(3), np.log(1.5))
    point = marginal_return(problem.spend[0], fit.decay[0], fit.log_m[0], fit.coef[0])[0]
    draws = _marginal_draws(problem, fit, 400, np.random.default_rng(0))[:, 0]
    assert draws.std() > 0 and np.median(draws) == pytest.approx(point, rel=0.15)
    # with the transform known (the coefficients' covariance given it) the spread is narrower
    assert fit.coef_theta_cov is not None
    n_b = int(problem.live[0].sum())
    v = fit.coef_theta_cov
    held = np.zeros_like(v)
    held[:n_b, :n_b] = v[:n_b, :n_b] - v[:n_b, n_b:] @ np.linalg.pinv(v[n_b:, n_b:]) @ v[n_b:, :n_b]
    known = _marginal_draws(
        problem, replace(fit, coef_theta_cov=held), 400, np.random.default_rng(0)
    )[:, 0]
    assert np.subtract(*np.percentile(draws, [95, 5])) > 1.5 * np.subtract(
        *np.percentile(known, [95, 5])
    )


def test_the_interval_covers_the_true_marginal_on_synthetic_categories() -> None:
    covered = []
    with threadpool_limits(1):
        for seed in range(24):
            rng = np.random.default_rng(100 + seed)
            problem, truth, fit = _category(rng, np.log(rng.choice([1.0, 2.0, 4.0])))
            _, _, m = average_saturation(problem, fit, hac_lags=7, alpha=0.10)
            assert m.low[0] <= m.estimate[0] <= m.high[0]
            covered.append(m.low[0] <= truth <= m.high[0])
    assert np.mean(covered) >= 0.8, covered


@pytest.fixture(scope="module")
def audited() -> tuple[Any, Any, Any]:
    """R2's F13 world: products seed 1, 120 days, 5 geos."""
    r = sim.simulate("products", seed=1, days=120, n_geos=5, dirt=False)
    assert r.products is not None
    # statsmodels warns of a negative variance in one pair equation's HAC errors on this world
    # (a pair's interval; nothing this test reads)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        est = estimate_products(r.products.panel, channels=PRODUCT_CHANNELS)
    return r.products.panel, r.products.truth["orgs"]["org_001"], est


def test_the_losing_footwear_to_accessories_move_is_withheld(audited: Any) -> None:
    panel, truth, est = audited
    cells = [c for c in est.cells if c.spend > 0]
    days = est.nobs
    # the rule before: the rescaled intervals separate and the move truly loses margin
    old = {(m.channel, m.giver, m.receiver): m for m in before_moves(cells, days)}
    wrong = old[("meta_catalogue", "Footwear", "Accessories")]
    assert wrong.claimed.lower > 0 > true_margin_change(truth, panel, wrong)
    new = after_moves(cells, days, 1.0 - est.alpha)
    assert ("meta_catalogue", "Footwear", "Accessories") not in {
        (m.channel, m.giver, m.receiver) for m in new
    }
    for m in new:
        assert true_margin_change(truth, panel, m) > 0, m


def test_the_drawn_intervals_cover_where_the_rescaled_ones_missed(audited: Any) -> None:
    panel, truth, est = audited
    old, new = [], []
    for c in est.cells:
        if c.spend == 0:
            assert np.isnan(c.marginal_roas)
            continue
        t = true_marginal(truth, _category_spend(panel, c.channel, c.category), c.channel,
                          c.category)  # fmt: skip
        b = before_marginal(c, est.nobs)
        old.append(b.lower <= t <= b.upper)
        new.append(c.marginal_low <= t <= c.marginal_high)
        assert c.marginal_low <= c.marginal_roas <= c.marginal_high
    assert sum(old) <= 5 and sum(new) >= 8, (old, new)


def test_the_draws_at_once_agree_with_one_at_a_time() -> None:
    rng = np.random.default_rng(5)
    spend = _spend(rng)
    spend[1, :30] = 0.0  # a product launched late
    decay = np.array([0.0, 0.2, 0.55, 0.9])
    log_m = np.array([np.log(0.25), 0.0, np.log(3.0), np.log(10.0)])
    coef = rng.normal(2.0, 1.0, (4, 3))
    many = _marginal_many(spend, decay, log_m, coef)
    one = [
        marginal_return(spend, float(d), float(m), b)[0]
        for d, m, b in zip(decay, log_m, coef, strict=True)
    ]
    np.testing.assert_allclose(many, one, rtol=1e-10)


def test_the_draws_can_say_nearly_linear_beyond_the_fit_s_bound() -> None:
    """A fit on its 10x saturation bound (the truth is 50x): the draws of the saturation that
    say "less saturated" must reach past 10x. Clipped at the fit's bound, every such draw gave
    10x's slope (0.83 of linear at the mean), so the interval could not reach a nearly linear
    curve; on the simulator's worlds every miss lay below the truth."""
    problem, _, fit = _category(np.random.default_rng(7), np.log(50.0))
    n_b = int(problem.live[0].sum())
    theta = fit.theta.copy()
    theta[1] = np.log(10.0)
    # only the saturation uncertain (its sd 0.5 in log): the coefficients and decay held
    cov = np.zeros((n_b + 2, n_b + 2))
    cov[n_b + 1, n_b + 1] = 0.25
    held = replace(fit, theta=theta, coef_theta_cov=cov)
    draws = _marginal_draws(problem, held, 400, np.random.default_rng(0))[:, 0]
    at_bound = marginal_return(problem.spend[0], fit.decay[0], np.log(10.0), fit.coef[0])[0]
    linear = marginal_return(problem.spend[0], fit.decay[0], np.log(1e6), fit.coef[0])[0]
    above = draws > at_bound * (1 + 1e-9)
    assert 0.4 < above.mean() < 0.6  # the half of the draws above the bound
    assert at_bound < np.percentile(draws, 95) < linear
