"""The stages end to end: progress, the report, and a failing model that reports no ROIs."""

from __future__ import annotations

import dataclasses

import numpy as np

from causal_svc.attribution import STAGES, ModelSpec, Verdict, analyze

from .world import World


def test_report_has_every_stage_scores_and_curves(demo: World) -> None:
    seen: list[tuple[str, float]] = []
    assert demo.experiment is not None
    rep = analyze(demo.panel, ModelSpec(), [demo.experiment],
                  progress=lambda s, f, m: seen.append((s, f)))  # fmt: skip
    assert [s for s, _ in seen] == list(STAGES)
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert rep.verdict is not Verdict.FAIL
    assert {c.channel for c in rep.channels} == set(demo.panel.channels)
    assert len(rep.curves) == demo.panel.n_channels and rep.campaigns
    paid = [c for c in rep.channels if c.spend > 0]
    assert all(c.iroas is not None and c.iroas.lower <= c.iroas.estimate <= c.iroas.upper
               for c in paid)  # fmt: skip
    assert (
        sum(c.share for c in rep.channels) == np.float64(1.0)
        or abs(sum(c.share for c in rep.channels) - 1) < 1e-9
    )
    # Campaigns split their channel's effect.
    for ch in rep.channels:
        parts = [k.incremental.estimate for k in rep.campaigns if k.channel == ch.channel]
        if parts:
            assert sum(parts) == np.float64(ch.incremental.estimate) or abs(
                sum(parts) - ch.incremental.estimate
            ) <= 1e-6 * max(1.0, ch.incremental.estimate)
    assert rep.calibration[0].predicted_uncalibrated is not None
    assert "demand" in rep.unobserved_confounders
    assert rep.state is not None


def test_a_model_that_fails_its_health_checks_reports_no_rois(demo: World) -> None:
    # An outcome that is nothing but one channel's spend: the model must give that channel
    # (nearly) all of it, leaving no baseline — a fit no one should read ROIs from.
    p = demo.panel
    c = p.channels.index("google_search")
    x = p.media[c] / p.population[:, None]
    fake = dataclasses.replace(p, outcome=1.0 + 50.0 * x * p.population[:, None])
    rep = analyze(fake, ModelSpec())
    assert rep.verdict is Verdict.FAIL
    assert rep.channels == () and rep.curves == () and rep.baseline is None
    assert any("FAIL" in w for w in rep.warnings)


def test_planning_models_reproduce_the_channel_effects(demo: World, demo_fit) -> None:
    """f(reference) at the estimate is the channel's effect up to the quadrature's error; the
    draws spread around it."""
    from causal_svc.attribution import Evaluator
    from causal_svc.attribution.planning import response_models

    ev = Evaluator(demo_fit)
    for m in response_models(demo_fit):
        effect = ev.effect(demo.panel.channels.index(m.channel))[0]
        assert abs(m.node_weights.sum() - 1) < 1e-9 and abs(m.carryover.sum() - 1) < 1e-9
        assert abs(np.sum(m.nodes * m.node_weights) - 1) < 1e-6
        at_estimate = m.outcome(m.reference_spend, *m.estimate)
        assert abs(at_estimate - effect) <= 0.03 * effect + 1e-6 * demo.total_outcome, m.channel
        draws = [m.outcome(m.reference_spend, *p)
                 for p in zip(m.scale, m.half_saturation, m.shape, strict=True)]  # fmt: skip
        assert min(draws) <= at_estimate + 1e-9 and m.scale.shape == (200,)


def test_an_unregistered_promotions_calendar_is_warned_of(demo: World) -> None:
    """Without the calendar, sales the promotions caused go to the channels that run with them
    (email: 11-32% coverage instead of 80-95% on the simulator); the analysis says so and how
    to fix it, and says nothing when the calendar is there."""
    promo = "promotions calendar is registered"
    national = {k: v for k, v in demo.panel.national.items() if "promo" not in k}
    without = analyze(dataclasses.replace(demo.panel, national=national), ModelSpec())
    assert "promotion" in without.unobserved_confounders
    assert any(promo in w and "liftos factors register" in w for w in without.warnings)
    with_calendar = analyze(demo.panel, ModelSpec())
    assert not any(promo in w for w in with_calendar.warnings)
