"""s20 R48 F4: a shop with ~8 orders a day FAILed its holdout at random (4 of 6 seeds at 90
days): its daily revenue is mostly chance, and even the true model scores R² near 0 on the
held-out days. The holdout is now judged against the noise the forecast leaves on its own
training days: within it, R² below 0 is REVIEW and says why; a forecast that misses by more
than that noise explains still FAILs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from causal_svc.attribution import MMMFit, ModelSpec, Verdict, fit_mmm
from causal_svc.attribution.health import assess
from causal_svc.attribution.health_holdout import HOLDOUT_NOISE_LEVEL, _figures, holdout_verdict

from .small_shop import small_shop
from .world import World


def _holdout(fit: MMMFit):  # type: ignore[no-untyped-def]
    report = assess(fit)
    return report, next(c for c in report.checks if c.name == "holdout")


def test_a_small_shops_holdout_inside_its_noise_is_review_not_fail() -> None:
    # R48's n14: 90 days, seed 14; R² -0.45 on the held-out days was FAIL, no ROIs
    report, check = _holdout(fit_mmm(small_shop(90, seed=14), ModelSpec(country="US")))
    assert report.holdout is not None and report.holdout.r_squared < 0.0, report.holdout
    assert check.verdict is Verdict.REVIEW and report.verdict is not Verdict.FAIL, check
    assert report.holdout.within_noise and report.holdout.noise_share > 0.7
    assert "the held-out days move mostly by chance" in check.message, check.message
    assert "even a model as good as the truth would score an R² near" in check.message
    assert check.message.endswith("a lift test of a channel can")


def test_a_forecast_as_good_as_the_truth_rarely_fails() -> None:
    # The true model on a noisy day series: held-out days = truth + noise, the forecast = the
    # truth, the training noise estimated on 53 degrees of freedom as a 90-day window's is.
    # Where the held-out days' own movement is small beside the noise, R² is below 0 about
    # half the time: every one of those a FAIL before.
    rng = np.random.default_rng(20)
    truth = 0.05 * np.sin(np.arange(28) * 2 * np.pi / 7)
    fails = below_zero = 0
    for _ in range(2000):
        held = truth + rng.normal(0.0, 0.4, 28)
        noise = 0.16 * rng.chisquare(53) / 53
        ho = _figures(28, held, truth, noise, 53)
        below_zero += ho.r_squared < 0
        fails += holdout_verdict(ho) is Verdict.FAIL
    assert below_zero > 600
    assert fails <= 2 * HOLDOUT_NOISE_LEVEL * 2000, fails


def test_a_forecast_that_misses_a_noisy_outcome_still_fails() -> None:
    # the same shop, its held-out weeks' revenue alternately tripled and cut to a third: the
    # forecast misses them by far more than the shop's noise explains
    panel = small_shop(90, seed=14)
    y = panel.outcome.copy()
    week = (np.arange(28) // 7) % 2
    y[:, -28:] *= np.where(week == 0, 3.0, 1.0 / 3.0)[None, :]
    fit = fit_mmm(dataclasses.replace(panel, outcome=y), ModelSpec(country="US"))
    report, check = _holdout(fit)
    assert report.holdout is not None and report.holdout.r_squared < 0.0
    assert not report.holdout.within_noise
    assert check.verdict is Verdict.FAIL and report.verdict is Verdict.FAIL, check
    assert "the model forecasts worse than the outcome's noise explains" in check.message


@pytest.mark.parametrize("amplitude", [0.3])
def test_a_forecast_that_misses_a_quiet_outcome_still_fails(demo: World, amplitude: float) -> None:
    # the demo (tens of thousands a day: little noise), its held-out days swung by ±30% on a
    # 5-day cycle no calendar holds
    y = demo.panel.outcome.copy()
    y[:, -28:] *= np.exp(amplitude * np.sin(np.arange(28) * 2 * np.pi / 5))[None, :]
    fit = fit_mmm(dataclasses.replace(demo.panel, outcome=y), ModelSpec())
    report, check = _holdout(fit)
    assert report.holdout is not None and report.holdout.r_squared < 0.0, report.holdout
    assert check.verdict is Verdict.FAIL, check
    assert report.holdout.noise_ratio > 10 * report.holdout.noise_limit


def test_a_pattern_the_model_lacks_is_not_chance(demo: World) -> None:
    """s20 V1 F1: a 5-day swing over the whole window (a driver no calendar holds) left the
    training residuals large, and a held-out week pattern turned over then read as "within the
    noise": REVIEW with ROIs. Residuals with a serial pattern are not chance: FAIL, said so."""
    y = demo.panel.outcome.copy()
    n = y.shape[1]
    y *= np.exp(0.6 * np.sin(np.arange(n) * 2 * np.pi / 5))[None, :]
    nat = np.log(demo.panel.outcome.sum(axis=0))
    week = np.array([nat[:-28][d::7].mean() for d in range(7)])
    week -= week.mean()
    y[:, -28:] *= np.exp(-10.0 * week[(np.arange(n - 28, n)) % 7])[None, :]
    report, check = _holdout(fit_mmm(dataclasses.replace(demo.panel, outcome=y), ModelSpec()))
    ho = report.holdout
    assert ho is not None and ho.r_squared < 0.0 and ho.noise_ratio <= ho.noise_limit, ho
    assert ho.noise_white_p < 0.01 and not ho.within_noise
    assert check.verdict is Verdict.FAIL, check
    assert "its training days' errors follow a pattern (Ljung–Box p " in check.message
