"""Hansen's sup-score test of "no effect" (:mod:`causal_svc.attribution.null_test`): its pieces
against the objective's own residuals and Jacobian, its bootstrap's size on simulated scores,
and the rule that sets a lower bound to zero when it does not reject."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from causal_svc.attribution import AdstockKind, Evaluator, MMMFit, ModelSpec, analyze, fit_mmm
from causal_svc.attribution.null_test import NullTest, SupScore, shape_grid, sup_score
from causal_svc.attribution.objective import MediaState
from causal_svc.attribution.scores import channel_scores, response_curves

from .world import World


def _check_pieces(fit: MMMFit) -> None:
    """The restricted residuals and the β column under any grid shape are the objective's."""
    ev = Evaluator(fit)
    sup = SupScore(fit, fit.small_sample().clusters, ev.state)
    obj = fit.objective
    for c in range(fit.layout.n_channels):
        theta0 = fit.theta.copy()
        theta0[c] = 0.0
        st = sup.state
        st0 = MediaState(st.h, st.m - fit.theta[c] * st.h[c], [], None)
        r0 = sup._residuals(theta0, st0)
        np.testing.assert_allclose(r0, obj.evaluate(theta0, jacobian=False)[0], atol=1e-10)
        grid = shape_grid(fit, c)
        picks = grid[[0, -1]]
        x = sup._beta_columns(theta0, st0, c, picks)
        for i, u in enumerate(picks):
            tg = theta0.copy()
            tg[fit.layout.nonlinear(c)] = u
            _, jac = obj.evaluate(tg, jacobian=True)
            assert jac is not None
            np.testing.assert_allclose(x[i], jac[:, c], rtol=1e-9, atol=1e-12 * np.abs(jac).max())


def test_pieces_match_the_objective(demo_fit: MMMFit) -> None:
    _check_pieces(demo_fit)


def test_pieces_match_with_a_lift_test_and_weibull_adstock(demo: World) -> None:
    # The calibrated channel's lift rows depend on its shape through the counterfactual, and
    # a two-parameter adstock makes a larger grid: the code must not assume either away.
    assert demo.experiment is not None
    spec = ModelSpec(adstock={demo.experiment.channel: AdstockKind.WEIBULL})
    fit = fit_mmm(demo.panel, spec, [demo.experiment])
    c = demo.panel.channels.index(demo.experiment.channel)
    k = fit.layout.kinds[c].n_params + 2
    assert shape_grid(fit, c).shape == (1 + 2 * k + 2**k, k)
    _check_pieces(fit)


def test_pieces_match_with_a_student_t_effect_prior(demo: World) -> None:
    # A Student-t effect prior's rows are a transform of the standardised effect: their
    # residuals and slopes must be the objective's, not the normal row's.
    spec = ModelSpec(priors=dataclasses.replace(ModelSpec().priors, effect_df=3.0))
    _check_pieces(fit_mmm(demo.panel, spec))


def test_grid_is_a_central_composite_design_in_the_prior_box(demo_fit: MMMFit) -> None:
    layout = demo_fit.layout
    grid = shape_grid(demo_fit, 0)
    sl = layout.nonlinear(0)
    means = layout.initial()[sl]
    lo, hi = (b[sl] for b in layout.bounds())
    np.testing.assert_array_equal(grid[0], means)
    assert np.all(grid >= lo) and np.all(grid <= hi)
    assert len({tuple(g) for g in grid}) == grid.shape[0]


@pytest.mark.parametrize("n_shapes", [1, 12])
def test_bootstrap_has_its_size_on_simulated_null_scores(n_shapes: int) -> None:
    # Scores of correlated "shapes" over 20 clusters of 7 rows plus two known rows, errors
    # drawn under the null: p ≤ 5% should happen ~5% of the time. With one shape it is a
    # plain score test; with twelve correlated ones the supremum's tail is heavier, and a
    # bootstrap that redrew per shape (or used the normal quantile) would miss it.
    rng = np.random.default_rng(3)
    n_data, n_known = 140, 2
    clusters = np.arange(n_data) // 7
    is_data = np.r_[np.ones(n_data, bool), np.zeros(n_known, bool)]
    base = rng.normal(size=(3, n_data + n_known))
    x = rng.normal(size=(n_shapes, 3)) @ base + 0.3 * rng.normal(size=(n_shapes, n_data + n_known))
    dfs = np.array([np.inf, 30.0])
    reps = 300
    rejections = 0
    naive = 0
    for _ in range(reps):
        # Week-correlated errors (a shared cluster shock) and the known rows' stated ones.
        e = rng.normal(size=n_data) + np.repeat(rng.normal(size=20), 7)
        resid = np.r_[e, rng.normal(), rng.standard_t(30.0)]
        stat, p = sup_score(
            x, resid, clusters, is_data, dfs, draws=499, seed=int(rng.integers(1 << 30))
        )
        rejections += p <= 0.05
        naive += stat > 1.645
    assert 0.02 <= rejections / reps <= 0.09
    if n_shapes > 1:
        # The supremum over shapes exceeds the one-shape critical value far more often.
        assert naive / reps > 0.09


def test_a_lower_bound_stays_only_where_the_test_rejects(demo_fit: MMMFit) -> None:
    ev = Evaluator(demo_fit)
    significant = [
        c for c in range(demo_fit.layout.n_channels) if ev.interval(*ev.effect(c)).lower > 0
    ]
    paid = [c for c in significant if demo_fit.panel.spend[c].sum() > 0]
    assert paid, "the demo fit should find some paid channel significant"
    c = paid[0]
    wald = ev.interval(*ev.effect(c))
    kept, test = ev.claim(c, wald)
    assert test is not None and test.p_value <= 0.05 and kept == wald
    # Where the test does not reject, the lower bound goes to zero, everywhere the
    # channel's effect is claimed, and the score says why.
    ev._tests[c] = dataclasses.replace(test, p_value=0.4)
    dropped, _ = ev.claim(c, wald)
    assert dropped.lower == 0.0 and dropped.upper == wald.upper
    assert dropped.estimate == wald.estimate and dropped.stderr == wald.stderr
    scores, _ = channel_scores(ev)
    s = scores[c]
    assert s.incremental.lower == 0.0 and s.null_test is not None
    assert s.iroas is not None and s.iroas.lower == 0.0
    assert s.marginal_roas is None or s.marginal_roas.lower == 0.0
    assert "does not reject (p = 0.40" in s.note and s.channel in s.note
    assert np.all(response_curves(ev)[c].lower == 0.0)
    # The gate is one-sided at the interval's level (the lower bound of a 90% interval needs
    # p <= 0.05): just above it the bound goes, at and just below it the bound stays
    # (R36-F6: a two-sided 0.10 would keep bounds on 0.05 < p <= 0.10).
    alpha = (1.0 - wald.level) / 2.0
    for p, stays in ((alpha * 1.01, False), ((1.0 - wald.level) * 0.99, False),
                     (alpha, True), (alpha * 0.99, True)):  # fmt: skip
        ev._tests[c] = dataclasses.replace(test, p_value=p)
        got, _ = ev.claim(c, wald)
        assert (got == wald) if stays else (got.lower == 0.0 and got.upper == wald.upper), p
    # Channels whose Wald interval already starts at zero are not tested at all.
    others = [k for k in range(demo_fit.layout.n_channels) if k not in significant]
    for k in others:
        assert scores[k].null_test is None and scores[k].note == ""


def test_a_strong_channel_is_rejected(demo_fit: MMMFit) -> None:
    ev = Evaluator(demo_fit)
    zs = []
    for c in range(demo_fit.layout.n_channels):
        i = ev.interval(*ev.effect(c))
        zs.append(i.estimate / max(i.stderr, 1e-300))
    c = int(np.argmax(zs))
    assert zs[c] > 3
    test = ev.null_test(c)
    assert isinstance(test, NullTest) and test.p_value < 0.01 and test.shapes == 15


def test_the_report_says_why_a_lower_bound_is_zero(
    demo: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A test that never rejects: every Wald claim is withdrawn, and the warnings say so.
    def never(self: SupScore, channel: int, **_: object) -> NullTest:
        return NullTest(0.0, 1.0, 15, 9)

    monkeypatch.setattr(SupScore, "test", never)
    rep = analyze(demo.panel, ModelSpec())
    noted = [c for c in rep.channels if c.note]
    assert noted, "the demo analysis should have had a Wald claim to withdraw"
    for c in rep.channels:
        assert c.incremental.lower == 0.0
        assert c.iroas is None or c.iroas.lower == 0.0
    for c in noted:
        assert c.note in rep.warnings and "p = 1.00" in c.note
