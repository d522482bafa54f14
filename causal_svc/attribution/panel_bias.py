"""A lift test and a panel that disagree: the panel's bias allowance.

In the joint least squares a lift test is one more residual (:mod:`.objective`), and to first
order the calibrated estimate of what the test measured is the precision-weighted mean of two
estimates of it: the panel's prediction (what the model fitted without the test says the
test's cells gained from the channel) and the test's own measurement. That weighting is right
when both are unbiased, and they are not alike. The experiment is randomised, so its error is
its sampling error, which its standard error states. The panel is observational: where budgets
chase demand the model cannot see, the national series averages each geo's shock, but the
average still moves with the spend (:class:`.spec.Identification`), and the panel's prediction
carries a bias that no sandwich variance counts. Weighted by its variance alone, that bias
passes into the calibrated interval. On the simulator's ``null`` world (a channel with no
effect, seeds 200–599) 5 of the 25 calibrated false positives rested on an experiment at
z 0.9–1.6 and an uncalibrated panel at z 1.65–3.15, which fell to 0.5–1.3 on the same worlds
with budgets that ignore demand (docs/performance.md, issue 15).

The method is the bias model that evidence synthesis uses to combine randomised with
observational evidence (Eddy, Hasselblad & Shachter 1990; Turner, Spiegelhalter et al. 2009,
JRSS A 172(1); Welton et al. 2009): the observational estimate is the truth plus a bias
``δ ~ N(0, τ²)``, the randomised one is unbiased, and ``τ²`` is estimated from their
disagreement by the method of moments (DerSimonian & Laird 1986, with one study known to be
unbiased):

    d = p − L,   E[d²] = V + s² + τ²   ⇒   τ̂² = max(0, d² − V − s²),

``p`` the panel-only fit's predicted lift and ``V`` its cluster-robust variance, ``L`` and ``s``
the test's lift and standard error. Where the two agree within their sampling errors ``τ̂² = 0``
and the fit is exactly as before. Where they disagree, the panel's evidence on that lift is
worth ``1 / (V + τ̂²)``, not ``1 / V``:

- the fit weighs the test by a working standard error ``s / a``, ``a² = (V + τ̂²) / V``, which
  is the random-effects weighting in the fit's quadratic approximation;
- the sandwich counts what that weighting leaves (:mod:`.small_sample`): the test's residual
  has variance ``a²`` in working units, and the panel's bias adds ``τ̂² g gᵀ / W²`` to the meat
  (``g`` the gradient of the predicted lift, ``W = gᵀ H⁻¹ g`` its model-based variance: a bias
  ``Δ = H⁻¹ g δ / W`` of the panel's parameters along the lift moves its score by
  ``H Δ = g δ / W``). Both are multiples of the test row's own outer product, so the row's
  variance is ``a² + τ̂² s² / (a² W²)`` (:attr:`.objective.LiftData.variance`), and Hansen's
  sup-score test (:mod:`.null_test`) draws the row with that variance too.

With one parameter and ``W = V`` this is exactly the random-effects estimate
``(p/(V + τ̂²) + L/s²) / (1/(V + τ̂²) + 1/s²)`` with variance ``1 / (1/(V + τ̂²) + 1/s²)``:
never tighter than the experiment alone gives with the panel discounted by its disagreement,
and never further from the experiment than the panel's discounted weight pulls it. There is no
tuned constant: ``τ̂²`` is zero or positive from the data alone. Its estimate from one
difference is noisy; it is plugged in, as DerSimonian–Laird's is, and counted as known in the
intervals' Satterthwaite degrees of freedom. Each test gets its own allowance against the fit
without any test (the panel's bias on one lift need not be another's).

Cost: where there are lift tests, one more Levenberg–Marquardt run without them (warm-started
at the calibrated estimate, the calibrated fit's weights) and its covariance; and, where some
``τ̂² > 0``, one more run with the tests re-weighted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from .objective import LiftData, Objective
from .small_sample import SmallSample

__all__ = ["allowance", "reweighted", "weighted"]


def allowance(pred: float, var: float, lift: float, stderr: float) -> float:
    """``τ̂² = max(0, (pred − lift)² − var − stderr²)``: the panel's bias variance the
    disagreement of its prediction ``pred`` (variance ``var``) with a measured ``lift``
    (standard error ``stderr``) shows beyond their sampling errors."""
    return max(0.0, (pred - lift) ** 2 - var - stderr**2)


def weighted(d: LiftData, inflation: float, bias: float) -> LiftData:
    """The test's row weighed by the working standard error ``stderr / sqrt(inflation)``, with
    its residual's variance ``inflation + bias`` (``inflation = 1, bias = 0``: as stated)."""
    if inflation == 1.0 and bias == 0.0:
        return d
    return replace(d, stderr=d.stderr / float(np.sqrt(inflation)), inflation=inflation,
                   bias=bias)  # fmt: skip


def reweighted(
    panel_only: Objective, theta: np.ndarray, small: SmallSample, tests: Sequence[LiftData]
) -> list[tuple[float, float]]:
    """Each lift test's ``(inflation, bias)`` (:func:`weighted`) against the panel-only fit
    ``panel_only`` at its estimate ``theta`` with covariance terms ``small``."""
    st = panel_only.media(theta, jacobian=True)
    out = []
    for d in tests:
        pred, g = panel_only.lift(theta, d, st, gradient=True)
        assert g is not None
        v = float(g @ small.cov @ g)
        w = float(g @ small.bread @ g)
        tau2 = allowance(pred, v, d.lift, d.stderr)
        if tau2 <= 0.0 or v <= 0.0 or w <= 0.0:
            out.append((1.0, 0.0))
            continue
        a2 = (v + tau2) / v
        out.append((a2, tau2 * d.stderr**2 / (a2 * w * w)))
    return out
