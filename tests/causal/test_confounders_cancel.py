"""The budget-response detector in the causal service's thread: a caller that leaves stops it
at its next checkpoint (audit R7-F7: a cancelled AnalyzeAttribution kept it running ~13 s in
the process serving every causal RPC), and its shared-variance step reads every campaign pair
with two matrix products, equal to the pairwise definition."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from bench.confounder_detection import campaign_geo_sums, simulated_sums
from causal_svc.confounders_retro import _common_variance, detect_budget_response
from mesh.runtime.cancellation import Cancelled, CancelToken, cancellable


def _pairwise(residual: np.ndarray) -> float:
    """The definition: the mean over channel pairs of their covariance over shared cells."""
    covs = []
    for i in range(residual.shape[0]):
        for j in range(i + 1, residual.shape[0]):
            both = np.isfinite(residual[i]) & np.isfinite(residual[j])
            if both.sum() > 1:
                covs.append(float((residual[i][both] * residual[j][both]).mean()))
    return max(float(np.mean(covs)), 0.0) if covs else 0.0


@pytest.mark.parametrize("missing", [0.0, 0.5, 0.97])
def test_shared_variance_equals_the_pairwise_definition(missing: float) -> None:
    rng = np.random.default_rng(3)
    residual = rng.normal(size=(40, 6, 30)) + rng.normal(size=(1, 6, 30))
    residual[rng.random(residual.shape) < missing] = np.nan
    assert _common_variance(residual) == pytest.approx(_pairwise(residual), rel=1e-12, abs=1e-15)
    assert _common_variance(residual[:1]) == 0.0
    lonely = np.full((3, 2, 2), np.nan)
    lonely[0, 0, 0] = lonely[1, 1, 1] = 1.0  # no pair shares two cells
    assert _common_variance(lonely) == _pairwise(lonely) == 0.0


def test_a_cancelled_detector_stops_at_its_next_checkpoint() -> None:
    result = sim.simulate("demo", seed=13, dirt=False, n_geos=10, days=120)
    geo_days, campaign_days = simulated_sums(result)
    per_campaign = campaign_geo_sums(result)
    # Without a token (the benches, the tests) it runs as before.
    assert detect_budget_response(geo_days, campaign_days, campaign_geo_days=per_campaign)
    # A token the caller's end has set (the service sets it however the call ends): the
    # detector raises at its first checkpoint instead of running on in the thread.
    token = CancelToken()
    token.cancel()
    with cancellable(token), pytest.raises(Cancelled):
        detect_budget_response(geo_days, campaign_days, campaign_geo_days=per_campaign)
