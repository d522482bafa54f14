"""First-party outcomes (the business's own orders and revenue per geo-day) and their
potential outcomes.

Orders are a sum of independent Poisson streams, one for baseline demand and one per channel::

    orders[g, t]  = B[g, t] + sum_c N_c[g, t]
    B   ~ Poisson(lambda_base[g, t])                       (see sim.demand)
    N_c ~ Poisson(lambda_c[g, t])
    lambda_c[g, t] = beta_c * pop[g] * exp(rho_c * log_index[g, t])
                     * Hill(adstock_c(x_c[g, :])[t] / pop[g]; K_c, S_c)

``x_c`` is the channel's daily input in the geo (org-currency spend, or recipients for Klaviyo
email), ``pop`` in millions. Each order's value is Gamma(k, aov / k), so a stream of ``n`` orders
has revenue Gamma(k n, aov / k). Revenue is rounded to cents.

Counterfactual worlds reuse the factual draws (common random numbers): lowering a channel's
intensity thins its stream binomially (revenue split by a Beta draw, exact for Gamma sums);
raising it adds an independent Poisson stream. So ``Y(1) - Y(0)`` is exact per unit-day.

Notes
-----
Superposition and thinning of Poisson processes: Kingman (1993), "Poisson Processes", ch. 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .channels import BY_NAME, CHANNEL_NAMES
from .media import adstock, hill

GAMMA_SHAPE_PER_ORDER = 2.0


@dataclass(frozen=True, slots=True)
class Draws:
    """Factual outcome draws of one org: arrays (G, T) or (C, G, T) over channels."""

    base: np.ndarray  # int64 baseline orders
    channel_orders: np.ndarray  # (7, G, T) int64
    base_revenue: np.ndarray  # float64, unrounded
    channel_revenue: np.ndarray  # (7, G, T) float64, unrounded

    @property
    def orders(self) -> np.ndarray:
        return self.base + self.channel_orders.sum(axis=0)

    @property
    def revenue_exact(self) -> np.ndarray:
        total = self.base_revenue.copy()
        for c in range(self.channel_revenue.shape[0]):
            total = total + self.channel_revenue[c]
        return total

    @property
    def revenue(self) -> np.ndarray:
        return np.round(self.revenue_exact, 2)


def draw_media_params(
    rng: np.random.Generator,
    aov: float,
    effect_scale: dict[str, float],
    no_carryover: tuple[str, ...],
) -> dict[str, dict[str, Any]]:
    """Per-channel response parameters of one org (JSON-able; the truth file's ``media``)."""
    out: dict[str, dict[str, Any]] = {}
    for name in CHANNEL_NAMES:
        spec = BY_NAME[name]
        typical = spec.typical
        k_half = spec.k_ratio * typical * float(rng.uniform(0.8, 1.25))
        shape = spec.hill_shape * float(rng.uniform(0.9, 1.1))
        target = spec.target_return * float(rng.uniform(0.7, 1.3))
        if name in no_carryover:
            ad: dict[str, Any] = {"type": "geometric", "decay": 0.0}
        elif spec.adstock == "geometric":
            ad = {
                "type": "geometric",
                "decay": float(np.clip(spec.decay + rng.normal(0, 0.05), 0.0, 0.9)),
            }
        else:
            ad = {
                "type": "weibull",
                "shape": spec.weibull_shape * float(rng.uniform(0.9, 1.1)),
                "scale": spec.weibull_scale * float(rng.uniform(0.85, 1.15)),
                "max_lag": 28,
            }
        # beta: orders per million residents per day at saturation, set so that at the typical
        # input the channel returns `target` revenue per unit of input.
        h = float(hill(np.array(typical), k_half, shape))
        beta = target * typical / (aov * h) * effect_scale.get(name, 1.0)
        out[name] = {
            "input": spec.input,
            "adstock": ad,
            "hill": {"half_saturation": k_half, "shape": shape},
            "beta": beta,
            "demand_elasticity": 0.5,
            "target_return_at_typical": target * effect_scale.get(name, 1.0),
            "typical_input_per_million": typical,
        }
    return out


def base_lambda(
    base_rate: float, pop: np.ndarray, affinity: np.ndarray, log_index: np.ndarray
) -> np.ndarray:
    """Mean baseline orders (G, T)."""
    return base_rate * (pop * affinity)[:, None] * np.exp(log_index)


def channel_lambda(
    x: np.ndarray, pop: np.ndarray, log_index: np.ndarray, params: dict[str, Any]
) -> np.ndarray:
    """Mean incremental orders of one channel (G, T) from its daily input ``x`` (G, T)."""
    hp = params["hill"]
    a = adstock(x, params["adstock"])  # type: ignore[arg-type]
    resp = hill(a / pop[:, None], float(hp["half_saturation"]), float(hp["shape"]))  # type: ignore[index]
    scale = (
        float(params["beta"])
        * pop[:, None]
        * np.exp(  # type: ignore[arg-type]
            float(params["demand_elasticity"]) * log_index
        )
    )  # type: ignore[arg-type]
    return scale * resp


def draw_outcomes(
    rng: np.random.Generator, lam_base: np.ndarray, lam_channels: np.ndarray, aov: float
) -> Draws:
    """The documented draw order: baseline orders, each channel's orders (channel order),
    baseline revenue, each channel's revenue."""
    k = GAMMA_SHAPE_PER_ORDER
    base = rng.poisson(lam_base)
    n = np.stack([rng.poisson(lam_channels[c]) for c in range(lam_channels.shape[0])])
    rev_base = rng.gamma(k * base, aov / k)
    rev = np.stack([rng.gamma(k * n[c], aov / k) for c in range(n.shape[0])])
    return Draws(base, n, rev_base, rev)


def couple(
    rng: np.random.Generator,
    n_f: np.ndarray,
    rev_f: np.ndarray,
    lam_f: np.ndarray,
    lam_a: np.ndarray,
    aov: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Orders and revenue of a channel stream under another intensity ``lam_a``, coupled to the
    factual draw ``(n_f, rev_f)`` at intensity ``lam_f``.

    Returns
    -------
    (n_a, rev_a) : ndarrays like ``n_f``
    """
    k = GAMMA_SHAPE_PER_ORDER
    lower = lam_a < lam_f
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.where(lower & (lam_f > 0), lam_a / lam_f, 1.0)
    thinned = rng.binomial(n_f, np.clip(keep, 0.0, 1.0))
    extra = rng.poisson(np.where(lower, 0.0, lam_a - lam_f))
    n_a = np.where(lower, thinned, n_f + extra)
    # Revenue: the kept orders' share of a Gamma sum is Beta(k n_a, k (n_f - n_a)).
    a = k * np.where(lower, thinned, 1)
    b = k * np.where(lower, n_f - thinned, 1)
    split = rng.beta(np.maximum(a, 1e-9), np.maximum(b, 1e-9))
    split = np.where(lower & (thinned == n_f), 1.0, split)
    split = np.where(lower & (thinned == 0), 0.0, split)
    added = rng.gamma(k * extra, aov / k)
    rev_a = np.where(lower, rev_f * split, rev_f + added)
    return n_a, rev_a


def channel_index(name: str) -> int:
    return CHANNEL_NAMES.index(name)
