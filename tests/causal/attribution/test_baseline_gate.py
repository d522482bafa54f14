"""The baseline (outcome no channel caused) under the test of no effect (issue 15): a channel
the table holds at zero could be taking nothing from the baseline, so its interval holds that."""

from __future__ import annotations

import numpy as np
import pytest

from causal_svc.attribution import Evaluator, SpendChange, counterfactual
from causal_svc.attribution.null_test import NullTest
from causal_svc.attribution.scores import channel_scores, gated_baseline

# A test that does not reject at any usual level, and one that rejects at all of them.
ACCEPTS = NullTest(0.1, 0.4, 15, 1999)
REJECTS = NullTest(5.0, 0.0005, 15, 1999)


def test_the_baseline_is_the_outcome_without_every_channel(demo_fit) -> None:
    ev = Evaluator(demo_fit)
    channels, plain = channel_scores(ev)
    base, note = gated_baseline(ev, channels, plain)
    # On demo seed 0 some channels are held at zero: the interval widens, naming exactly them.
    loose = {s.channel for s in channels if s.incremental.lower <= 0}
    assert loose and base.upper > plain.upper and base.estimate == plain.estimate
    assert {s.channel for s in channels if s.channel in note} == loose
    # The same quantity asked of Counterfactual ("without every channel") gets the same answer.
    names = demo_fit.panel.channels
    r = counterfactual(ev, [SpendChange(n, multiplier=0.0) for n in names])
    out = r.counterfactual_outcome
    assert out.estimate == pytest.approx(base.estimate, rel=1e-9)
    assert out.lower == pytest.approx(base.lower, rel=1e-9)
    assert out.upper == pytest.approx(base.upper, rel=1e-9)


def test_a_channel_held_at_zero_widens_the_baseline_by_up_to_its_effect(demo_fit) -> None:
    ev = Evaluator(demo_fit)
    channels, _ = channel_scores(ev)
    c = max((k for k, s in enumerate(channels) if s.incremental.lower > 0),
            key=lambda k: channels[k].incremental.estimate)  # fmt: skip
    tests = {k: REJECTS for k in range(len(channels)) if channels[k].incremental.lower > 0}
    tests[c] = ACCEPTS
    ev = Evaluator(demo_fit, tests)
    channels, plain = channel_scores(ev)
    assert channels[c].incremental.lower == 0.0
    base, note = gated_baseline(ev, channels, plain)
    effect = channels[c].incremental.estimate
    # The estimate stands; the upper bound now reaches the baseline with c's effect put back.
    assert base.estimate == plain.estimate and base.stderr == plain.stderr
    # (the lower bound may move down a little: a sum of several terms takes their smallest df)
    assert base.lower <= plain.lower
    assert base.upper > plain.upper
    assert base.upper >= plain.estimate + effect
    assert channels[c].channel in note
    # The hull holds the baseline with c and the other loose channels at zero, no more.
    others = sum(s.incremental.estimate for k, s in enumerate(channels)
                 if k != c and s.incremental.lower <= 0)  # fmt: skip
    assert base.upper < plain.estimate + effect + others + 5 * np.sqrt(plain.stderr**2 + 1e-9)
