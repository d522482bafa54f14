"""Each channel's fitted response in the form planners read (SurfacingService's budgets,
forecasts and recommendations): over the analysed period, spending ``s`` instead of the
``reference`` spend adds::

    f(s) = scale · Σ_j w_j · Hill(n_j · s / reference; κ, S)

The model's contribution of channel ``c`` at ``r ×`` its spend is
``Σ_gt B_gt · unit_gt · β · Hill(r · u_gt; K, S)``, with ``u`` the per-capita adstocked
input and ``B = y / (1 + M)`` the baseline (adstock is linear, so scaling the spend scales
``u``). With cell weights ``ω = B · unit`` and ``ū`` their weighted mean input, that is
``β Σω · Σ_gt (ω/Σω) · Hill(r · (u/ū); K/ū, S)``: ``scale = β Σω``, ``κ = K/ū`` and the
relative inputs ``u/ū`` grouped into a few weighted quadrature nodes (weighted quantile bins).

Uncertainty: paired draws of ``(β, K, S)`` from the fit's Laplace posterior (``β`` clipped at
zero); the nodes, carry-over and demand modulation stay at the estimate. The draws are of those
parameters' joint marginal only, made by :mod:`.planning_draws` (antithetic pairs of scrambled
Halton normals, a Cholesky factor, channels in an order read off their data), so a channel's
name or a currency's rounding does not change them. Analyses stored before keep the draws they
were stored with (the draws travel in the result, not refitted on reading).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .channel_span import spans
from .features import adstock_params, channel_curve
from .fit import MMMFit
from .health_prior import data_shares
from .planning_draws import N_DRAWS, canonical_order, paired_draws
from .transforms import apply_lags

__all__ = ["N_DRAWS", "ResponseModel", "response_models"]

N_NODES = 12


@dataclass(frozen=True, slots=True)
class ResponseModel:
    """One channel's response for planning (see the module docstring)."""

    channel: str
    reference_spend: float
    period_days: int
    scale: np.ndarray
    half_saturation: np.ndarray
    shape: np.ndarray
    nodes: np.ndarray
    node_weights: np.ndarray
    carryover: np.ndarray
    adstock: str
    adstock_params: tuple[float, ...]
    baseline_outcome: float
    estimate: tuple[float, float, float] = (0.0, 0.0, 0.0)  # (scale, κ, S) at the estimate
    identified: bool = True
    note: str = ""
    # Days from its first to its last day with input where it started or stopped inside the
    # window (:func:`.channel_span.spans`; 0: it ran throughout), and whether it stopped:
    # ``reference_spend`` was spent over those days only (R48-F2).
    active_days: int = 0
    stopped: bool = False
    # The share of its effect's precision the data and lift tests supply
    # (:func:`.health_prior.data_shares`); planning moves no money on one under
    # ``MIN_DATA_SHARE``. None where the fit has no effect prior rows to judge it by.
    data_share: float | None = None

    def outcome(self, spend: float, scale: float, half_saturation: float, shape: float) -> float:
        """f(spend) for one parameter set."""
        x = self.nodes * spend / self.reference_spend
        with np.errstate(divide="ignore"):
            hill = np.where(
                x > 0, 1.0 / (1.0 + (half_saturation / np.maximum(x, 1e-300)) ** shape), 0.0
            )
        return float(scale * (self.node_weights * hill).sum())


def _nodes(rel: np.ndarray, weight: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted quantile bins of the relative inputs: (mean input, weight share) per bin."""
    order = np.argsort(rel)
    r, w = rel[order], weight[order]
    cum = np.cumsum(w)
    total = cum[-1]
    bins = np.minimum((cum / total * n).astype(np.int64), n - 1)
    sums = np.bincount(bins, weights=w, minlength=n)
    means = np.bincount(bins, weights=w * r, minlength=n)
    keep = sums > 0
    return means[keep] / sums[keep], sums[keep] / total


def response_models(fit: MMMFit, *, seed: int = 0) -> list[ResponseModel]:
    """Planning models of every channel (Laplace draws seeded by ``seed``)."""
    panel, layout = fit.panel, fit.layout
    theta = fit.theta
    _, m = fit.media()
    baseline = panel.outcome / m
    unit = fit.inputs.unit(theta, layout)
    draws = _draws(fit, seed)
    ran = spans(panel.channels, panel.media)
    shares = data_shares(fit)
    out = []
    for c, name in enumerate(panel.channels):
        sl = layout.nonlinear(c)
        kind = layout.kinds[c]
        n_ad = kind.n_params
        curve = channel_curve(layout, theta, c, float(fit.inputs.k0[c]), fit.spec.max_lag)
        u = apply_lags(fit.inputs.lags[c], curve.weights)
        omega = baseline * unit
        mean_u = float((omega * u).sum() / max(float(omega.sum()), 1e-300))
        if mean_u <= 0:
            continue
        nodes, weights = _nodes((u / mean_u).ravel(), omega.ravel(), N_NODES)
        d = draws[c]
        scale = np.clip(d[:, 0], 0.0, None) * float(omega.sum())
        kappa = fit.inputs.k0[c] * np.exp(d[:, 1]) / mean_u
        shape = np.exp(d[:, 2])
        nat, _ = adstock_params(kind, theta[sl][:n_ad])
        spend = float(panel.spend[c].sum()) or float(panel.media[c].sum())
        out.append(
            ResponseModel(
                channel=name,
                reference_spend=spend,
                period_days=panel.n_days,
                scale=scale,
                half_saturation=kappa,
                shape=shape,
                nodes=nodes,
                node_weights=weights,
                carryover=curve.weights,
                adstock=kind.value,
                adstock_params=tuple(float(v) for v in nat),
                baseline_outcome=float(baseline.sum()),
                estimate=(
                    max(float(theta[c]), 0.0) * float(omega.sum()),
                    curve.half_saturation / mean_u,
                    curve.shape,
                ),
                note="" if panel.spend[c].sum() > 0 else "input is impressions (no spend)",
                active_days=span.days if (span := ran.get(name)) is not None else 0,
                stopped=span is not None and span.stopped,
                data_share=shares.get(name),
            )
        )
    return out


def _draws(fit: MMMFit, seed: int) -> dict[int, np.ndarray]:
    """Each channel's ``(N_DRAWS, 3)`` draws of ``(β, log K/k0, log S)``, jointly over the
    channels (their correlations kept), the channels' blocks in :func:`.canonical_order`."""
    panel, layout = fit.panel, fit.layout
    order = canonical_order([float(x.sum()) for x in panel.spend],
                            [float(x.sum()) for x in panel.media], panel.channels)  # fmt: skip
    index = []
    for c in order:
        at = layout.starts[c] + layout.kinds[c].n_params
        index += [c, at, at + 1]
    cov = (fit.cov + fit.cov.T) / 2.0
    flat = paired_draws(fit.theta[index], cov[np.ix_(index, index)], N_DRAWS, seed)
    return {c: flat[:, 3 * k : 3 * k + 3] for k, c in enumerate(order)}
