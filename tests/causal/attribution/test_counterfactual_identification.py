"""Counterfactuals on channels the analysis cannot identify (audit R30 F7: with display's spend
a copy of video's, "display off: 0 [-9.9M, 0]" and "video off: -13.3M [-20.1M, -6.5M]", no
warning, where the table marks both "(not identified)" and recommend says "test it")."""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest

from causal_svc.attribution import (
    Evaluator,
    MMMFit,
    ModelSpec,
    SpendChange,
    counterfactual,
    fit_mmm,
    plan,
    state_from_bytes,
    state_to_bytes,
)
from causal_svc.attribution.health import assess, channel_identification

from .world import World

# the module (the package exports its function under the same name)
counterfactual_module = importlib.import_module("causal_svc.attribution.counterfactual")


def _paid(demo: World) -> list[int]:
    return [int(c) for c in np.flatnonzero(demo.panel.spend.sum(axis=(1, 2)) > 0)]


@pytest.fixture(scope="module")
def twins(demo: World) -> tuple[MMMFit, str, str]:
    """The demo world with the second paid channel's spend a copy of the first's."""
    p = demo.panel
    a, b = _paid(demo)[:2]
    media, spend = p.media.copy(), p.spend.copy()
    media[b], spend[b] = media[a], spend[a]
    fit = fit_mmm(dataclasses.replace(p, media=media, spend=spend), ModelSpec())
    return fit, p.channels[a], p.channels[b]


def test_one_of_two_twins_is_bounded_by_the_pair_and_named(twins) -> None:
    fit, a, b = twins
    assert set(assess(fit, holdout=False).unidentified) >= {a, b}
    ev = Evaluator(fit)
    alone = counterfactual(ev, [SpendChange(b, multiplier=0.0)])
    both = counterfactual(ev, [SpendChange(a, multiplier=0.0), SpendChange(b, multiplier=0.0)])
    (note,) = [w for w in alone.warnings if "not identified" in w]
    assert note.startswith(f"{b} is not identified apart from {a} (its spend moves with {a}'s (r=")
    assert f"--set {b}=0 --set {a}=0" in note
    row = alone.channels[0].delta
    # one twin's change lies between no change and the pair's: the row holds both ends
    assert row.upper == 0.0
    # ... and agrees with the plan that moves both (the same gated interval of their sum)
    assert row.lower == pytest.approx(both.delta.lower) and both.delta.lower < 0.0
    assert alone.delta.lower <= row.lower and alone.delta.upper == 0.0
    (joint,) = [w for w in both.warnings if "together" in w]
    assert f"the plan moves {a} and {b} together, so its total is identified" in joint


def test_a_constant_channel_is_the_prior_and_says_so(demo: World) -> None:
    p = demo.panel
    c = _paid(demo)[0]
    media, spend = p.media.copy(), p.spend.copy()
    media[c] = spend[c] = 1000.0
    fit = fit_mmm(dataclasses.replace(p, media=media, spend=spend), ModelSpec())
    r = counterfactual(Evaluator(fit), [SpendChange(p.channels[c], multiplier=0.0)])
    (note,) = [w for w in r.warnings if "not identified" in w]
    assert note.startswith(f"{p.channels[c]} is not identified (its spend barely varies")
    assert "the model's prior, not a measurement" in note and "liftos design" in note
    assert r.channels[0].delta.upper == 0.0 and r.delta.upper == 0.0


def test_identified_channels_get_no_such_warning(demo: World, demo_fit: MMMFit) -> None:
    ev = Evaluator(demo_fit)
    for c in _paid(demo):
        r = counterfactual(ev, [SpendChange(demo.panel.channels[c], multiplier=0.5)])
        assert not [w for w in r.warnings if "not identified" in w], r.warnings


def test_a_stored_identification_is_read_not_computed_and_answers_the_same(
    twins, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s21: the plan reads the identification its analysis stored with the model (computed
    per request before: a Jacobian and a pinv); on twins, where it decides rows and warnings,
    every answer is the one computed from the fit."""
    fit, a, b = twins
    state = fit.state()
    found = channel_identification(fit)
    assert {a, b} <= set(found.unidentified)
    kept = state_from_bytes(state_to_bytes(dataclasses.replace(state, identification=found)))
    plans = [
        [SpendChange(b, multiplier=0.0)],
        [SpendChange(a, multiplier=0.0), SpendChange(b, multiplier=0.0)],
        [SpendChange(a, multiplier=2.0)],
        [SpendChange(a, multiplier=1.5), SpendChange(b, multiplier=0.5)],
        [SpendChange(n, multiplier=1.3) for n in fit.panel.channels],
    ]
    computed = [plan(state, p) for p in plans]

    def never(_: object) -> None:
        raise AssertionError("the stored identification was computed again")

    monkeypatch.setattr(counterfactual_module, "channel_identification", never)
    assert [plan(kept, p) for p in plans] == computed
    with pytest.raises(AssertionError, match="computed again"):  # a state without: computed
        plan(state, plans[0])
