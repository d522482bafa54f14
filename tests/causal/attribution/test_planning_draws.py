"""The planning draws depend on the model, not on its labels (audit s20 R47 F0/F1): a renamed
channel, a re-declared currency or a rounding of the covariance leaves every channel's draws
of ``(scale, κ, S)`` where they were; re-scaling one parameter's uncertainty re-scales only its
draws; and the draws come in antithetic pairs about the estimate."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from causal_svc.attribution import MMMFit, ModelSpec, fit_mmm, panel_from_frames
from causal_svc.attribution.planning import N_DRAWS, ResponseModel, response_models
from causal_svc.attribution.planning_draws import paired_draws

from .world import EXTERNAL, frames, simulate


@pytest.fixture(scope="module")
def demo_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    r = simulate("demo", 0)
    outcome, media, campaigns = frames(r)
    org = next(iter(r.truth["orgs"]))
    series = r.truth["orgs"][org]["demand"]["params"]["series"]
    return outcome, media, campaigns, {k: np.asarray(series[k], np.float64) for k in EXTERNAL}


def _fit(
    demo: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]],
    rename: dict[str, str] | None = None,
    money: float = 1.0,
) -> MMMFit:
    """The demo world fitted with channels renamed and every amount of money × ``money``."""
    outcome, media, campaigns, national = demo
    rename = rename or {}
    cash = ["spend", "platform_outcome"]
    media = media.assign(channel=media["channel"].replace(rename))
    media[cash] = media[cash] * money
    campaigns = campaigns.assign(channel=campaigns["channel"].replace(rename))
    campaigns[cash] = campaigns[cash] * money
    outcome = outcome.assign(value=outcome["value"] * money)
    panel = panel_from_frames(outcome, media, campaigns=campaigns)
    return fit_mmm(dataclasses.replace(panel, national=national), ModelSpec())


@pytest.fixture(scope="module")
def base(demo_frames: tuple) -> MMMFit:
    return _fit(demo_frames)


def _by_name(models: list[ResponseModel], prefix: str = "") -> dict[str, ResponseModel]:
    return {m.channel.removeprefix(prefix): m for m in models}


def _assert_same(a: ResponseModel, b: ResponseModel, *, scale: float = 1.0) -> None:
    assert a.scale.size == b.scale.size == N_DRAWS
    np.testing.assert_allclose(
        b.scale, a.scale * scale, rtol=1e-6, atol=1e-9 * scale * a.scale.max()
    )
    np.testing.assert_allclose(b.half_saturation, a.half_saturation, rtol=1e-6)
    np.testing.assert_allclose(b.shape, a.shape, rtol=1e-6)


def test_a_renamed_channel_keeps_every_channels_draws(demo_frames: tuple, base: MMMFit) -> None:
    last = base.panel.channels[-1]  # renamed to sort first: every channel's block moves
    renamed = _fit(demo_frames, {last: f"aaa_{last}"})
    assert renamed.panel.channels[0] == f"aaa_{last}"
    before = _by_name(response_models(base))
    after = _by_name(response_models(renamed), "aaa_")
    assert before.keys() == after.keys()
    for name in before:
        _assert_same(before[name], after[name])


def test_the_whole_org_in_another_currency_scales_the_draws(
    demo_frames: tuple, base: MMMFit
) -> None:
    yen = _fit(demo_frames, money=150.0)
    before, after = _by_name(response_models(base)), _by_name(response_models(yen))
    for name in before:
        _assert_same(before[name], after[name], scale=150.0)


def test_a_rounding_of_the_covariance_moves_no_draw(base: MMMFit) -> None:
    noise = np.random.default_rng(7).uniform(-1e-12, 1e-12, base.cov.shape)
    rounded = dataclasses.replace(base, cov=base.cov * (1.0 + (noise + noise.T) / 2.0))
    before, after = _by_name(response_models(base)), _by_name(response_models(rounded))
    for name in before:
        _assert_same(before[name], after[name])


def test_rescaling_one_parameters_uncertainty_rescales_only_its_draws(base: MMMFit) -> None:
    """chol(D C D) = D chol(C): doubling the standard deviation of one channel's log K doubles
    that channel's log κ deviations from the estimate and leaves every other draw alone."""
    c = 0
    at = base.layout.starts[c] + base.layout.kinds[c].n_params  # log K/k0 of channel 0
    d = np.ones(base.theta.size)
    d[at] = 2.0
    wider = dataclasses.replace(base, cov=base.cov * np.outer(d, d))
    before, after = response_models(base), response_models(wider)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_allclose(b.scale, a.scale, rtol=1e-9, atol=1e-12 * a.scale.max())
        np.testing.assert_allclose(b.shape, a.shape, rtol=1e-9)
        if a.channel != base.panel.channels[c]:
            np.testing.assert_allclose(b.half_saturation, a.half_saturation, rtol=1e-9)
        else:
            centre = np.log(a.estimate[1])
            np.testing.assert_allclose(
                np.log(b.half_saturation) - centre,
                2.0 * (np.log(a.half_saturation) - centre),
                rtol=1e-9,
                atol=1e-12,
            )


def test_draws_come_in_antithetic_pairs_about_the_estimate(base: MMMFit) -> None:
    for m in response_models(base):
        centre = np.log(m.estimate[2])
        logs = np.log(m.shape)
        np.testing.assert_allclose(logs[0::2] - centre, centre - logs[1::2], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("rank", [6, 3])
def test_paired_draws_have_the_mean_and_covariance_asked_for(rank: int) -> None:
    """Also where the covariance is singular (an unidentified channel's block): it factors,
    and the draws keep to its subspace."""
    rng = np.random.default_rng(3)
    a = rng.normal(size=(6, rank)) * np.array([1e-3, 1.0, 50.0, 1.0, 2.0, 0.1])[:, None]
    cov = a @ a.T
    mean = rng.normal(size=6)
    d = paired_draws(mean, cov, 4000, seed=11)
    np.testing.assert_allclose(d.mean(axis=0), mean, rtol=0, atol=1e-9 * np.abs(d).max())
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(np.cov(d.T) / np.outer(sd, sd), cov / np.outer(sd, sd), atol=0.05)
    if rank < 6:  # nothing outside the covariance's column space, to the jitter
        _, _, vt = np.linalg.svd(a.T, full_matrices=True)
        null = vt[rank:]
        assert np.abs((d - mean) @ null.T).max() <= 1e-3 * np.abs(d - mean).max()
    with pytest.raises(ValueError, match="even"):
        paired_draws(mean, cov, 5, seed=0)
