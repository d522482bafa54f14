"""Counterfactual plans: "without channel X" against the simulator's own counterfactual world,
consistency with the channel effect, and refused plans."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from causal_svc.attribution import Evaluator, SpendChange, counterfactual
from causal_svc.errors import InvalidSpec

from .world import World


def test_without_the_largest_channel_is_close_to_the_simulated_world(demo: World, demo_fit) -> None:
    ev = Evaluator(demo_fit)
    # Klaviyo email is the largest channel by effect; compare the total without it.
    r = counterfactual(ev, [SpendChange("klaviyo_email", multiplier=0.0)])
    assert r.reference_outcome.estimate == pytest.approx(demo.total_outcome, rel=1e-9)
    assert r.counterfactual_outcome.estimate == pytest.approx(
        demo.true_without["klaviyo_email"], rel=0.10
    )
    assert r.delta.estimate < 0


def test_plan_delta_is_minus_the_effect_and_adds_over_channels(demo_fit) -> None:
    ev = Evaluator(demo_fit)
    effects = [ev.effect(c)[0] for c in range(2)]
    names = demo_fit.panel.channels[:2]
    r = counterfactual(ev, [SpendChange(n, multiplier=0.0) for n in names])
    assert r.delta.estimate == pytest.approx(-sum(effects), rel=1e-9)
    assert [c.delta.estimate for c in r.channels] == pytest.approx([-e for e in effects])
    same = counterfactual(ev, [SpendChange(names[0], multiplier=1.0)])
    assert same.delta.estimate == pytest.approx(0.0, abs=1e-6)


def test_absolute_spend_and_future_window(demo_fit) -> None:
    ev = Evaluator(demo_fit)
    name = "meta_prospecting"
    c = demo_fit.panel.channels.index(name)
    spend = float(demo_fit.panel.spend[c][:, -28:].sum())
    doubled = counterfactual(ev, [SpendChange(name, spend=2 * spend)], future_days=28)
    by_mult = counterfactual(ev, [SpendChange(name, multiplier=2.0)], future_days=28)
    assert doubled.delta.estimate == pytest.approx(by_mult.delta.estimate, rel=1e-9)
    assert doubled.channels[0].counterfactual_spend == pytest.approx(2 * spend)
    assert doubled.evaluated_days == 28
    assert doubled.delta.lower <= doubled.delta.estimate <= doubled.delta.upper
    # R13-F2: the future outcome is the template days' as run, and the answer says which days.
    first, last = (str(d)[:10] for d in demo_fit.panel.dates[[-28, -1]])
    (said,) = [w for w in doubled.warnings if w.startswith("the next 28 days")]
    assert f"{first}..{last}" in said and "not a forecast" in said
    past = counterfactual(ev, [SpendChange(name, multiplier=2.0)])
    assert not [w for w in past.warnings if "not a forecast" in w]


@pytest.mark.parametrize(
    ("changes", "kwargs", "field"),
    [
        ([], {}, "changes"),
        ([SpendChange("myspace", multiplier=0.5)], {}, "changes[0].channel"),
        ([SpendChange("tiktok", multiplier=-1.0)], {}, "changes[0].multiplier"),
        ([SpendChange("tiktok")], {}, "changes[0].multiplier"),
        ([SpendChange("tiktok", 1.0), SpendChange("tiktok", 2.0)], {}, "changes[1].channel"),
        ([SpendChange("klaviyo_email", spend=10.0)], {}, "changes[0].spend"),
        ([SpendChange("tiktok", 0.5)], {"start": dt.date(2031, 1, 1)}, "reference_period"),
        ([SpendChange("tiktok", 0.5)], {"future_days": 10_000}, "future_days"),
    ],
)
def test_bad_plans_name_the_field(demo_fit, changes, kwargs, field: str) -> None:
    with pytest.raises(InvalidSpec) as info:
        counterfactual(Evaluator(demo_fit), changes, **kwargs)
    assert info.value.field == field


def test_interval_is_honest_about_its_width(demo_fit) -> None:
    r = counterfactual(Evaluator(demo_fit), [SpendChange("tiktok", multiplier=0.0)])
    assert np.isfinite(r.delta.stderr) and r.delta.stderr > 0
