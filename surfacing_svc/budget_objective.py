"""The objective :mod:`surfacing_svc.optimizer` solves: a plan's expected (or risk-adjusted)
outcome per unit of budget and its analytic gradient in the budget shares, over the curves'
parameter draws (see the optimizer's docstring for the problem)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mesh.runtime.cancellation import checkpoint
from surfacing_svc.curves import HillCurve

__all__ = ["BudgetProblem", "CurveStack"]


class CurveStack:
    """The curves' draws stacked over channels, so that one numpy evaluation gives every
    channel's per-draw outcome and marginal return at a spend vector: the objective's cost was
    one Python-level Hill evaluation per channel per step (26 channels: 7 ms a step, 45k steps
    on an audit's analysis). The same arithmetic as :meth:`HillCurve.value_and_slope`; curves
    with fewer quadrature nodes are padded with nodes of weight zero."""

    __slots__ = ("log_kappa", "nodes", "reference", "scale", "shape", "weights")

    def __init__(self, curves: Sequence[HillCurve]) -> None:
        width = max(np.asarray(c.nodes).size for c in curves)

        def padded(c: HillCurve) -> tuple[np.ndarray, np.ndarray]:
            n, w = np.asarray(c.nodes, np.float64), np.asarray(c.node_weights, np.float64)
            extra = width - n.size
            return np.pad(n, (0, extra), constant_values=1.0), np.pad(w, (0, extra))

        pads = [padded(c) for c in curves]
        self.nodes = np.stack([n for n, _ in pads])  # (C, J)
        self.weights = np.stack([w for _, w in pads])[:, :, None]  # (C, J, 1)
        self.reference = np.array([c.reference_spend for c in curves])  # (C,)
        kappa = np.stack([np.asarray(c.half_saturation, np.float64) for c in curves])
        with np.errstate(divide="ignore"):
            self.log_kappa = np.log(kappa)[..., None]  # (C, D, 1)
        self.shape = np.stack([np.asarray(c.shape, np.float64) for c in curves])[..., None]
        self.scale = np.stack([np.asarray(c.scale, np.float64) for c in curves])  # (C, D)

    def value_and_slope(self, spend: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per channel and draw, the outcome and the marginal return at ``spend`` (C,) > 0:
        two arrays of shape (C, D)."""
        u = np.maximum((spend / self.reference)[:, None] * self.nodes, 0.0)[:, None, :]
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            # (κ/u)^S as exp(S (log κ − log u)): the logs are per channel and node, not per
            # draw, and exp is several times cheaper than pow. A node without input (u = 0)
            # gives ratio inf, h 0: it adds nothing, as in HillCurve.
            h = 1.0 / (1.0 + np.exp(self.shape * (self.log_kappa - np.log(u))))
        # dh/ds per node is S h (1 − h) n / (u s_ref) = S h (1 − h) / s: one division per
        # channel instead of one per draw and node.
        out = self.scale * (h @ self.weights)[..., 0]
        spread = ((h - h * h) @ self.weights)[..., 0]
        slope = self.scale * self.shape[..., 0] * spread / spend[:, None]
        return out, slope


@dataclass(frozen=True, slots=True)
class BudgetProblem:
    curves: tuple[HillCurve, ...]
    lo: np.ndarray
    hi: np.ndarray
    budget: float
    a: float
    b: float
    equality: bool
    # Risk adjustment: z, and per draw the objective at the current mix (the gains' origin).
    z: float = 0.0
    origin: np.ndarray | None = None
    # The curves stacked (None where their numbers of draws differ: one curve at a time).
    stack: CurveStack | None = None

    def value(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Objective per unit of budget, and its gradient in the budget shares ``x``."""
        # Every SLSQP step of every start comes here (~0.5 ms apart): where an abandoned
        # call's work stops.
        checkpoint()
        s = x * self.budget
        # The slope at exactly zero is infinite for a Hill shape below one; a hair above zero
        # it is finite and just as telling.
        floor = 1e-9 * self.budget
        if self.z > 0 and self.origin is not None:
            return self._risk_adjusted(np.maximum(s, floor), float(s.sum()))
        if self.stack is not None:
            out, slopes = self.stack.value_and_slope(np.maximum(s, floor))
            v = self.a * float(out.mean(axis=1).sum()) - self.b * float(s.sum())
            return v / self.budget, self.a * slopes.mean(axis=1) - self.b
        v, g = 0.0, np.empty(x.size)
        for i, c in enumerate(self.curves):
            value, slope = c.mean_value_and_slope(max(float(s[i]), floor))
            v += self.a * value - self.b * s[i]
            g[i] = self.a * slope - self.b
        return v / self.budget, g

    def _risk_adjusted(self, s: np.ndarray, spent: float) -> tuple[float, np.ndarray]:
        """``mean Δ − z sd Δ`` over draws (Δ the gain over the current mix) and its gradient;
        the sd is smoothed at zero (the current mix itself) so the gradient stays finite."""
        assert self.origin is not None
        if self.stack is not None:
            out, slopes = self.stack.value_and_slope(s)  # (C, D) each
        else:
            pairs = [c.value_and_slope(float(s[i])) for i, c in enumerate(self.curves)]
            out, slopes = np.stack([v for v, _ in pairs]), np.stack([g for _, g in pairs])
        slopes = self.a * slopes
        gain = self.a * out.sum(axis=0) - self.b * spent - self.origin
        centred = gain - gain.mean()
        eps = 1e-9 * max(float(np.abs(self.origin).mean()), 1.0)
        sd = float(np.sqrt(centred @ centred / gain.size + eps**2))
        grad = slopes.mean(axis=1) - self.b - self.z * (slopes @ centred) / gain.size / sd
        return (float(gain.mean()) - self.z * sd) / self.budget, grad
