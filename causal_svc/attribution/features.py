"""The model's media terms and their derivatives, for one parameter vector.

The outcome model on the geo × day panel::

    y[g, t] = B[g, t] · (1 + Σ_c m_c[g, t])
    log B[g, t] = a[g] + d[t] + Basis[t] θ[g] + Z[g, t] γ + e[g, t]
    m_c[g, t] = β_c · Hill(adstock_c(x_c[g, :])[t] / pop[g]; K_c, S_c)

so ``log y = nuisance + log(1 + Σ_c m_c) + e``. Baseline demand is multiplicative — a
holiday lifts a large and a small geo by the same proportion, and budgets chase those
proportional swings — so the day effects, geo seasonality and confounders act on ``log B``,
where they are additive. Media add to the baseline: channel ``c`` adds ``B · m_c``, a share
``m_c`` of baseline demand, so removing a channel removes exactly its term (contributions add
up, as the simulator's order streams do). ``β_c`` is the channel's share of baseline demand at
saturation; the Hill curve acts on per-capita input so one curve serves every geo size.

Parameters, in the order of the flat vector ``θ``: ``β`` (one per channel, ≥ 0), then per
channel its adstock parameters (logit decay; or log Weibull shape and scale) followed by
``log(K_c / k0_c)`` and ``log S_c``, where ``k0_c`` is the channel's median positive
per-capita input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spec import ModelSpec, NormalPrior
from .transforms import AdstockKind, adstock_weights, apply_lags, hill, hill_derivatives, lag_stack

__all__ = ["Curve", "Layout", "MediaInputs", "channel_curve", "hill_terms"]


@dataclass(frozen=True, slots=True)
class Layout:
    """Where each channel's parameters sit in ``θ``, and their priors."""

    n_channels: int
    kinds: tuple[AdstockKind, ...]
    starts: tuple[int, ...]  # index of each channel's first nonlinear parameter
    names: tuple[str, ...]  # parameter names, θ order
    priors: tuple[NormalPrior | None, ...]  # None for the β's

    @property
    def elasticity(self) -> int:
        """Index of the demand elasticity ``ε`` (the last parameter)."""
        return len(self.names) - 1

    @property
    def size(self) -> int:
        return len(self.names)

    def nonlinear(self, c: int) -> slice:
        n_ad = self.kinds[c].n_params
        return slice(self.starts[c], self.starts[c] + n_ad + 2)

    @staticmethod
    def build(channels: tuple[str, ...], spec: ModelSpec) -> Layout:
        p = spec.priors
        kinds = tuple(spec.adstock_for(c) for c in channels)
        names: list[str] = [f"beta[{c}]" for c in channels]
        priors: list[NormalPrior | None] = [None] * len(channels)
        starts = []
        for c, kind in zip(channels, kinds, strict=True):
            starts.append(len(names))
            if kind is AdstockKind.GEOMETRIC:
                names.append(f"logit_decay[{c}]")
                priors.append(p.logit_decay)
            else:
                names += [f"log_weibull_shape[{c}]", f"log_weibull_scale[{c}]"]
                if spec.carryover_chosen(c):
                    priors += [p.carryover_log_shape, p.carryover_log_scale]
                else:
                    priors += [p.log_weibull_shape, p.log_weibull_scale]
            names += [f"log_half_saturation[{c}]", f"log_hill_shape[{c}]"]
            priors += [p.log_half_saturation, p.log_hill_shape]
        names.append("demand_elasticity")
        priors.append(p.demand_elasticity)
        return Layout(len(channels), kinds, tuple(starts), tuple(names), tuple(priors))

    def initial(self) -> np.ndarray:
        theta = np.zeros(self.size)
        for i, prior in enumerate(self.priors):
            if prior is not None:
                theta[i] = prior.mean
        return theta

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo = np.array([0.0 if p is None else p.lower for p in self.priors])
        hi = np.array([np.inf if p is None else p.upper for p in self.priors])
        return lo, hi


def adstock_params(kind: AdstockKind, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Natural adstock parameters from the unconstrained ones, and d natural / d u."""
    if kind is AdstockKind.GEOMETRIC:
        d = 1.0 / (1.0 + np.exp(-u[0]))
        return np.array([d]), np.array([d * (1.0 - d)])
    nat = np.exp(u[:2])
    return nat, nat


@dataclass(frozen=True, slots=True)
class MediaInputs:
    """Per-capita media input of every channel, stacked by lag once per fit, and the per-cell
    scale of a channel's share of demand.

    ``lags[c]`` is (L, G, T); ``k0[c]`` the channel's median positive per-capita input (the
    half-saturation prior's centre); ``geo`` (G,) the geo unit (:func:`geo_unit`); ``demand``
    (G, T) the log baseline-demand index, centred per geo (what the nuisance explains of the
    log outcome; :func:`.fit.demand_index`). A channel's share of demand in a cell is
    ``β · geo · exp((ε − 1) · demand) · Hill(…)``: its effect grows with demand with elasticity
    ``ε`` while demand itself grows with elasticity 1.
    """

    lags: tuple[np.ndarray, ...]
    k0: np.ndarray
    pop: np.ndarray
    geo: np.ndarray
    demand: np.ndarray

    @staticmethod
    def build(
        media: np.ndarray,
        pop: np.ndarray,
        outcome: np.ndarray,
        demand: np.ndarray,
        max_lag: int,
    ) -> MediaInputs:
        per_capita = media / pop[None, :, None]
        k0 = np.array([float(np.median(x[x > 0])) if (x > 0).any() else 1.0 for x in per_capita])
        lags = tuple(lag_stack(x, max_lag) for x in per_capita)
        return MediaInputs(lags, k0, pop, geo_unit(outcome, pop), demand)

    def unit(self, theta: np.ndarray, layout: Layout) -> np.ndarray:
        """(G, T) multiplier of the Hill values: geo unit × demand modulation at θ."""
        eps = float(theta[layout.elasticity])
        return self.geo[:, None] * np.exp((eps - 1.0) * self.demand)


def geo_unit(outcome: np.ndarray, pop: np.ndarray) -> np.ndarray:
    """Residents per unit of outcome in each geo, relative to the panel: ``(pop/ȳ) / mean``.

    A channel's effect per resident does not grow with how much a geo buys anyway, so its share
    of a geo's outcome is its per-capita effect over the geo's per-capita outcome; without
    this factor a geo that buys more per resident (and is spent on more, as budgets follow
    affinity) would look saturated.
    """
    per = pop / np.maximum(outcome.mean(axis=1), 1e-12)
    return per / per.mean()


@dataclass(frozen=True, slots=True)
class Curve:
    """One channel's carry-over weights and Hill curve at a parameter vector."""

    weights: np.ndarray
    half_saturation: float
    shape: float


def channel_curve(layout: Layout, theta: np.ndarray, c: int, k0: float, max_lag: int) -> Curve:
    """Channel ``c``'s adstock weights and Hill parameters at ``θ``."""
    u = theta[layout.nonlinear(c)]
    n_ad = layout.kinds[c].n_params
    nat, _ = adstock_params(layout.kinds[c], u[:n_ad])
    w, _ = adstock_weights(layout.kinds[c], nat, max_lag)
    return Curve(w, k0 * float(np.exp(u[n_ad])), float(np.exp(u[n_ad + 1])))


def hill_terms(
    layout: Layout,
    lags: tuple[np.ndarray, ...],
    k0: np.ndarray,
    theta: np.ndarray,
    *,
    jacobian: bool,
    max_lag: int,
    channels: tuple[int, ...] | None = None,
    unit: np.ndarray | None = None,
) -> tuple[np.ndarray, list[tuple[int, int, np.ndarray]]]:
    """Hill values of each channel's adstocked per-capita input, and their derivatives.

    Parameters
    ----------
    lags : tuple of ndarray (L, G, T)
        Lag stacks per channel (the model's own, or a counterfactual's).
    channels : tuple of int, optional
        Channels to compute (default all); others are left at zero.
    unit : ndarray (G,), optional
        Per-geo multiplier of the Hill values (:func:`geo_unit`).

    Returns
    -------
    h : ndarray, shape (C, G, T)
    derivatives : list of (θ index, channel, ndarray (G, T))
        ``dh_c / dθ_i`` for each nonlinear parameter ``i`` of channel ``c``.
    """
    n = layout.n_channels
    shape_gt = lags[(channels or (0,))[0]].shape[1:]
    h_all = np.zeros((n, *shape_gt))
    derivs: list[tuple[int, int, np.ndarray]] = []
    if unit is None:
        scale = np.ones((shape_gt[0], 1))
    else:
        scale = np.asarray(unit)
        scale = scale[:, : shape_gt[1]] if scale.ndim == 2 else scale[:, None]
    for c in range(n) if channels is None else channels:
        sl = layout.nonlinear(c)
        u = theta[sl]
        kind = layout.kinds[c]
        n_ad = kind.n_params
        nat, dnat = adstock_params(kind, u[:n_ad])
        k_half = k0[c] * float(np.exp(u[n_ad]))
        shape = float(np.exp(u[n_ad + 1]))
        w, dw = adstock_weights(kind, nat, max_lag, grad=jacobian)
        a = apply_lags(lags[c], w)
        if not jacobian:
            h_all[c] = scale * hill(a, k_half, shape)
            continue
        h, dh_du, dh_dlogk, dh_dlogs = hill_derivatives(a, k_half, shape)
        h_all[c] = scale * h
        assert dw is not None
        da = apply_lags(lags[c], dw * dnat[:, None])  # (n_ad, G, T)
        for p in range(n_ad):
            derivs.append((sl.start + p, c, scale * dh_du * da[p]))
        derivs.append((sl.start + n_ad, c, scale * dh_dlogk))
        derivs.append((sl.start + n_ad + 1, c, scale * dh_dlogs))
    return h_all, derivs
