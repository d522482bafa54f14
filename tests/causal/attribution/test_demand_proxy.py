"""The local demand move read from the channels' common spend move, and the geo identification
that uses it (``Identification.GEO_DEMAND``)."""

from __future__ import annotations

import numpy as np
import pytest

from causal_svc.attribution import Evaluator, Identification, ModelSpec, fit_mmm
from causal_svc.attribution.demand_proxy import (
    dechased_inputs,
    demand_controls,
    local_demand_move,
)

from .world import World

G, T = 40, 200
LOADING = np.array([1.0, 1.0, 0.8, 1.2, 0.0])  # the last: sends on a calendar, no chase
NOISE_SD = np.array([0.08, 0.10, 0.06, 0.12, 0.05])


def _planted(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(C, G, T) spend = geo level × channel pacing × exp(loading · s + own noise), and s
    (an AR(1) demand move per geo, sd 0.1)."""
    rng = np.random.default_rng(seed)
    s = np.zeros((G, T))
    shocks = rng.normal(0.0, 0.1 * np.sqrt(1 - 0.8**2), (G, T))
    for t in range(1, T):
        s[:, t] = 0.8 * s[:, t - 1] + shocks[:, t]
    level = rng.normal(0.0, 1.0, (LOADING.size, G, 1))
    pacing = np.cumsum(rng.normal(0.0, 0.05, (LOADING.size, 1, T)), axis=2)
    own = NOISE_SD[:, None, None] * rng.normal(size=(LOADING.size, G, T))
    spend = np.exp(level + pacing + LOADING[:, None, None] * s[None] + own)
    return spend, s


def _two_way(x: np.ndarray) -> np.ndarray:
    return x - x.mean(axis=0, keepdims=True) - x.mean(axis=1, keepdims=True) + x.mean()


def test_reads_a_planted_common_move_within_its_stated_error() -> None:
    spend, s = _planted()
    spend[2, :5, 100:130] = 0.0  # a channel dark in five geos for a month
    spend[:, 7, 50] = 0.0  # a geo-day with no spend at all
    m = local_demand_move(spend)
    truth = _two_way(s)
    # Bartlett's score of the four chasing channels: error sd 1/sqrt(Σ a²/σ²) ≈ 0.040.
    ideal = 1.0 / np.sqrt(np.sum(LOADING[:4] ** 2 / NOISE_SD[:4] ** 2))
    err = (m.move - truth)[np.arange(G) != 7]
    assert err.std() < 1.2 * ideal
    assert np.corrcoef(m.move.ravel(), truth.ravel())[0, 1] > 0.9
    # Loadings up to the common scale (the weighted mean loading is 1), noise per channel.
    np.testing.assert_allclose(m.loading[:4] / m.loading[0], LOADING[:4], rtol=0.1)
    np.testing.assert_allclose(np.sqrt(m.noise[:4]), NOISE_SD[:4], rtol=0.1)
    assert m.weight[4] < 0.02  # the calendar channel shares nothing with the others
    assert m.move[7, 50] == 0.0  # no spend, no read


def test_one_channel_reads_no_move_and_lags_shift() -> None:
    spend, _ = _planted()
    assert not local_demand_move(spend[:1]).move.any()
    assert demand_controls(spend[:1]) == {}
    out = demand_controls(spend, lags=2)
    np.testing.assert_array_equal(out["demand_move:lag1"][:, 1:], out["demand_move:lag0"][:, :-1])
    assert not out["demand_move:lag1"][:, 0].any()


def test_dechased_inputs_hold_no_demand() -> None:
    """A chasing channel's raw log input moves with s (its loading); its dechased input keeps
    its own noise and loses the chase; the calendar channel and dark cells are left alone."""
    spend, s = _planted(2)
    spend[0, :3, 20:40] = 0.0
    out = dechased_inputs(spend, spend)
    truth = _two_way(s).ravel()
    for c in range(4):
        on = spend[c] > 0
        raw, left = (
            np.corrcoef(_two_way(np.where(on, np.log(np.where(on, x, 1.0)), 0.0)).ravel(),
                        truth)[0, 1]
            for x in (spend[c], out[c])
        )  # fmt: skip
        assert raw > 0.5 and abs(left) < 0.1, (c, raw, left)
    np.testing.assert_allclose(out[4], spend[4], rtol=0.02)  # loading ~0: barely moved
    assert not out[0, :3, 20:40].any()


def test_geo_demand_fit_is_instrumented_with_geo_clusters(
    demo: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its instruments are the dechased inputs, not INSTRUMENTED's leave-one-out ones.
    from causal_svc.attribution import fit as fit_module

    seen: list[np.ndarray] = []

    def spy(media: np.ndarray, spend: np.ndarray) -> np.ndarray:
        seen.append(out := dechased_inputs(media, spend))
        return out

    monkeypatch.setattr(fit_module, "dechased_inputs", spy)
    fit = fit_mmm(demo.panel, ModelSpec(identification=Identification.GEO_DEMAND))
    assert len(seen) == 1 and seen[0].shape == demo.panel.media.shape
    assert fit.objective.moments is not None  # 2SLS rows
    assert fit.residuals.shape == (demo.panel.n_geos, demo.panel.n_days)
    assert fit.df == demo.panel.n_geos - 1
    ev = Evaluator(fit)
    for c in range(demo.panel.n_channels):
        iv = ev.interval(*ev.effect(c))
        assert np.isfinite(iv.stderr) and iv.lower <= iv.estimate <= iv.upper
