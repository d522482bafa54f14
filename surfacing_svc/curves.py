"""Channel response curves: spend over a period → incremental outcome over that period, with
the model's parameter draws, and their marginal returns.

The attribution model (a causal MMM on the geo × day panel) says channel ``c`` adds
``B[g,t] · β_c · Hill(a_c[g,t] / pop[g]; K_c, S_c)`` to each geo-day, ``a`` the adstocked
input and ``B`` the baseline. Scaling the channel's spend by ``r`` over the period scales every
adstocked input by ``r`` (adstock is linear), so the incremental outcome over the period is
a sum of Hill curves over the geo-days, weighted by their baseline::

    f(s) = scale · Σ_j w_j · Hill(n_j · s / s_ref; κ, S)

with ``s_ref`` the spend over the period at current levels, ``n_j`` the geo-days' inputs
relative to their (baseline-weighted) mean, grouped into a few quadrature nodes of weight
``w_j`` (Σ w = 1), ``κ`` the half-saturation relative to that mean, and ``scale = β Σ B`` the
outcome at saturation. One node at 1 is a single national Hill curve. Parameter uncertainty
travels as draws of ``(scale, κ, S)``; every figure computed from a curve is computed per
draw, so intervals of sums and differences come out paired.

A future period of ``N`` days is the same curve with ``s_ref`` and ``scale`` scaled by
``N / period_days`` (and ``scale`` by the baseline's expected level, when it moves).

Notes
-----
Jin, Wang, Sun, Chan & Koehler (2017), "Bayesian methods for media mix modeling with carryover
and shape effects" (Hill); Meridian's response curves (Google, 2024) are the same object read
at spend multipliers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["EXTRAPOLATION_RATIO", "HillCurve", "adstocked"]

# Beyond this multiple of the spend the model saw, a curve is extrapolation; plans say so.
EXTRAPOLATION_RATIO = 2.0


@dataclass(frozen=True, slots=True)
class HillCurve:
    """One channel's response over a period, with parameter draws.

    Attributes
    ----------
    channel : str
    reference_spend : float
        Spend over the period at current levels (> 0).
    period_days : int
    scale, half_saturation, shape : ndarray, shape (D,)
        Per draw: outcome at saturation over the period, ``κ`` and ``S``.
    nodes, node_weights : ndarray, shape (J,)
        Relative inputs and their weights (sum 1).
    carryover : ndarray, shape (L,)
        Adstock lag weights (sum 1), for day-by-day predictions; ``[1.0]`` without carryover.
    identified : bool
        False when the analysis could not identify the channel's effect (it is then never
        moved by the optimiser).
    note : str
        Why the channel is not identified, or another caveat from the analysis.
    """

    channel: str
    reference_spend: float
    period_days: int
    scale: np.ndarray
    half_saturation: np.ndarray
    shape: np.ndarray
    nodes: np.ndarray = field(default_factory=lambda: np.ones(1))
    node_weights: np.ndarray = field(default_factory=lambda: np.ones(1))
    carryover: np.ndarray = field(default_factory=lambda: np.ones(1))
    identified: bool = True
    note: str = ""

    def __post_init__(self) -> None:
        if not self.reference_spend > 0:
            raise ValueError(f"{self.channel}: reference_spend must be > 0")
        sizes = {np.asarray(a).shape for a in (self.scale, self.half_saturation, self.shape)}
        if len(sizes) != 1:
            raise ValueError(f"{self.channel}: draws of different lengths")
        if np.asarray(self.nodes).shape != np.asarray(self.node_weights).shape:
            raise ValueError(f"{self.channel}: nodes and node_weights differ in length")

    @property
    def n_draws(self) -> int:
        return int(np.asarray(self.scale).size)

    def _terms(self, spend: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per draw and node: the Hill value h and ``S h (1 − h)`` at ``spend``, and the
        relative input u; shapes (D, ..., J)."""
        r = np.asarray(spend, dtype=np.float64) / self.reference_spend
        u = np.maximum(r[..., None] * self.nodes, 0.0)  # (..., J)
        extra = (1,) * u.ndim
        kappa = np.asarray(self.half_saturation).reshape(-1, *extra)
        s = np.asarray(self.shape).reshape(-1, *extra)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            ratio = np.power(kappa / u[None], s)
        h = np.where(u[None] > 0, 1.0 / (1.0 + ratio), 0.0)
        return h, s * h * (1.0 - h), np.broadcast_to(u[None], h.shape)

    def outcome(self, spend: float | np.ndarray) -> np.ndarray:
        """Incremental outcome over the period at ``spend``, per draw: shape (D, *spend.shape)."""
        h, _, _ = self._terms(np.asarray(spend))
        scale = np.asarray(self.scale).reshape(-1, *(1,) * (h.ndim - 1))
        return scale[..., 0] * (h @ self.node_weights)

    def marginal(self, spend: float | np.ndarray) -> np.ndarray:
        """d outcome / d spend at ``spend``, per draw: shape (D, *spend.shape)."""
        _, g, u = self._terms(np.asarray(spend))
        r = np.asarray(spend, dtype=np.float64) / self.reference_spend
        # dh/ds = S h (1 − h) / u · du/ds, du/ds = n / s_ref; written as g · n / (r · n) → g / r
        # per node but kept in the node form so s = 0 with S ≤ 1 is handled by the limit.
        with np.errstate(divide="ignore", invalid="ignore"):
            per_node = np.where(u > 0, g / np.where(u > 0, u, 1.0), 0.0) * (
                self.nodes / self.reference_spend
            )
        at_zero = np.asarray(r)[None, ..., None] == 0
        if np.any(at_zero):  # S < 1: infinite slope at 0; S = 1: 1/κ; S > 1: 0
            kappa = np.asarray(self.half_saturation).reshape(-1, *(1,) * (u.ndim - 1))
            s = np.asarray(self.shape).reshape(-1, *(1,) * (u.ndim - 1))
            limit = np.where(s == 1.0, 1.0 / kappa, np.where(s < 1.0, np.inf, 0.0))
            moving = self.nodes > 0  # a node with no input never moves, whatever the spend
            with np.errstate(invalid="ignore"):
                slope = np.where(moving, limit * self.nodes / self.reference_spend, 0.0)
            per_node = np.where(at_zero, slope, per_node)
        scale = np.asarray(self.scale).reshape(-1, *(1,) * (u.ndim - 2))
        with np.errstate(invalid="ignore"):
            slopes = scale * (per_node @ self.node_weights)
        # a draw with no effect (scale 0, the non-negative fit's boundary) has slope 0 at
        # zero spend too, not 0 · ∞
        return np.where(scale == 0, 0.0, slopes)

    def mean_value_and_slope(self, spend: float) -> tuple[float, float]:
        """Mean outcome and mean marginal return over draws at one ``spend`` > 0, from one
        evaluation of the Hill terms (the optimiser's inner loop)."""
        if spend <= 0:
            return float(self.mean_outcome(0.0)), float(self.mean_marginal(0.0))
        h, g, u = self._terms(np.asarray(spend))
        scale = np.asarray(self.scale)
        value = float(scale @ (h @ self.node_weights)) / scale.size
        with np.errstate(divide="ignore", invalid="ignore"):
            per_node = np.where(u > 0, g / np.where(u > 0, u, 1.0), 0.0) * self.nodes
        slope = float(scale @ (per_node @ self.node_weights)) / scale.size / self.reference_spend
        return value, slope

    def value_and_slope(self, spend: float) -> tuple[np.ndarray, np.ndarray]:
        """Per draw, the outcome and the marginal return at one ``spend`` > 0, from one
        evaluation of the Hill terms (the risk-adjusted optimiser's inner loop)."""
        h, g, u = self._terms(np.asarray(spend))
        scale = np.asarray(self.scale)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_node = np.where(u > 0, g / np.where(u > 0, u, 1.0), 0.0) * self.nodes
        return (
            scale * (h @ self.node_weights),
            scale * (per_node @ self.node_weights) / self.reference_spend,
        )

    def mean_outcome(self, spend: float | np.ndarray) -> np.ndarray:
        """The outcome averaged over draws (what the optimiser maximises)."""
        return self.outcome(spend).mean(axis=0)

    def mean_marginal(self, spend: float | np.ndarray) -> np.ndarray:
        return self.marginal(spend).mean(axis=0)

    def extrapolation(
        self, spend: float, *, what: str = "the plan", usual: float | None = None
    ) -> str | None:
        """The warning for ``spend`` over the curve's period beyond ``EXTRAPOLATION_RATIO`` ×
        the spend the model saw (None within it): the curve there is the fitted shape carried
        past the data, whatever it says (a saturated curve adds almost nothing).

        ``usual``: the channel's business-as-usual spend over the period, where the plan was
        stated against it (PredictPerformance's multipliers scale it, not the level the curve
        was fitted around). The model saw both levels, so the plan is extrapolation only beyond
        ``EXTRAPOLATION_RATIO`` × each, and the warning gives both ratios with their bases
        (one "current level" read ×5.5 for a plan typed as ×5, R29 F2)."""
        ratio = spend / self.reference_spend
        if usual is None:
            if not ratio > EXTRAPOLATION_RATIO:
                return None
            return (f"{self.channel}: {what} spends {ratio:,.1f}× its current level, beyond "
                    "what the model saw; its curve there is extrapolation")  # fmt: skip
        over_usual = spend / usual if usual > 0 else np.inf
        if not min(ratio, over_usual) > EXTRAPOLATION_RATIO:
            return None
        days = self.period_days
        against = (
            f"{over_usual:,.1f}× its business-as-usual spend ({usual / days:,.0f} a day, the "
            "spend a multiplier scales)"
            if usual > 0
            else f"{spend / days:,.0f} a day where its business-as-usual spend is 0"
        )
        return (f"{self.channel}: {what} spends {against} and {ratio:,.1f}× the analysis "
                f"window's mean ({self.reference_spend / days:,.0f} a day, the level its curve "
                "was fitted around), beyond what the model saw; its curve there is "
                "extrapolation")  # fmt: skip

    def over(self, days: int, *, level: float = 1.0) -> HillCurve:
        """The same channel over a period of ``days`` at the same daily spend pattern, with the
        baseline at ``level`` times its level in the reference period."""
        factor = days / self.period_days
        return replace(
            self,
            reference_spend=self.reference_spend * factor,
            period_days=days,
            scale=np.asarray(self.scale) * factor * level,
        )

    def share(self, relative_input: np.ndarray) -> np.ndarray:
        """Per draw, the outcome added per unit of outcome at saturation scale, at inputs
        relative to the reference (day-by-day prediction): shape (D, *relative_input.shape)."""
        h, _, _ = self._terms(np.asarray(relative_input) * self.reference_spend)
        return h @ self.node_weights


def adstocked(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sum_l w_l x_{t-l}`` along the last axis (zeros before the first day)."""
    out = np.zeros_like(x, dtype=np.float64)
    n = x.shape[-1]
    for lag, w in enumerate(np.asarray(weights, dtype=np.float64)):
        if lag >= n:
            break
        out[..., lag:] += w * x[..., : n - lag]
    return out
