"""s20 R48 F1: on a small shop's first 30 days (4 states, ~2 orders per state-day) both
channels' rows were the prior's, ``0.00 [0.00, 3.8]``, yet marked identified, and recommend
cut channels that truly return 2.0 and 1.5 per unit at "80% confidence". A window whose data
barely moved any channel's effect from its prior now marks every channel not identified,
with the reason; the same shop with 90 days, and the demo world, stay measured."""

from __future__ import annotations

from dataclasses import replace

import pytest

from causal_svc.attribution import (
    Evaluator,
    MMMFit,
    ModelSpec,
    SpendChange,
    Verdict,
    analyze,
    counterfactual,
    fit_mmm,
)
from causal_svc.attribution.health import assess, channel_identification
from causal_svc.attribution.health_prior import MIN_DATA_SHARE, data_shares
from causal_svc.attribution.planning import response_models
from causal_svc.convert.attribution import _response_model

from .small_shop import small_shop


@pytest.fixture(scope="module")
def month() -> MMMFit:
    return fit_mmm(small_shop(30), ModelSpec(country="US"))


def test_a_new_shops_first_month_is_the_priors_and_says_so(month: MMMFit) -> None:
    shares = data_shares(month)
    assert set(shares) == {"google", "meta"}
    assert max(shares.values()) < MIN_DATA_SHARE, shares
    health = assess(month, holdout=False)
    assert set(health.unidentified) == {"google", "meta"}
    check = next(c for c in health.checks if c.name == "prior_bound")
    assert check.verdict is Verdict.REVIEW and health.verdict is not Verdict.PASS
    assert check.message.startswith(
        "the window's 30 days barely moved any channel's effect from the prior (data share of "
        "each effect's precision under 20%): google "
    ), check.message
    assert "meta " in check.message and "their rows are the prior's, not measurements" in (
        check.message
    )
    # what the owner can do: more history of changing spend, or a test
    assert "a pause, a launch or a budget step in some regions" in check.message
    assert check.message.endswith("or a lift test (liftos design) measures a channel directly")


def test_a_plan_on_the_month_is_told_the_row_is_the_priors(month: MMMFit) -> None:
    found = channel_identification(month)
    why = found.reason("meta")
    assert why.startswith("the 30 days' data barely moved its effect from the prior ("), why
    assert "or a lift test (liftos design) measures it directly" in why
    r = counterfactual(Evaluator(month), [SpendChange("meta", multiplier=0.7)])
    said = [w for w in r.warnings if w.startswith("meta is not identified (the 30 days' data")]
    assert said, r.warnings
    # its change is the prior's joined with no change: the interval holds zero
    assert r.delta.lower <= 0.0 <= r.delta.upper


def test_the_planning_models_say_why_a_channel_is_not_identified() -> None:
    """The response model Recommend plans on carries the reason: its "test it" said "its effect
    is not identified: no reason given" for every channel the health checks un-identify."""
    report = analyze(small_shop(30), ModelSpec(country="US"))
    models = {m.channel: m for m in report.response_models}
    assert set(models) == {"google", "meta"}
    for m in models.values():
        assert not m.identified
        assert m.note.startswith("the 30 days' data barely moved its effect from the prior ("), (
            m.note
        )


def test_the_same_shop_with_a_season_of_history_is_measured() -> None:
    # 90 days with Meta's launch and Google's pause in them: the data carry a third of each
    # effect (R48: rows 1.37 [0.00, 5.14] and 1.68 [0.00, 5.31], recommend HOLD both)
    fit = fit_mmm(small_shop(90), ModelSpec(country="US"))
    assert max(data_shares(fit).values()) >= MIN_DATA_SHARE
    health = assess(fit, holdout=False)
    assert "prior_bound" not in {c.name for c in health.checks}
    assert not health.unidentified


def test_a_measured_world_keeps_its_channels(demo_fit: MMMFit) -> None:
    shares = data_shares(demo_fit)
    # the data carry most of the best-measured channel, so nothing is marked for the prior
    assert max(shares.values()) > 0.5, shares
    health = assess(demo_fit, holdout=False)
    assert "prior_bound" not in {c.name for c in health.checks}


def test_each_planning_model_carries_its_data_share(demo_fit: MMMFit) -> None:
    """s21 P1 (R48-F1 per channel): the window measures most channels, so none is marked for
    the prior, yet single channels are as prior-bound as R48's shop; the planning model
    carries each one's share so planning can refuse to move money on it."""
    shares = data_shares(demo_fit)
    models = {m.channel: m for m in response_models(demo_fit)}
    assert {c: m.data_share for c, m in models.items()} == pytest.approx(
        {c: shares[c] for c in models}
    )
    # the demo's retargeting: a few % of its precision from the data (R48: 3–14% on 100–109)
    low = [c for c, m in models.items() if (m.data_share or 1.0) < MIN_DATA_SHARE]
    assert "meta_retargeting" in low, shares
    wire = _response_model(models["meta_retargeting"], True)
    assert wire.HasField("data_share")
    assert wire.data_share == pytest.approx(shares["meta_retargeting"])
    # a model without a share (none computed) leaves the field unset: "stored before it"
    bare = _response_model(replace(models["meta_retargeting"], data_share=None), True)
    assert not bare.HasField("data_share")
