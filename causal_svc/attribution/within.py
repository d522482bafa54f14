"""The nuisance projection: geo effects, time effects, geo-specific seasonality and trend, and
controls, partialled out of the log outcome and of every media term at once.

By Frisch–Waugh–Lovell the media parameters of the full regression equal those of the
regression of projected outcome on projected media terms, so the nonlinear fit never carries
the hundreds of nuisance columns. Each projection is exact in one pass:

- **Geo rows** (:meth:`Projection.geo`): subtract the geo-weighted cross-geo mean of each day
  (weights are per geo, so this is the weighted projection on day dummies), then regress each
  geo's series on the basis ``B`` (intercept, trend, annual Fourier terms) and keep the
  residual. The space ``{B θ_g : Σ_g w_g θ_g = 0}`` is orthogonal in the w-inner product to the
  day dummies and day-demeaned series lie in their complement, so the per-geo projection of the
  demeaned series is the projection on the joint space. Geo-varying controls follow by WLS.
- **National rows** (:meth:`Projection.national`): the geo-weighted mean over geos of each day,
  regressed on the national design ``D`` (calendar, external factors, the day-means of
  geo-varying controls) and ``B``; the residual series is what is left for the media to explain.

Why two: day effects absorb everything national without modelling it, and the cross-geo
variation left identifies the channels (Meridian's geo model); but where budgets chase *local*
demand the marketers see and the analyst does not, that cross-geo variation is confounded,
and the national series — in which independent local shocks average out — is the variation to
trust, with national demand controlled by the calendar and external factors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "Projection",
    "annual_basis",
    "geo_cr2_scores",
    "leave_one_out_inputs",
    "orthonormal",
    "pacing_controls",
]

# Lags of the local-demand control function: the demand shock persists for days and the
# adstock reaches back, so today's outcome shock is related to the last few days' chase.
PACING_LAGS = 4

# Harmonics of the annual cycle per geo: two capture a peak and its asymmetry without eating
# the week-to-week spend variation that identifies the channels.
ANNUAL_HARMONICS = 2


def annual_basis(
    n_days: int, day_of_year: np.ndarray, harmonics: int = ANNUAL_HARMONICS
) -> np.ndarray:
    """Basis (T, 2 + 2·harmonics): intercept, linear trend, annual sine/cosine pairs."""
    t = np.arange(n_days, dtype=np.float64)
    cols = [np.ones(n_days), (t - t.mean()) / max(n_days, 1)]
    angle = 2.0 * np.pi * np.asarray(day_of_year, dtype=np.float64) / 365.25
    for k in range(1, harmonics + 1):
        cols += [np.sin(k * angle), np.cos(k * angle)]
    return np.column_stack(cols)


def orthonormal(cols: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the column space (rank-revealing: collinear columns drop)."""
    u, sv, _ = np.linalg.svd(cols, full_matrices=False)
    return u[:, sv > 1e-10 * max(float(sv[0]), 1e-300)] if sv.size else u[:, :0]


class Projection:
    """Residual-makers of the nuisance space for a (G, T) panel with geo weights.

    Parameters
    ----------
    geo_weights : ndarray, shape (G,)
        Inverse noise variance per geo (any positive scale).
    basis : ndarray, shape (T, K)
        Time basis each geo gets its own coefficients on; must contain the intercept.
    controls : mapping name -> ndarray (G, T)
        Geo-varying controls; those with no variation left are dropped
        (``dropped_controls`` says which).
    national : ndarray (T, Kn), optional
        National design for the national rows (calendar, external factors).
    """

    def __init__(
        self,
        geo_weights: np.ndarray,
        basis: np.ndarray,
        controls: Mapping[str, np.ndarray] | None = None,
        national: np.ndarray | None = None,
        *,
        day_effects: bool = True,
    ) -> None:
        w = np.asarray(geo_weights, dtype=np.float64)
        self.geo_weights = w
        self.share = w / w.sum()
        self.day_effects = day_effects
        self._q = orthonormal(basis)
        # Geo rows without day effects: each geo's series less its projection on the basis
        # and the national design (per-geo coefficients).
        with_national = (
            np.column_stack([basis, national])
            if national is not None and national.size > 0
            else basis
        )
        self._qg = orthonormal(with_national)
        self.controls: tuple[str, ...] = ()
        self.dropped_controls: tuple[str, ...] = ()
        self._z: np.ndarray | None = None
        self._zinv: np.ndarray | None = None
        ctrl = {k: np.asarray(v, dtype=np.float64) for k, v in (controls or {}).items()}
        if ctrl:
            self._set_controls(ctrl)
        nat = [basis]
        if national is not None and national.size:
            nat.append(national)
        nat += [self.day_mean(z)[:, None] for z in ctrl.values()]
        self._qn = orthonormal(np.column_stack(nat))

    def day_mean(self, x: np.ndarray) -> np.ndarray:
        """Geo-weighted mean over geos: (..., G, T) → (..., T)."""
        return np.tensordot(x, self.share, axes=([-2], [0]))

    def _within(self, x: np.ndarray) -> np.ndarray:
        if not self.day_effects:
            return x - (x @ self._qg) @ self._qg.T
        x = x - self.day_mean(x)[..., None, :]
        return x - (x @ self._q) @ self._q.T

    def _set_controls(self, controls: Mapping[str, np.ndarray]) -> None:
        names, cols = [], []
        sw = self.geo_weights[:, None]
        for name, z in controls.items():
            zt = self._within(z)
            if float((sw * zt**2).sum()) > 1e-18 * (1.0 + float((sw * z**2).sum())):
                names.append(name)
                cols.append(zt)
        self.dropped_controls = tuple(n for n in controls if n not in names)
        if not cols:
            return
        z = np.stack(cols)  # (Kz, G, T)
        zf = (z * np.sqrt(sw)[None]).reshape(len(cols), -1)
        # Collinear controls: the pseudo-inverse keeps a maximal independent subset.
        self._zinv = np.linalg.pinv(zf @ zf.T, rcond=1e-10)
        self._z = z
        self.controls = tuple(names)

    def geo(self, x: np.ndarray) -> np.ndarray:
        """Residual of ``x`` (..., G, T) after day effects (or, without them, geo × national
        design), geo × basis and controls."""
        x = self._within(np.asarray(x, dtype=np.float64))
        if self._z is None or self._zinv is None:
            return x
        lead = x.shape[:-2]
        k = self._z.shape[0]
        xf = x.reshape(-1, x.shape[-2] * x.shape[-1])
        zf = self._z.reshape(k, -1)
        zw = (self._z * self.geo_weights[:, None]).reshape(k, -1)
        coef = (xf @ zw.T) @ self._zinv
        return (xf - coef @ zf).reshape(*lead, *x.shape[-2:])

    def geo_leverage(self, g: int) -> tuple[float, np.ndarray | None]:
        """Geo ``g``'s diagonal block of the geo rows' residual-maker (day effects on),
        restricted to the complement of the basis (where the projected rows lie), as
        ``c·I − F Fᵀ``: ``c = 1 − share_g`` (the day effects) and ``F`` (T, Kz) the controls'
        leverage factor (None without controls). In the weighted rows' metric the diagonal
        block is the unweighted one (the geo's weight cancels)."""
        c = 1.0 - float(self.share[g])
        if self._z is None or self._zinv is None:
            return c, None
        vals, vecs = np.linalg.eigh(self._zinv)
        root = (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T
        return c, np.sqrt(self.geo_weights[g]) * self._z[:, g, :].T @ root

    def national(self, x: np.ndarray) -> np.ndarray:
        """Residual of the day-mean series of ``x`` (..., G, T) on the national design: (..., T)."""
        m = self.day_mean(np.asarray(x, dtype=np.float64))
        return m - (m @ self._qn) @ self._qn.T

    @property
    def national_basis(self) -> np.ndarray:
        """Orthonormal basis (T, K) of the national nuisance space."""
        return self._qn

    def national_fitted(self, series: np.ndarray) -> np.ndarray:
        """The national design's fit of a (T,) series (what the nuisance explains)."""
        return (series @ self._qn) @ self._qn.T


def pacing_controls(
    media: np.ndarray, spend: np.ndarray, channels: Sequence[str], lags: int = PACING_LAGS
) -> dict[str, np.ndarray]:
    """The control function of ``Identification.PACING`` (see :class:`.spec.Identification`):
    per paid channel and lag, each geo's log spend (centred per geo) less the mean of the
    other geos' that day, on cells with spend (0 elsewhere: a go-dark cell is a designed
    change, not demand).

    Parameters
    ----------
    media, spend : ndarray (C, G, T)
    channels : sequence of str
    lags : int

    Returns
    -------
    dict name -> ndarray (G, T)
    """
    out: dict[str, np.ndarray] = {}
    for c, name in enumerate(channels):
        if spend[c].sum() <= 0 or media.shape[1] < 3:
            continue
        x = media[c]
        on = x > 0
        lx = np.where(on, np.log(np.where(on, x, 1.0)), 0.0)
        count = np.maximum(on.sum(axis=1, keepdims=True), 1)
        lx = np.where(on, lx - lx.sum(axis=1, keepdims=True) / count, 0.0)
        others = (lx.sum(axis=0, keepdims=True) - lx) / np.maximum(on.sum(axis=0) - on, 1)
        v = np.where(on, lx - others, 0.0)
        for lag in range(lags):
            shifted = np.zeros_like(v)
            shifted[:, lag:] = v[:, : v.shape[1] - lag]
            out[f"pacing_control:{name}:lag{lag}"] = shifted
    return out


def leave_one_out_inputs(media: np.ndarray) -> np.ndarray:
    """The instruments' media inputs of ``Identification.INSTRUMENTED``: each geo's input
    predicted from the other geos' that day (see :class:`.spec.Identification`).

    ``log x̃[c, g, t] = a[c, g] + mean over the other geos g' with input that day of
    (log x[c, g', t] − a[c, g'])``, ``a[c, g]`` the geo's mean log input over its days with
    input: the day's common movement (pacing, calendar) at the geo's own level, from data
    that hold none of this geo's own demand shock. Cells without input stay zero — whether a
    channel runs in a geo on a day (a flight, a go-dark test) is a plan, kept as it was;
    how much it spends there is what may chase local demand. A day on which only this geo
    has input gets the geo's level.

    Parameters
    ----------
    media : ndarray (C, G, T)

    Returns
    -------
    ndarray (C, G, T)
    """
    on = media > 0
    lx = np.log(np.where(on, media, 1.0))
    n_on = on.sum(axis=2, keepdims=True)
    level = np.where(on, lx, 0.0).sum(axis=2, keepdims=True) / np.maximum(n_on, 1)
    dev = np.where(on, lx - level, 0.0)
    others = on.sum(axis=1, keepdims=True) - on
    loo = (dev.sum(axis=1, keepdims=True) - dev) / np.maximum(others, 1)
    return np.where(on, np.exp(level + loo), 0.0)


def geo_cr2_scores(
    projection: Projection, jd: np.ndarray, rd: np.ndarray, bread: np.ndarray
) -> np.ndarray:
    """Each geo's CR2 score ``J_gᵀ (I − H_gg)^(−1/2) r_g`` on geo rows with day effects (rows
    geo-major; ``jd``, ``rd`` the weighted data rows' Jacobian and residuals; ``bread``
    ``(JᵀJ)⁺``). The block is ``c·I − L`` off the basis (:meth:`Projection.geo_leverage`),
    ``L`` the controls' and the media terms' low-rank leverage, so its inverse root is exact
    at O(T·P²) per geo. With 10 geos CR1's ``G/(G−1)`` left the TV world's iROAS se ~20% under
    its spread: the media leverage sits in the scores' own direction."""
    vals, vecs = np.linalg.eigh(bread)
    root = (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T
    n_geos = projection.geo_weights.size
    rows = rd.size // n_geos
    scores = np.zeros((n_geos, jd.shape[1]))
    for g in range(n_geos):
        sl = slice(g * rows, (g + 1) * rows)
        c, ctrl = projection.geo_leverage(g)
        f = jd[sl] @ root if ctrl is None else np.column_stack([jd[sl] @ root, ctrl])
        u, sv, _ = np.linalg.svd(f, full_matrices=False)
        keep = sv > 1e-12 * max(float(sv[0]), 1e-300) if sv.size else sv > 0
        u, lam = u[:, keep], sv[keep] ** 2
        # Eigenvalues c − λ at or below zero: a geo its own terms fit exactly; no information.
        inner = np.where(c - lam > 1e-8, 1.0 / np.sqrt(np.clip(c - lam, 1e-8, None)), 0.0)
        proj = u.T @ rd[sl]
        adjusted = (rd[sl] - u @ proj) / np.sqrt(c) + u @ (inner * proj)
        scores[g] = jd[sl].T @ adjusted
    return scores
