"""Demand per product and day: a baseline, the channels' direct lift, and the cross-effects.

Expected revenue (org currency, net of discount) of product ``q`` on day ``t``::

    E[q, t] = base[q, t] + sum_c ( D[c, q, t] + sum_p halo[p -> q] - sum_p cann[p -> q] )
    base[q, t]  = N * share[q] * exp(index[t] + season[cat(q), t] + elasticity * disc[q, t])
                  * qbar * price[q] * (1 - disc[q, t]) * launched[q, t]
    D[c, q, t]  = roas[c, k] * K[c, k] * hill(A[c, k, t] / K[c, k]) * a[c, q, t] / A[c, k, t]
    halo[p -> q] = halo[p] * D[c, p, t] * w[q]   (siblings of p other than its substitute)
    cann[p -> s] = cann[p] * D[c, p, t] * f[s, t]   (s = p's substitute; f <= 1 shrinks all
                   of s's losses where together they would pass 90% of its baseline)

``a[c, q, t]`` is the geometric adstock (decay per channel) of channel ``c``'s spend on ``q``,
``A[c, k, t]`` its sum over category ``k``; ``hill(u) = u / (1 + u)``. So a channel's direct
revenue in a category saturates in the category's total adstock and is shared among its
products by their adstock. Line items are Poisson with mean ``E / (qbar price (1 - disc))``,
each of quantity 1 or 2 (P(2) = 0.15, so ``qbar = 1.15``).

Notes
-----
Halo and cannibalisation as shares of the promoted product's lift follow the cross-promotional
effects literature, e.g. Van Heerde, Leeflang & Wittink (2004), "Decomposing the sales
promotion bump with store data", Marketing Science 23(3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .catalogue import Catalogue
from .plan import PRODUCT_CHANNELS, Plan

QTY_TWO = 0.15
QBAR = 1.0 + QTY_TWO
DISCOUNT_ELASTICITY = 2.5


def geometric_adstock(x: np.ndarray, decay: float) -> np.ndarray:
    """Normalised geometric adstock along the last axis (as in ``sim.media``)."""
    out = np.empty_like(x, dtype=np.float64)
    carry = np.zeros(x.shape[:-1])
    for t in range(x.shape[-1]):
        carry = (1.0 - decay) * x[..., t] + decay * carry
        out[..., t] = carry
    return out


@dataclass(frozen=True, slots=True)
class Response:
    """Expected revenue decomposition, all (…, T) float64 in org currency."""

    base: np.ndarray  # (P, T)
    direct: np.ndarray  # (Ch, P, T) D[c, p, t]
    cross: np.ndarray  # (Ch, P, P, T) signed effect of p's lift on q: [c, p, q, t]
    params: dict[str, dict[str, dict[str, float]]]  # channel -> category -> {roas, K, decay}

    @property
    def expected(self) -> np.ndarray:
        """(P, T) expected revenue."""
        return self.base + self.direct.sum(axis=0) + self.cross.sum(axis=(0, 1))


def respond(
    rng: np.random.Generator, catalogue: Catalogue, plan: Plan, base: np.ndarray
) -> Response:
    """Draw the response parameters and compute the expected revenue decomposition."""
    n_p, n_t = base.shape
    chan = np.array([PRODUCT_CHANNELS.index(c.channel) for c in plan.campaigns], dtype=np.int64)
    direct = np.zeros((len(PRODUCT_CHANNELS), n_p, n_t))
    cross = np.zeros((len(PRODUCT_CHANNELS), n_p, n_p, n_t))
    params: dict[str, dict[str, dict[str, float]]] = {}
    launched = plan.launched.astype(np.float64)
    for c, name in enumerate(PRODUCT_CHANNELS):
        decay = float(rng.uniform(0.3, 0.6) if name == "meta_catalogue" else rng.uniform(0.1, 0.4))
        spend = plan.spend[chan == c].sum(axis=0) if (chan == c).any() else np.zeros((n_p, n_t))
        a = geometric_adstock(spend, decay)
        params[name] = {}
        for cat in catalogue.categories:
            m = np.array(cat.products)
            total = a[m].sum(axis=0)
            positive = total[total > 0]
            k_half = float(positive.mean() * rng.uniform(1.5, 4.0)) if positive.size else 1.0
            roas = float(rng.uniform(1.5, 4.5))
            params[name][cat.name] = {"roas": roas, "half_saturation": k_half, "decay": decay}
            cat_rev = roas * k_half * (total / k_half) / (1.0 + total / k_half)
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(total > 0, a[m] / total, 0.0)
            direct[c, m] = cat_rev[None, :] * share
        for p in catalogue.products:
            lift = direct[c, p.index]
            if p.halo > 0:
                sibs = [
                    q
                    for q in catalogue.in_category(p.category)
                    if q.index not in (p.index, p.substitute)
                ]
                if sibs:
                    w = (
                        np.array([q.base_share for q in sibs])[:, None]
                        * launched[[q.index for q in sibs]]
                    )
                    w = w / np.maximum(w.sum(axis=0, keepdims=True), 1e-12)
                    for q, wq in zip(sibs, w, strict=True):
                        cross[c, p.index, q.index] += p.halo * lift * wq
            if p.substitute is not None and p.cannibalisation > 0:
                cross[c, p.index, p.substitute] -= p.cannibalisation * lift
    # A substitute never loses more than 90% of its baseline to all its cannibalisers and
    # channels together: where the sum would exceed that, every loss shrinks by one factor.
    loss = -np.clip(cross, None, 0.0).sum(axis=(0, 1))  # (P, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(loss > 0.9 * base, 0.9 * base / loss, 1.0)
    cross = np.where(cross < 0, cross * factor[None, None], cross)
    return Response(base, direct, cross, params)
