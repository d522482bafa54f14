"""Counterfactual intervals under the test of no effect (issue 15): a change the attribution
table does not establish is not claimed by a plan either, single channel or total."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import t as student_t

from causal_svc.attribution import (
    Evaluator,
    Identification,
    MMMFit,
    ModelSpec,
    SpendChange,
    counterfactual,
    fit_mmm,
    plan,
)
from causal_svc.attribution.inference import delta_interval, union_of_sums
from causal_svc.attribution.null_test import NullTest, SupScore
from causal_svc.attribution.scores import channel_scores

from .world import World

# A test that does not reject at any usual level, and one that rejects at all of them.
ACCEPTS = NullTest(0.1, 0.4, 15, 1999)
REJECTS = NullTest(5.0, 0.0005, 15, 1999)


def _flattered(fit: MMMFit) -> tuple[int, float, float]:
    """The channel with an effect the Wald interval calls (one-sided p < 0.2) whose sup-score
    p-value exceeds its Wald one most: (channel, Wald p, sup-score p)."""
    rows = [r for r in _wald_and_sup(fit) if r[1] < 0.2]
    assert rows, "the demo fit should call some channel"
    return max(rows, key=lambda r: r[2] - r[1])


def _wald_and_sup(fit: MMMFit) -> list[tuple[int, float, float]]:
    """(channel, one-sided Wald p-value of its effect, sup-score p-value), for every channel."""
    ev = Evaluator(fit)
    out = []
    for c in range(fit.layout.n_channels):
        value, grad = ev.effect(c)
        se = ev.interval(value, grad).stderr
        z = value / max(se, 1e-300)
        test = ev.null_test(c)
        assert test is not None
        out.append((c, float(student_t.sf(z, ev.df(grad))), test.p_value))
    return out


def test_where_the_test_holds_a_channel_at_zero_without_it_claims_no_loss(demo_fit) -> None:
    # A channel the shape search flatters: its sup-score p-value above its Wald one. At a
    # level between the two, the Wald interval claims a loss and the test does not reject.
    c, p_wald, p_sup = _flattered(demo_fit)
    assert p_sup > p_wald, "the demo fit should have a channel to gate"
    level = 1.0 - (p_wald + p_sup)  # one-sided level halfway between the two
    name = demo_fit.panel.channels[c]
    r = plan(demo_fit.state(), [SpendChange(name, multiplier=0.0)], level=level)
    assert r.delta.level == pytest.approx(level)
    # The delta-method interval alone would claim a loss; the answer does not.
    ev = Evaluator(demo_fit)
    value, grad = ev.effect(c)
    plain = delta_interval(-value, -grad, demo_fit.cov, level, df=ev.df(grad), floor=None)
    assert plain.upper < 0
    assert r.delta.upper == 0.0 and r.channels[0].delta.upper == 0.0
    assert r.delta.lower == pytest.approx(plain.lower) and r.delta.estimate == pytest.approx(-value)
    assert r.counterfactual_outcome.upper == pytest.approx(r.reference_outcome.estimate)
    assert any(name in w and f"p = {p_sup:.3g}" in w for w in r.warnings)
    # At a level the test rejects at, the loss stands and nothing is said.
    strict = 1.0 - 2.2 * p_sup
    if plain.upper < 0 and p_sup <= (1 - strict) / 2:
        kept = plan(demo_fit.state(), [SpendChange(name, multiplier=0.0)], level=strict)
        assert kept.delta.upper < 0 and kept.warnings == ()


def test_without_a_gated_channel_matches_its_row_in_the_table(demo_fit) -> None:
    ev = Evaluator(demo_fit)
    scores, _ = channel_scores(ev)
    c = next(k for k, s in enumerate(scores) if s.incremental.lower > 0)
    name = demo_fit.panel.channels[c]
    for test, gated in ((ACCEPTS, True), (REJECTS, False)):
        ev = Evaluator(demo_fit, {c: test})
        row = channel_scores(ev)[0][c].incremental
        r = counterfactual(ev, [SpendChange(name, multiplier=0.0)])
        # "Without X" over the analysed period is minus X's incremental outcome, bounds too.
        assert r.delta.estimate == pytest.approx(-row.estimate, rel=1e-9)
        assert r.delta.lower == pytest.approx(-row.upper, rel=1e-9)
        assert r.delta.upper == pytest.approx(-row.lower, abs=1e-9 * row.upper)
        assert (r.delta.upper == 0.0) == gated == (row.lower == 0.0)
        assert bool(r.warnings) == gated


def test_a_plan_total_includes_zero_only_where_no_changed_channel_is_established(
    demo_fit,
) -> None:
    ev = Evaluator(demo_fit)
    scores, _ = channel_scores(ev)
    claimed = [k for k, s in enumerate(scores) if s.incremental.lower > 0]
    assert len(claimed) >= 2, "the demo fit should establish two channels"
    a, b = claimed[:2]
    names = demo_fit.panel.channels
    cut = [SpendChange(names[a], multiplier=0.0), SpendChange(names[b], multiplier=0.5)]
    plain = counterfactual(Evaluator(demo_fit), cut)
    assert plain.delta.upper < 0 and plain.warnings == ()
    # Neither established: the total may be no loss at all, and the answer names both.
    both = counterfactual(Evaluator(demo_fit, {a: ACCEPTS, b: ACCEPTS}), cut)
    assert both.delta.estimate == pytest.approx(plain.delta.estimate, rel=1e-12)
    assert both.delta.upper == 0.0 and both.delta.lower <= plain.delta.lower
    assert any(names[a] in w and names[b] in w and "plan" in w for w in both.warnings)
    # One established: on this fit the plan's loss stands (the plain total already excludes
    # zero here; not a rule), at least as uncertain as that channel's alone.
    one = counterfactual(Evaluator(demo_fit, {a: REJECTS, b: ACCEPTS}), cut)
    alone = counterfactual(Evaluator(demo_fit), cut[:1])
    assert one.delta.upper < 0
    assert one.delta.upper >= max(plain.delta.upper, alone.delta.upper) - 1e-9
    assert one.delta.lower <= min(plain.delta.lower, alone.delta.lower) + 1e-9
    assert one.channels[0].delta == plain.channels[0].delta
    assert one.channels[1].delta.upper == 0.0


def test_a_raise_is_gated_on_its_gain_side(demo_fit) -> None:
    ev = Evaluator(demo_fit)
    scores, _ = channel_scores(ev)
    c = next(k for k, s in enumerate(scores) if s.incremental.lower > 0)
    name = demo_fit.panel.channels[c]
    plain = counterfactual(Evaluator(demo_fit), [SpendChange(name, multiplier=1.5)])
    assert plain.delta.lower > 0
    gated = counterfactual(Evaluator(demo_fit, {c: ACCEPTS}), [SpendChange(name, multiplier=1.5)])
    assert gated.delta.lower == 0.0 and gated.delta.upper == pytest.approx(plain.delta.upper)
    assert "no gain" in gated.warnings[0]


def test_stored_decisions_are_reused_not_recomputed(
    demo_fit, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, _, p_sup = _flattered(demo_fit)
    name = demo_fit.panel.channels[c]
    lazily = plan(demo_fit.state(), [SpendChange(name, multiplier=0.0)], level=0.5)

    def never(self: SupScore, channel: int, **_: object) -> NullTest:
        raise AssertionError("the stored test should have been used")

    monkeypatch.setattr(SupScore, "test", never)
    stored = NullTest(1.0, p_sup, 15, 1999)
    again = plan(demo_fit.state(), [SpendChange(name, multiplier=0.0)], level=0.5,
                 tests={name: stored, "not_a_channel": ACCEPTS})  # fmt: skip
    assert again == lazily


def test_union_of_sums_is_every_subsets_interval() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        k = 5
        values = rng.normal(0, 1, k)
        root = rng.normal(0, 0.5, (k, k))
        cov = root @ root.T
        dfs = rng.uniform(5, 50, k)
        total_df = float(rng.uniform(5, 50))
        drop = rng.random(k) < 0.6
        lo, hi = union_of_sums(values, cov, dfs, total_df, drop, 0.9)
        # Brute force: every subset of the droppable terms set to zero.
        idx = np.flatnonzero(drop)
        bounds = []
        for n in range(idx.size + 1):
            for z in itertools.combinations(idx, n):
                kept = np.setdiff1d(np.arange(k), z)
                if kept.size == 0:
                    bounds.append((0.0, 0.0))
                    continue
                df = (total_df if n == 0 else dfs[kept[0]] if kept.size == 1
                      else min(total_df, float(dfs[kept].min())))  # fmt: skip
                ones = np.zeros(k)
                ones[kept] = 1.0
                i = delta_interval(float(values[kept].sum()), ones, cov, 0.9, df=df, floor=None)
                bounds.append((i.lower, i.upper))
        assert lo == pytest.approx(min(b[0] for b in bounds), abs=1e-12)
        assert hi == pytest.approx(max(b[1] for b in bounds), abs=1e-12)
        # Beyond the exact limit, the enclosure holds every subset's interval.
        elo, ehi = union_of_sums(values, cov, dfs, total_df, drop, 0.9, exact=0)
        assert elo <= lo + 1e-12 and ehi >= hi - 1e-12
        # Nothing droppable: the total's own interval.
        plo, phi = union_of_sums(values, cov, dfs, total_df, np.zeros(k, dtype=bool), 0.9)
        assert (plo, phi) == pytest.approx(bounds[0])


def test_instrumented_claims_say_they_were_not_tested(demo: World) -> None:
    fit = fit_mmm(demo.panel, ModelSpec(identification=Identification.INSTRUMENTED))
    ev = Evaluator(fit)
    assert not ev.gate_available and ev.null_test(0) is None
    scores, _ = channel_scores(ev)
    claimed = [s for s in scores if s.incremental.lower > 0]
    assert claimed, "the instrumented demo fit should claim some channel"
    for s in scores:
        assert ("not available for instrumented" in s.note) == (
            s.incremental.lower > 0 or (s.marginal_roas is not None and s.marginal_roas.lower > 0)
        )
    r = counterfactual(ev, [SpendChange(claimed[0].channel, multiplier=0.0)])
    assert r.delta.upper < 0
    assert len(r.warnings) == 1 and claimed[0].channel in r.warnings[0]
    assert "not available for instrumented" in r.warnings[0]


def test_intervals_keep_to_the_sign_the_model_allows(demo_fit) -> None:
    # Responses rise with spend, so a cut never adds outcome and a raise never loses it; the
    # delta-method interval of a weakly measured channel crosses zero and is cut there.
    names = demo_fit.panel.channels
    ev = Evaluator(demo_fit)
    crossed = 0
    for c, name in enumerate(names):
        value, grad = ev.effect(c)
        crossed += delta_interval(-value, -grad, demo_fit.cov, 0.9, df=ev.df(grad),
                                  floor=None).upper > 0  # fmt: skip
        cut = counterfactual(ev, [SpendChange(name, multiplier=0.0)])
        raise_ = counterfactual(ev, [SpendChange(name, multiplier=1.5)])
        for r, sign in ((cut, -1.0), (raise_, 1.0)):
            for iv in (r.delta, r.channels[0].delta):
                assert iv.lower <= iv.estimate <= iv.upper
                assert (iv.upper <= 0.0) if sign < 0 else (iv.lower >= 0.0)
    assert crossed, "the demo fit should have a channel whose plain interval crosses zero"
    # A plan that cuts one channel and raises another keeps its two-sided interval.
    mixed = counterfactual(ev, [SpendChange(names[0], multiplier=0.0),
                                SpendChange(names[1], multiplier=2.0)])  # fmt: skip
    assert mixed.delta.lower < mixed.delta.estimate < mixed.delta.upper


def test_a_spend_equal_to_the_one_as_run_up_to_float_noise_is_no_move(demo_fit) -> None:
    # R20-F5: OptimizeBudget returned 1106822.1999999988 for a channel left at 1106822.2; read
    # as a move of an unestablished channel, it widened the plan's interval past zero.
    ev = Evaluator(demo_fit)
    scores, _ = channel_scores(ev)
    a = next(k for k, s in enumerate(scores) if s.incremental.lower > 0)
    b = next(k for k in range(len(scores)) if k != a)
    names = demo_fit.panel.channels
    tests = {a: REJECTS, b: ACCEPTS}
    cut = SpendChange(names[a], multiplier=0.5)
    alone = counterfactual(Evaluator(demo_fit, tests), [cut])
    as_run = float(demo_fit.panel.spend[b].sum())
    assert as_run > 0
    for noise in (1.0 - 1e-12, 1.0 + 1e-12):
        noisy = SpendChange(names[b], spend=as_run * noise)
        both = counterfactual(Evaluator(demo_fit, tests), [cut, noisy])
        assert both.delta == alone.delta
        assert both.warnings == alone.warnings
        assert both.channels[1].delta.estimate == 0.0
        assert both.channels[1].counterfactual_spend == both.channels[1].reference_spend
    # A real move of the same channel still joins the plan (and widens it).
    moved = counterfactual(Evaluator(demo_fit, tests),
                           [cut, SpendChange(names[b], spend=as_run * 0.9)])  # fmt: skip
    assert moved.delta != alone.delta
