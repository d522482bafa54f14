"""The fit's cluster-robust covariance and its small-sample corrections (:mod:`.fit`'s module
docstring: CR2 on national rows, CR1 or the geo blocks' CR2 on geo rows, Satterthwaite degrees
of freedom per quantity)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .objective import Objective
from .within import geo_cr2_scores

__all__ = ["SmallSample"]


@dataclass(frozen=True, slots=True)
class SmallSample:
    """The cluster-robust covariance and, for national rows, what its small-sample
    corrections need: Bell–McCaffrey's bias-reduced meat (CR2) and Satterthwaite degrees of
    freedom per quantity (see the module docstring).

    ``gram`` is ``MᵀM`` for ``M = (I − H) · blockdiag(A_g)`` over the data rows (the CR2
    variance of any quantity is a quadratic form in the errors through it), ``lever``
    ``J̃ H⁻¹`` (rows × parameters), ``known`` the meat of the prior and lift rows (variances
    stated, not estimated from the panel), ``sigma2`` the residual variance of the weighted
    data rows. ``tests`` are the Jacobian rows of the lift tests whose standard error was
    itself estimated, with its degrees of freedom in ``tests_df``: their share of a
    quantity's variance is uncertain too (see :meth:`df`).
    """

    cov: np.ndarray
    bread: np.ndarray
    clusters: np.ndarray
    gram: np.ndarray | None = None
    lever: np.ndarray | None = None
    known: np.ndarray | None = None
    sigma2: float = 1.0
    tests: np.ndarray | None = None
    tests_df: np.ndarray | None = None

    @staticmethod
    def build(obj: Objective, theta: np.ndarray, clusters: np.ndarray) -> SmallSample:
        r, jac = obj.evaluate(theta, jacobian=True)
        assert jac is not None
        n_data = obj.n_data
        bread = np.linalg.pinv(jac.T @ jac, rcond=1e-12, hermitian=True)
        jd, rd = jac[:n_data], r[:n_data]
        rest = jac[n_data:]
        known = rest.T @ rest
        n_clusters = int(clusters.max()) + 1
        if obj.moments is not None:
            # Instrumented rows: each row's score is its residual times its fitted
            # regressors, the Jacobian projected on the instruments (2SLS's X̂ e).
            rd, jfull = obj.data_rows(theta, jacobian=True)
            assert jfull is not None
            jd = obj.moments @ (obj.moments.T @ jfull)
        if not obj.national:
            scores = np.zeros((n_clusters, jac.shape[1]))
            if obj.moments is None and obj.projection.day_effects:
                scores = geo_cr2_scores(obj.projection, jd, rd, bread)
                meat = scores.T @ scores + known
            else:
                np.add.at(scores, clusters, jd * rd[:, None])
                meat = scores.T @ scores * (n_clusters / max(n_clusters - 1, 1)) + known
            return SmallSample(_sym(bread @ meat @ bread), bread, clusters)
        qn = obj.projection.national_basis
        # Hat matrix of the national rows: the nuisance design's projection plus the media
        # terms' penalised leverage. Rows share one weight, so the plain projection is the
        # weighted one.
        hat = qn @ qn.T + jd @ bread @ jd.T
        resid_maker = np.eye(n_data) - hat
        scores = np.zeros((n_clusters, jac.shape[1]))
        for g in range(n_clusters):
            idx = np.flatnonzero(clusters == g)
            adjust = _inverse_sqrt(resid_maker[np.ix_(idx, idx)])
            scores[g] = jd[idx].T @ (adjust @ rd[idx])
            resid_maker[:, idx] = resid_maker[:, idx] @ adjust
        meat = scores.T @ scores + known
        sigma2 = float(rd @ rd) / max(n_data - float(np.trace(hat)), 1.0)
        # Lift tests with an estimated standard error (finite df): their Jacobian rows.
        first = n_data + obj.prior_idx.size
        tests_df = np.array([d.df for d in obj.lifts], dtype=np.float64)
        est = np.flatnonzero(np.isfinite(tests_df))
        return SmallSample(_sym(bread @ meat @ bread), bread, clusters,
                           resid_maker.T @ resid_maker, jd @ bread, known, sigma2,
                           jac[first + est], tests_df[est])  # fmt: skip

    def df(self, grad: np.ndarray) -> float:
        """Satterthwaite degrees of freedom of ``gradᵀ θ``'s CR2 variance (Bell & McCaffrey
        2002; Imbens & Kolesár 2016), with the prior rows' stated variance as a known part;
        clusters − 1 on geo rows.

        A lift test's variance share ``v_k`` is known only if its standard error is: one
        estimated with ``ν_k`` degrees of freedom (a geo experiment's, from its geos) adds
        ``v_k² / ν_k`` to the spread, Satterthwaite's rule for a sum of independent variance
        estimates (``(Σ v)² / Σ v² / ν``). Without it an estimate that rests on one
        experiment got the normal quantile (df in the thousands) where the experiment's own
        t-test uses ``t_ν``.
        """
        n_clusters = int(self.clusters.max()) + 1
        if self.gram is None or self.lever is None or self.known is None:
            return float(max(n_clusters - 1, 1))
        a = self.lever @ grad  # each data row's weight in the estimate
        # Ω_gh = u_gᵀ u_h with u_g = resid_maker[:, g] a_g: cluster sums of a ⊙ (MᵀM) ⊙ aᵀ
        # (national clusters are runs of consecutive days).
        starts = np.flatnonzero(np.r_[True, np.diff(self.clusters) != 0])
        cells = self.gram * a[:, None] * a[None, :]
        omega = np.add.reduceat(np.add.reduceat(cells, starts, axis=0), starts, axis=1)
        b = self.bread @ grad
        data = self.sigma2 * float(np.trace(omega))
        spread = self.sigma2**2 * float((omega * omega).sum())
        if self.tests is not None and self.tests_df is not None and self.tests.size:
            share = (self.tests @ b) ** 2  # each estimated test's part of the variance
            spread += float((share**2 / self.tests_df).sum())
        if spread <= 0.0:
            return float(max(n_clusters - 1, 1))
        total = data + float(b @ self.known @ b)
        return float(np.clip(total**2 / spread, 1.0, 1e6))


def _sym(m: np.ndarray) -> np.ndarray:
    return (m + m.T) / 2.0


def _inverse_sqrt(m: np.ndarray) -> np.ndarray:
    """``m^(−1/2)`` of a symmetric PSD block, Moore–Penrose on its null space (a day a dummy
    fits exactly has no residual and carries no information)."""
    vals, vecs = np.linalg.eigh(m)
    inv = np.where(vals > 1e-8, 1.0 / np.sqrt(np.clip(vals, 1e-8, None)), 0.0)
    return (vecs * inv) @ vecs.T
