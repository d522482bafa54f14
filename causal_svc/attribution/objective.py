"""The penalised least-squares objective of the MMM: residuals and Jacobian, cached by θ.

One residual vector (see :mod:`.fit` for why each block is there)::

    r = [ sqrt(w / κ) · (P log y − P log(1 + M))         data rows (geo-days or days)
          (u − prior mean) / prior sd                     one per nonlinear parameter
          contribution_c / (roi scale · spend_c)          one per channel: the effect prior
          (predicted lift − measured lift) / lift stderr ] one per lift test

with ``M = Σ_c β_c · unit · Hill_c`` (:mod:`.features`). ``P`` is the nuisance projection for
the chosen identification (:mod:`.within`), linear, so the Jacobian of the data rows is ``P``
applied to the derivatives of ``log(1 + M)``.

A channel's contribution over a set of cells is ``Σ y · β_c unit h_c / (1 + M)`` — the outcome
minus the outcome without the channel — so the effect prior and a lift test are the same
computation: a lift test compares the spend as run with a counterfactual spend in some cells,
the prior compares it with no spend at all in every cell, against a measured lift of zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .calibration import PreparedLift
from .features import Layout, MediaInputs, hill_terms
from .panel import MediaPanel
from .spec import Identification
from .transforms import lag_stack
from .within import Projection, orthonormal

__all__ = ["LiftData", "MediaState", "Objective", "lift_data", "prior_lifts", "t_residual"]


@dataclass(frozen=True, slots=True)
class LiftData:
    """A comparison of the spend as run with a counterfactual one, over some cells.

    ``geos`` over days [a, b); ``y`` the observed outcome there; ``lags_cf`` the counterfactual
    per-capita lag stack of the channel (L, Gs, b), or None when the counterfactual is no spend
    at all (the effect prior), whose Hill values are zero. ``df``: degrees of freedom of
    ``stderr`` (``inf``: stated, as a prior's scale; finite: a lift test's estimated standard
    error, see :class:`.calibration.LiftTest`).
    """

    channel: int
    geos: np.ndarray
    a: int
    b: int
    y: np.ndarray
    lags_cf: np.ndarray | None
    lift: float
    stderr: float
    df: float = float("inf")
    # The effect prior's Student-t degrees of freedom (inf: normal; see ``Priors.effect_df``).
    tail: float = float("inf")

    def covers(self, shape: tuple[int, ...]) -> bool:
        """Whether the lift's cells are the whole (G, T) array."""
        return self.geos.size == shape[0] and self.a == 0 and self.b == shape[1]

    def cells(self, shape: tuple[int, ...]) -> tuple[Any, Any]:
        """Index of the lift's geos × days in a (G, T) array (plain slices when it is all)."""
        if self.covers(shape):
            return slice(None), slice(None)
        ix = np.ix_(self.geos, np.arange(self.a, self.b))
        return ix[0], ix[1]


def lift_data(panel: MediaPanel, prepared: Sequence[PreparedLift], max_lag: int) -> list[LiftData]:
    out = []
    for p in prepared:
        pop = panel.population[p.geos]
        x = panel.media[p.channel][p.geos, : p.b] / pop[:, None]
        if p.counterfactual is not None:  # a dark cell: its spend restored (calibration)
            x[:, p.a : p.b] = p.counterfactual / pop[:, None]
        else:
            x[:, p.a : p.b] *= p.test.counterfactual_multiplier
        lags = None if not x.any() and p.a == 0 else lag_stack(x, max_lag)
        out.append(
            LiftData(p.channel, p.geos, p.a, p.b, panel.outcome[p.geos, p.a : p.b], lags,
                     p.test.lift, p.test.stderr, p.test.df)
        )  # fmt: skip
    return out


def prior_lifts(
    panel: MediaPanel, roi_scale: float, share_scale: float, tail: float = float("inf")
) -> list[LiftData]:
    """The effect prior of every channel as a lift of zero with the prior's scale as stderr
    (and, with a finite ``tail``, a Student-t's heavier tail: :func:`t_residual`)."""
    total = float(panel.outcome.sum())
    spend = panel.spend.sum(axis=(1, 2))
    per_dollar = total / max(float(spend.sum()), 1e-12)
    out = []
    for c in range(panel.n_channels):
        scale = roi_scale * per_dollar * spend[c] if spend[c] > 0 else share_scale * total
        out.append(
            LiftData(c, np.arange(panel.n_geos), 0, panel.n_days, panel.outcome, None, 0.0,
                     max(scale, 1e-12), tail=tail)
        )  # fmt: skip
    return out


def t_residual(x: float, nu: float) -> tuple[float, float]:
    """A Student-t prior row as a least-squares residual ``r`` and ``dr/dx``, for ``x`` the
    standardised effect: ``r²/2 = (ν+1)/2 · log(1 + x²/(ν+1))`` — the t's negative log
    density with its scale widened by ``sqrt((ν+1)/ν)``, which makes its curvature at 0 the
    normal's (``r ≈ x`` near 0) while its pull ``x / (1 + x²/(ν+1))`` fades past
    ``sqrt(ν+1)`` prior scales. ``ν = inf`` is the normal row ``r = x``."""
    if not np.isfinite(nu):
        return x, 1.0
    q = x * x / (nu + 1.0)
    if q < 1e-12:
        return x, 1.0
    r = float(np.sign(x) * np.sqrt((nu + 1.0) * np.log1p(q)))
    return r, (x / (1.0 + q)) / r


@dataclass(frozen=True, slots=True)
class MediaState:
    """Media terms at one θ: unit-scaled Hill values ``h`` (C, G, T), ``m = 1 + M`` (G, T), the
    Hill derivatives per nonlinear parameter, and ``dm = dM/dθ`` (P, G, T) when asked for."""

    h: np.ndarray
    m: np.ndarray
    derivs: list[tuple[int, int, np.ndarray]]
    dm: np.ndarray | None


class Objective:
    """Residuals and Jacobian at θ (computed together; the last evaluation is cached)."""

    def __init__(
        self,
        layout: Layout,
        inputs: MediaInputs,
        log_y: np.ndarray,
        projection: Projection,
        identification: Identification,
        row_weight: np.ndarray,
        lifts: Sequence[LiftData],
        max_lag: int,
        instruments: np.ndarray | None = None,
    ) -> None:
        self.layout = layout
        self.inputs = inputs
        self.projection = projection
        self.national = identification is Identification.NATIONAL
        self.project = projection.national if self.national else projection.geo
        self.y_proj = self.project(log_y)
        # Row weights: (T,) for national rows, (G, 1) for geo rows.
        self.row_weight = np.asarray(row_weight, dtype=np.float64)
        self.sw = np.sqrt(self.row_weight) if self.national else np.sqrt(self.row_weight)[:, None]
        self.lifts = list(lifts)
        self.max_lag = max_lag
        idx = [i for i, p in enumerate(layout.priors) if p is not None]
        self.prior_idx = np.array(idx, dtype=np.int64)
        self.prior_mean = np.array([layout.priors[i].mean for i in idx])  # type: ignore[union-attr]
        self.prior_sd = np.array([layout.priors[i].sd for i in idx])  # type: ignore[union-attr]
        # Geo rows' count; the data rows of the fit are these, or (instrumented) their
        # projections on the instruments.
        self.n_full = self.y_proj.size
        self.moments: np.ndarray | None = None
        if instruments is not None:
            z = self.project(np.asarray(instruments, dtype=np.float64)) * self.sw[None]
            self.moments = orthonormal(z.reshape(z.shape[0], -1).T)
        self.n_data = self.n_full if self.moments is None else self.moments.shape[1]
        self._cache: tuple[bytes, bool, np.ndarray, np.ndarray | None] | None = None

    @property
    def n_rows(self) -> int:
        return self.n_data + self.prior_idx.size + len(self.lifts)

    def media(self, theta: np.ndarray, *, jacobian: bool) -> MediaState:
        """The media terms at θ (and, with ``jacobian``, ``dM/dθ`` for every parameter)."""
        layout = self.layout
        n = layout.n_channels
        unit = self.inputs.unit(theta, layout)
        h, derivs = hill_terms(
            layout, self.inputs.lags, self.inputs.k0, theta, jacobian=jacobian,
            max_lag=self.max_lag, unit=unit,
        )  # fmt: skip
        m = 1.0 + np.tensordot(theta[:n], h, axes=([0], [0]))
        dm = None
        if jacobian:
            dm = np.empty((layout.size, *m.shape))
            dm[:n] = h
            for i, c, d in derivs:
                np.multiply(d, theta[c], out=dm[i])
            np.multiply(m - 1.0, self.inputs.demand, out=dm[layout.elasticity])
        return MediaState(h, m, derivs, dm)

    def evaluate(
        self, theta: np.ndarray, *, jacobian: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(residuals, Jacobian or None) at θ."""
        key = theta.tobytes()
        if self._cache is not None and self._cache[0] == key and (self._cache[1] or not jacobian):
            return self._cache[2], self._cache[3] if jacobian else None
        layout = self.layout
        st = self.media(theta, jacobian=jacobian)
        r_data, jd = self._data_rows(st)
        jac = None
        if self.moments is not None:
            r_data = self.moments.T @ r_data
            jd = None if jd is None else self.moments.T @ jd
        if jd is not None:
            jac = np.zeros((self.n_rows, layout.size))
            jac[: self.n_data] = jd
            jac[self.n_data + np.arange(self.prior_idx.size), self.prior_idx] = 1.0 / self.prior_sd
        r_prior = (theta[self.prior_idx] - self.prior_mean) / self.prior_sd
        r_lift = np.zeros(len(self.lifts))
        base = self.n_data + self.prior_idx.size
        for k, d in enumerate(self.lifts):
            pred, grad = self.lift(theta, d, st, gradient=jac is not None)
            r_lift[k], slope = t_residual((pred - d.lift) / d.stderr, d.tail)
            if jac is not None:
                assert grad is not None
                # (a normal row's slope is 1: divided as before, so its rounding is too)
                jac[base + k] = grad / d.stderr if slope == 1.0 else grad * (slope / d.stderr)
        r = np.concatenate([r_data, r_prior, r_lift])
        self._cache = (key, jacobian, r, jac)
        return r, jac

    def _data_rows(self, st: MediaState) -> tuple[np.ndarray, np.ndarray | None]:
        """Weighted data residuals over every row and their Jacobian (None without ``dm``)."""
        g = np.log(st.m)
        if st.dm is None:
            return (self.sw * (self.y_proj - self.project(g))).ravel(), None
        stacked = self.project(np.concatenate([g[None], st.dm / st.m]))
        r = (self.sw * (self.y_proj - stacked[0])).ravel()
        return r, -(stacked[1:] * self.sw[None]).reshape(self.layout.size, -1).T

    def data_rows(
        self, theta: np.ndarray, *, jacobian: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Weighted residuals of every data row (geo-days or days, before any projection on
        instruments) and, with ``jacobian``, their Jacobian."""
        return self._data_rows(self.media(theta, jacobian=jacobian))

    def lift(
        self, theta: np.ndarray, d: LiftData, st: MediaState, *, gradient: bool
    ) -> tuple[float, np.ndarray | None]:
        """Predicted lift ``Σ y β_c (h_c − h_c^cf) / (1 + M)`` over the cells, and its gradient.

        ``st`` holds unit-scaled Hill values; the counterfactual's use the same unit, so the
        ε-derivative of the numerator is the numerator times the demand index. The gradient
        is the numerator's (own channel only) minus ``Σ numerator / (1 + M)² · dM/dθ``.
        """
        layout = self.layout
        c = d.channel
        h, m = st.h, st.m
        full = d.covers(h.shape[1:])
        cells = d.cells(h.shape[1:])
        hc = h[c][cells]
        mm = m[cells]
        beta = theta[c]
        d_cf: dict[int, np.ndarray] = {}
        if d.lags_cf is None:
            h_cf: np.ndarray | float = 0.0
        else:
            unit = self.inputs.unit(theta, layout)[d.geos, : d.b]
            stacks = [
                d.lags_cf if k == c else d.lags_cf[:, :, :0] for k in range(layout.n_channels)
            ]
            hh, dd = hill_terms(
                layout, tuple(stacks), self.inputs.k0, theta, jacobian=gradient,
                max_lag=self.max_lag, channels=(c,), unit=unit,
            )  # fmt: skip
            h_cf = hh[c][:, d.a : d.b]
            d_cf = {i: arr[:, d.a : d.b] for i, _, arr in dd}
        diff = hc - h_cf
        share = d.y / mm
        pred = float(beta * (share * diff).sum())
        if not gradient:
            return pred, None
        assert st.dm is not None
        over = share * beta * diff / mm
        dm = st.dm if full else st.dm[:, d.geos][:, :, d.a : d.b]
        grad = -np.tensordot(dm, over, axes=([1, 2], [0, 1]))
        grad[c] += float((share * diff).sum())
        for i, k, arr in st.derivs:
            if k == c:
                cf = d_cf.get(i)
                cell = arr[cells] - (0.0 if cf is None else cf)
                grad[i] += float((share * beta * cell).sum())
        grad[layout.elasticity] += float((share * beta * diff * self.inputs.demand[cells]).sum())
        return pred, grad
