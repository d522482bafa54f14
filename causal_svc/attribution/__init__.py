"""Causal attribution: a calibrated marketing-mix model on the geo × day panel.

Where things are:

- ``panel.py``: the dense geo × day panel (:class:`MediaPanel`) and its builder from long frames;
  ``panel_sums.py``: the same panel from memory's sums (AggregateRecords), as the service reads
  it; ``geo_size.py``: geo populations; ``calendar.py``: the national design (calendar, external
  series).
- ``transforms.py``: adstock (geometric, Weibull) and Hill saturation with derivatives.
- ``within.py``: the nuisance projections (geo and day effects, geo seasonality, controls).
- ``spec.py``: the model's configuration and priors; ``features.py``: media terms and their
  derivatives; ``objective.py``: the penalised least-squares objective; ``fit.py``: the
  Levenberg–Marquardt fit and its Laplace covariance; ``calibration.py``: lift tests.
- ``inference.py``: delta-method intervals of effects, plans and curves; ``null_test.py``:
  Hansen's sup-score test of no effect, which a lower bound above zero needs.
- ``health.py``: holdout, convergence, baseline, identification, calibration checks → verdict.
- ``scores.py``: channel and campaign scores, naive regression, response curves;
  ``counterfactual.py``: spend plans (the one currency the amounts are in, or a refusal:
  :mod:`mesh.runtime.money`); ``planning.py``: each channel's response in the form
  planners read; ``stages.py``: the stages, one by one or end to end.
"""

from __future__ import annotations

from mesh.runtime.money import (
    Converted,
    FxSeries,
    MixedCurrencies,
    analysis_currency,
    fx_series,
    in_one_currency,
)

from .calibration import LiftTest, usable_lift_tests
from .counterfactual import ChannelChange, CounterfactualResult, SpendChange, counterfactual, plan
from .external_series import with_external_series
from .fit import FitState, MMMFit, fit_mmm, restore_fit, state_from_bytes, state_to_bytes
from .health import (
    HealthCheck,
    HealthReport,
    Holdout,
    Verdict,
    with_budget_response,
    with_omitted_channels,
)
from .identification_choice import IdentificationChoice, choose_identification
from .inference import Evaluator, Interval
from .panel import MediaPanel, panel_from_frames
from .panel_sums import panel_from_aggregates, spend_outside
from .planning import ResponseModel
from .scores import CampaignScore, ChannelScore, ResponseCurve
from .spec import Identification, ModelSpec, NormalPrior, Priors
from .stages import (
    MODEL_VERSION,
    STAGE_FRACTIONS,
    STAGES,
    AttributionReport,
    CalibrationRow,
    ChannelModel,
    Prelude,
    Scores,
    Uncalibrated,
    analyze,
    assemble,
    describe,
    estimate,
    estimate_holdout,
    estimate_uncalibrated,
    score,
    validate,
)
from .transforms import AdstockKind

__all__ = [
    "MODEL_VERSION",
    "STAGES",
    "STAGE_FRACTIONS",
    "AdstockKind",
    "AttributionReport",
    "CalibrationRow",
    "CampaignScore",
    "ChannelChange",
    "ChannelModel",
    "ChannelScore",
    "Converted",
    "CounterfactualResult",
    "Evaluator",
    "FitState",
    "FxSeries",
    "HealthCheck",
    "HealthReport",
    "Holdout",
    "Identification",
    "IdentificationChoice",
    "Interval",
    "LiftTest",
    "MMMFit",
    "MediaPanel",
    "MixedCurrencies",
    "ModelSpec",
    "NormalPrior",
    "Prelude",
    "Priors",
    "ResponseCurve",
    "ResponseModel",
    "Scores",
    "SpendChange",
    "Uncalibrated",
    "Verdict",
    "analysis_currency",
    "analyze",
    "assemble",
    "choose_identification",
    "counterfactual",
    "describe",
    "estimate",
    "estimate_holdout",
    "estimate_uncalibrated",
    "fit_mmm",
    "fx_series",
    "in_one_currency",
    "panel_from_aggregates",
    "panel_from_frames",
    "plan",
    "restore_fit",
    "score",
    "spend_outside",
    "state_from_bytes",
    "state_to_bytes",
    "usable_lift_tests",
    "validate",
    "with_budget_response",
    "with_external_series",
    "with_omitted_channels",
]
