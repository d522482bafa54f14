"""The baseline (outcome no channel caused) under the test of no effect (issue 15): a channel
the table holds at zero could be taking nothing from the baseline, so its interval holds that."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from causal_svc.attribution import Evaluator
from causal_svc.attribution.null_test import NullTest
from causal_svc.attribution.scores import channel_scores, gated_baseline

# A test that does not reject at any usual level, and one that rejects at all of them.
ACCEPTS = NullTest(0.1, 0.4, 15, 1999)
REJECTS = NullTest(5.0, 0.0005, 15, 1999)


def test_no_channel_held_at_zero_leaves_the_baseline_as_it_was(demo_fit) -> None:
    ev = Evaluator(demo_fit)
    channels, plain = channel_scores(ev)
    # Every channel with an effect established (its lower bound above zero), or none at all.
    firm = [s if s.incremental.estimate == 0.0 or s.incremental.lower > 0 else
            replace(s, incremental=replace(s.incremental, lower=s.incremental.estimate / 2))
            for s in channels]  # fmt: skip
    assert gated_baseline(ev, firm, plain) == (plain, "")
    # As fitted, the demo world's baseline is widened by exactly the loose channels.
    base, note = gated_baseline(ev, channels, plain)
    loose = {s.channel for s in channels if s.incremental.lower <= 0 < s.incremental.estimate}
    assert loose and base.upper > plain.upper
    assert {s.channel for s in channels if s.channel in note} == loose


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
    # Every other channel at zero too would be a larger baseline still: the hull holds the
    # subset with only c at zero, no more (the others are established).
    others = sum(s.incremental.estimate for k, s in enumerate(channels)
                 if k != c and s.incremental.lower <= 0)  # fmt: skip
    assert base.upper < plain.estimate + effect + others + 5 * np.sqrt(plain.stderr**2 + 1e-9)
