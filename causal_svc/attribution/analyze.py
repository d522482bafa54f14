"""Attribution end to end on a panel: causal graph → confounders and mediators →
identification → estimation → validation → attribution scores, each a stage reported to a
progress callback, ending in one immutable :class:`AttributionReport`.

(Reading the records from memory — the pipeline's first step — is the service's; everything
after it is here.) A model whose health verdict is ``fail`` reports its diagnostics and no
channel scores or curves: a number from a model that did not fit is worse than none.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from causal_svc.default_graph import default_marketing_graph
from causal_svc.graph import analyze_graph

from .calibration import LiftTest
from .features import channel_curve
from .fit import FitState, MMMFit, fit_mmm
from .health import HealthReport, Verdict, assess, identification_text
from .inference import Evaluator, Interval
from .panel import MediaPanel
from .scores import (
    CampaignScore,
    ChannelScore,
    ResponseCurve,
    campaign_scores,
    channel_scores,
    response_curves,
)
from .spec import ModelSpec

__all__ = ["MODEL_VERSION", "STAGES", "AttributionReport", "CalibrationRow", "ChannelModel",
           "analyze"]  # fmt: skip

MODEL_VERSION = "liftos-causal-mmm/1"
STAGES = (
    "causal_graph",
    "confounders",
    "identification",
    "estimation",
    "validation",
    "attribution",
)
Progress = Callable[[str, float, str], None]

# Which national series stand for which node of the marketing DAG.
_NODE_OF_SERIES = (("macro", "macro_index"), ("competitor", "competitor_activity"),
                   ("promo", "promotion"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class CalibrationRow:
    """A lift test beside the model's prediction of it, calibrated and not."""

    name: str
    channel: str
    measured: float
    stderr: float
    predicted: float
    predicted_uncalibrated: float | None


@dataclass(frozen=True, slots=True)
class ChannelModel:
    """A channel's fitted curve: adstock shape and parameters, Hill half-saturation and shape
    (per-capita input), and its share of baseline demand at saturation."""

    channel: str
    adstock: str
    adstock_params: tuple[float, ...]
    half_saturation: float
    hill_shape: float
    beta: float


@dataclass(frozen=True, slots=True)
class AttributionReport:
    """Everything one attribution analysis found (see the module docstring)."""

    outcome_name: str
    start: dt.date
    end: dt.date
    n_geos: int
    n_days: int
    channels: tuple[ChannelScore, ...]
    campaigns: tuple[CampaignScore, ...]
    curves: tuple[ResponseCurve, ...]
    baseline: Interval | None
    health: HealthReport
    identification: str
    assumptions: tuple[str, ...]
    confounders: tuple[str, ...]
    unobserved_confounders: tuple[str, ...]
    mediators: tuple[str, ...]
    controls: tuple[str, ...]
    calibration: tuple[CalibrationRow, ...]
    models: tuple[ChannelModel, ...]
    demand_elasticity: float
    warnings: tuple[str, ...]
    stage_seconds: dict[str, float] = field(default_factory=dict)
    model_version: str = MODEL_VERSION
    state: FitState | None = field(default=None, compare=False, repr=False)

    @property
    def verdict(self) -> Verdict:
        return self.health.verdict


def _graph(panel: MediaPanel) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    available = {"seasonality", "holiday", "spend", "impressions", "clicks", "conversions",
                 "revenue"}  # fmt: skip
    for key, node in _NODE_OF_SERIES:
        if any(key in name for name in panel.national):
            available.add(node)
    outcome = "revenue" if panel.outcome_name == "revenue" else "conversions"
    g = analyze_graph(default_marketing_graph(), "spend", outcome, available_columns=available)
    return g.confounders, g.unobserved_confounders, g.mediators


def _assumptions(fit: MMMFit) -> tuple[str, ...]:
    out = [
        identification_text(fit),
        "media effects are non-negative, carry over (adstock) and saturate (Hill) per channel, "
        "and add to baseline demand",
        "a channel's effect per resident is the same in every geo, up to how demand modulates it",
        "campaigns of a channel share its response curve",
    ]
    if fit.lifts:
        out.append("lift tests measured the causal effect of the spend they changed")
    return tuple(out)


def _models(fit: MMMFit) -> tuple[ChannelModel, ...]:
    from .features import adstock_params

    out = []
    for c, name in enumerate(fit.panel.channels):
        sl = fit.layout.nonlinear(c)
        kind = fit.layout.kinds[c]
        nat, _ = adstock_params(kind, fit.theta[sl][: kind.n_params])
        curve = channel_curve(fit.layout, fit.theta, c, float(fit.inputs.k0[c]), fit.spec.max_lag)
        out.append(ChannelModel(name, kind.value, tuple(float(v) for v in nat),
                                curve.half_saturation, curve.shape, float(fit.theta[c])))  # fmt: skip
    return tuple(out)


def analyze(
    panel: MediaPanel,
    spec: ModelSpec | None = None,
    lift_tests: Sequence[LiftTest] = (),
    *,
    progress: Progress | None = None,
) -> AttributionReport:
    """Run the attribution stages on a panel.

    Parameters
    ----------
    panel : MediaPanel
    spec : ModelSpec, optional
    lift_tests : sequence of LiftTest
    progress : callable(stage, fraction, message), optional
        Called as each stage starts and ends; fractions are of the whole analysis.

    Raises
    ------
    InvalidSpec, ContradictoryCalibration, InsufficientData
        From the calibration checks and the fit (see :func:`fit_mmm`).
    """
    spec = spec or ModelSpec()
    report = progress or (lambda stage, frac, msg: None)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def done(stage: str, frac: float, message: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = now - clock
        clock = now
        report(stage, frac, message)

    confounders, unobserved, mediators = _graph(panel)
    done("causal_graph", 0.05, "spend → outcome in the marketing DAG: "
         f"{len(confounders)} confounders, {len(mediators)} mediators")  # fmt: skip
    controls = (*panel.national, *panel.controls)
    done("confounders", 0.10, "adjusting for the calendar, trend, seasonality"
         + (f" and {', '.join(controls)}" if controls else "")
         + "; mediators (impressions, clicks, platform conversions) are not adjusted for")  # fmt: skip
    done("identification", 0.15, f"{spec.identification.value} variation identifies the channels")
    fit = fit_mmm(panel, spec, lift_tests)
    uncalibrated: MMMFit | None = None
    if lift_tests:
        uncalibrated = fit_mmm(panel, spec, (), start=fit.theta)
    done("estimation", 0.60, f"fitted in {fit.convergence.iterations} iterations "
         f"({fit.convergence.message})")  # fmt: skip
    health = assess(fit, lift_tests)
    done("validation", 0.85, f"verdict {health.verdict.value}"
         + (": " + "; ".join(health.reasons) if health.reasons else ""))  # fmt: skip
    ev = Evaluator(fit)
    channels: list[ChannelScore] = []
    campaigns: list[CampaignScore] = []
    curves: list[ResponseCurve] = []
    baseline: Interval | None = None
    unc_effects = None
    if uncalibrated is not None:
        unc_ev = Evaluator(uncalibrated)
        unc_effects = np.array([unc_ev.effect(c)[0] for c in range(panel.n_channels)])
    calibration = _calibration_rows(fit, uncalibrated)
    warnings = list(panel.warnings)
    if health.verdict is Verdict.FAIL:
        warnings.append("model health is FAIL: no ROIs are reported; see the health checks")
    else:
        channels, baseline = channel_scores(ev, unc_effects)
        campaigns = campaign_scores(ev, channels)
        curves = response_curves(ev)
        if health.unidentified:
            warnings.append(
                "effects not identified by the data (their intervals are the prior's): "
                + ", ".join(health.unidentified)
            )
    done("attribution", 1.0, f"{len(channels)} channels, {len(campaigns)} campaigns scored")
    return AttributionReport(
        outcome_name=panel.outcome_name,
        start=dt.date.fromisoformat(str(panel.dates[0])),
        end=dt.date.fromisoformat(str(panel.dates[-1])),
        n_geos=panel.n_geos,
        n_days=panel.n_days,
        channels=tuple(channels),
        campaigns=tuple(campaigns),
        curves=tuple(curves),
        baseline=baseline,
        health=health,
        identification=identification_text(fit),
        assumptions=_assumptions(fit),
        confounders=confounders,
        unobserved_confounders=unobserved,
        mediators=mediators,
        controls=(*fit.design_names, *fit.projection.controls),
        calibration=calibration,
        models=_models(fit),
        demand_elasticity=float(fit.theta[fit.layout.elasticity]),
        warnings=tuple(warnings),
        stage_seconds=seconds,
        state=fit.state(),
    )


def _calibration_rows(fit: MMMFit, uncalibrated: MMMFit | None) -> tuple[CalibrationRow, ...]:
    rows = []
    other = None
    if uncalibrated is not None and fit.lifts:
        # The uncalibrated model's prediction of each test, on the calibrated fit's terms.
        probe = replace(uncalibrated)
        from .objective import lift_data

        data = lift_data(fit.panel, list(fit.lifts), fit.spec.max_lag)
        st = probe.objective.media(probe.theta, jacobian=False)
        other = [probe.objective.lift(probe.theta, d, st, gradient=False)[0] for d in data]
    for i, (p, pred) in enumerate(zip(fit.lifts, fit.lift_predictions, strict=True)):
        rows.append(
            CalibrationRow(
                p.test.name,
                p.test.channel,
                p.test.lift,
                p.test.stderr,
                float(pred),
                None if other is None else float(other[i]),
            )
        )
    return tuple(rows)
