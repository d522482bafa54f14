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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from causal_svc.default_graph import default_marketing_graph
from causal_svc.graph import analyze_graph

from .calibration import LiftTest, check_lift_tests
from .features import channel_curve
from .fit import FitState, MMMFit, fit_mmm, restore_fit
from .health import (
    HealthReport,
    Verdict,
    assess,
    channel_identification,
    holdout_theta,
    identification_text,
)
from .identification_choice import IdentificationChoice
from .inference import Evaluator, Interval
from .objective import LiftData, lift_data
from .panel import MediaPanel
from .planning import ResponseModel, response_models
from .scores import (
    CampaignScore,
    ChannelScore,
    ResponseCurve,
    campaign_scores,
    channel_scores,
    gated_baseline,
    response_curves,
)
from .series import DailySeries, daily_series
from .spec import ModelSpec

__all__ = ["MODEL_VERSION", "STAGES", "STAGE_FRACTIONS", "AttributionReport", "CalibrationRow",
           "ChannelModel", "Prelude", "Scores", "Uncalibrated", "analyze", "assemble", "describe",
           "estimate", "estimate_holdout", "estimate_uncalibrated", "score", "validate"]  # fmt: skip

MODEL_VERSION = "liftos-causal-mmm/2"
STAGES = (
    "causal_graph",
    "confounders",
    "identification",
    "estimation",
    "validation",
    "attribution",
)
Progress = Callable[[str, float, str], None]

# Which national series stand for which node of the marketing DAG: by the kind the org
# registered a series as (``liftos factors register``), else by a word in its name.
_NODE_OF_KIND = {"macro": "macro_index", "competitor": "competitor_activity",
                 "promotion": "promotion"}  # fmt: skip
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
    # The calibrated model's interval of its prediction, as the table's are (held to the test
    # of no effect); None for a failed model, whose scores are dropped.
    predicted_interval: Interval | None = None


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
    response_models: tuple[ResponseModel, ...]
    demand_elasticity: float
    warnings: tuple[str, ...]
    stage_seconds: dict[str, float] = field(default_factory=dict)
    model_version: str = MODEL_VERSION
    # The daily national fit and decomposition (the report's fit and decomposition plots).
    series: DailySeries | None = field(default=None, compare=False, repr=False)
    state: FitState | None = field(default=None, compare=False, repr=False)

    @property
    def verdict(self) -> Verdict:
        return self.health.verdict


def _graph(
    panel: MediaPanel, kinds: Mapping[str, str]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    available = {"seasonality", "holiday", "spend", "impressions", "clicks", "conversions",
                 "revenue"}  # fmt: skip
    for name in panel.national:
        if (node := _NODE_OF_KIND.get(kinds.get(name, ""))) is not None:
            available.add(node)
    for key, node in _NODE_OF_SERIES:
        if any(key in name for name in panel.national if name not in kinds):
            available.add(node)
    outcome = "revenue" if panel.outcome_name == "revenue" else "conversions"
    g = analyze_graph(default_marketing_graph(), "spend", outcome, available_columns=available)
    # The result's confounders are those adjusted for (its contract); the DAG's others are
    # the ones the data lacks, listed apart — never both.
    observed = tuple(c for c in g.confounders if c not in g.unobserved_confounders)
    return observed, g.unobserved_confounders, g.mediators


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


@dataclass(frozen=True, slots=True)
class Prelude:
    """What the graph says before any fit: confounders adjusted for, those the data lacks,
    mediators left alone, the controls, and how the effects are identified."""

    confounders: tuple[str, ...]
    unobserved: tuple[str, ...]
    mediators: tuple[str, ...]
    controls: tuple[str, ...]
    identification: str


@dataclass(frozen=True, slots=True)
class Uncalibrated:
    """The model without lift tests: each channel's effect, and its prediction of each test."""

    effects: np.ndarray
    lift_predictions: np.ndarray


@dataclass(frozen=True, slots=True)
class Scores:
    channels: tuple[ChannelScore, ...]
    campaigns: tuple[CampaignScore, ...]
    curves: tuple[ResponseCurve, ...]
    baseline: Interval | None
    response_models: tuple[ResponseModel, ...]
    # Why the baseline's interval was widened by the test of no effect, if it was.
    baseline_note: str = ""
    # The model's interval of each lift test's lift (the fit's lifts, in order).
    lift_intervals: tuple[Interval, ...] = ()


def describe(
    panel: MediaPanel, spec: ModelSpec, series_kinds: Mapping[str, str] | None = None,
    choice: IdentificationChoice | None = None,
) -> Prelude:  # fmt: skip
    """The causal graph's confounders and mediators, the controls, the identification.
    ``series_kinds``: each registered national series' kind (macro, competitor, promotion…),
    which says which DAG node it stands for whatever its name. ``choice``: AUTO's
    (:func:`.identification_choice.choose_identification`), whose reason the text carries."""
    confounders, unobserved, mediators = _graph(panel, series_kinds or {})
    text = spec.identification.text
    if choice is not None:
        text = f"{text}; {choice.reason}"
    return Prelude(confounders, unobserved, mediators, (*panel.national, *panel.controls), text)


def estimate(panel: MediaPanel, spec: ModelSpec, lift_tests: Sequence[LiftTest]) -> FitState:
    """The calibrated fit, as a picklable state."""
    return fit_mmm(panel, spec, lift_tests).state()


def estimate_uncalibrated(
    panel: MediaPanel, spec: ModelSpec, lift_tests: Sequence[LiftTest],
    start: np.ndarray | None = None,
) -> Uncalibrated:  # fmt: skip
    """The same model without the lift tests (to say how much calibration moved each channel)."""
    fit = fit_mmm(panel, spec, (), start=start)
    ev = Evaluator(fit)
    effects = np.array([ev.effect(c)[0] for c in range(panel.n_channels)])
    prepared = check_lift_tests(panel, lift_tests)
    st = fit.objective.media(fit.theta, jacobian=False)
    data = lift_data(panel, prepared, spec.max_lag)
    preds = np.array([fit.objective.lift(fit.theta, d, st, gradient=False)[0] for d in data])
    return Uncalibrated(effects, preds)


def estimate_holdout(
    panel: MediaPanel, spec: ModelSpec, lift_tests: Sequence[LiftTest]
) -> np.ndarray | None:
    """The holdout fit's parameters (the model without the last ``holdout_days``)."""
    return holdout_theta(panel, spec, lift_tests)


def validate(state: FitState, holdout: np.ndarray | None = None) -> HealthReport:
    """The health checks of a fit (``holdout``: :func:`estimate_holdout`'s parameters; without
    them the holdout model is fitted here)."""
    fit = restore_fit(state)
    if holdout is None:
        return assess(fit, state.lift_tests)
    return assess(fit, state.lift_tests, holdout_theta=holdout)


def score(state: FitState, uncalibrated: Uncalibrated | None = None) -> Scores:
    """Channel and campaign scores, curves and planning models of a fit."""
    fit = restore_fit(state)
    ev = Evaluator(fit)
    channels, baseline = channel_scores(ev, None if uncalibrated is None else uncalibrated.effects)
    baseline, note = gated_baseline(ev, channels, baseline)
    campaigns = campaign_scores(ev, channels)
    curves = response_curves(ev)
    # Each test's own contrast, as the fit compared it (a dark cell's restored spend included:
    # a multiplier of its spend as run, nothing, would show a model lift of 0; R26-F6).
    data = lift_data(fit.panel, fit.lifts, fit.spec.max_lag)
    lifts = tuple(_model_lift(ev, d, p.test.raises) for p, d in zip(fit.lifts, data, strict=True))
    return Scores(tuple(channels), tuple(campaigns), tuple(curves), baseline,
                  tuple(response_models(fit)), note, lifts)  # fmt: skip


def _model_lift(ev: Evaluator, d: LiftData, raises: bool) -> Interval:
    """The model's lift for a test, its interval that of the effect of the higher spend (a
    cut's or a dark cell's lift, as run minus counterfactual, is minus that effect)."""
    value, grad = ev.obj.lift(ev.fit.theta, d, ev.state, gradient=True)
    assert grad is not None
    sign = -1.0 if raises else 1.0
    i = ev.claim(d.channel, ev.interval(sign * value, sign * grad))[0]
    return i if sign > 0 else replace(i, estimate=-i.estimate, lower=-i.upper, upper=-i.lower)


def _scaled(i: Interval, share: float) -> Interval:
    if share == 1.0:
        return i
    return replace(i, estimate=share * i.estimate, stderr=share * i.stderr,
                   lower=share * i.lower, upper=share * i.upper)  # fmt: skip


def assemble(
    prelude: Prelude,
    state: FitState,
    health: HealthReport,
    scores: Scores,
    uncalibrated: Uncalibrated | None,
    seconds: dict[str, float],
    warnings: Sequence[str] = (),
) -> AttributionReport:
    """The report from its parts; a failed model's scores are dropped."""
    fit = restore_fit(state)
    panel = fit.panel
    warnings = [*panel.warnings, *warnings, *(p.note for p in fit.lifts if p.note)]
    if health.verdict is Verdict.FAIL:
        warnings.append("model health is FAIL: no ROIs are reported; see the health checks")
        scores = Scores((), (), (), None, ())
    elif health.unidentified:
        warnings.append(
            "effects not identified by the data (their intervals are the prior's): "
            + ", ".join(health.unidentified)
        )
    # Channels whose lower bound the sup-score test of no effect set to zero (scores.py).
    warnings += [s.note for s in scores.channels if s.note]
    if scores.baseline_note:
        warnings.append(scores.baseline_note)
    if not fit.convergence.converged:
        warnings.append(f"the optimiser did not converge: {fit.convergence.message}")
    if "promotion" in prelude.unobserved and health.verdict is not Verdict.FAIL:
        # Measured on the simulator (docs/performance.md, Attribution): without the calendar,
        # email's interval held its truth in 11-32% of worlds instead of 80-95%.
        warnings.append(
            "no promotions calendar is registered: sales the promotions caused can be credited "
            "to the channels that run with them (email and SMS that send more on sale days); "
            "register it with `liftos factors register` (kind promotion) and analyse again"
        )
    # Each test in its own units (× share: calibration.PreparedLift).
    calibration = tuple(
        CalibrationRow(p.test.name, p.test.channel, p.share * p.test.lift,
                       p.share * p.test.stderr, p.share * float(pred),
                       None if uncalibrated is None
                       else p.share * float(uncalibrated.lift_predictions[i]),
                       _scaled(scores.lift_intervals[i], p.share)
                       if len(scores.lift_intervals) > i else None)
        for i, (p, pred) in enumerate(zip(fit.lifts, fit.lift_predictions, strict=True))
    )  # fmt: skip
    unidentified = set(health.unidentified)
    # an unidentified channel's model says why, so Recommend's "test it" can (it said "no
    # reason given" for every channel the checks un-identify: s20 FA's note)
    found = None
    if unidentified & {m.channel for m in scores.response_models}:
        found = health.identification or channel_identification(fit)
    models = tuple(
        replace(m, identified=False, note=m.note or found.reason(m.channel))
        if found is not None and m.channel in unidentified
        else m
        for m in scores.response_models
    )
    return AttributionReport(
        outcome_name=panel.outcome_name,
        start=dt.date.fromisoformat(str(panel.dates[0])),
        end=dt.date.fromisoformat(str(panel.dates[-1])),
        n_geos=panel.n_geos,
        n_days=panel.n_days,
        channels=scores.channels,
        campaigns=scores.campaigns,
        curves=scores.curves,
        baseline=scores.baseline,
        health=health,
        identification=prelude.identification,
        # the identification's sentence as reported (with AUTO's reason): the report says it once
        assumptions=(prelude.identification, *_assumptions(fit)[1:]),
        confounders=prelude.confounders,
        unobserved_confounders=prelude.unobserved,
        mediators=prelude.mediators,
        controls=(*fit.design_names, *fit.projection.controls),
        calibration=calibration,
        models=_models(fit),
        response_models=models,
        demand_elasticity=float(fit.theta[fit.layout.elasticity]),
        warnings=tuple(warnings),
        stage_seconds=seconds,
        series=daily_series(fit, health, decompose=health.verdict is not Verdict.FAIL),
        state=state,
    )


def analyze(
    panel: MediaPanel,
    spec: ModelSpec | None = None,
    lift_tests: Sequence[LiftTest] = (),
    *,
    progress: Progress | None = None,
    choice: IdentificationChoice | None = None,
) -> AttributionReport:
    """Run the attribution stages on a panel, one after the other (the service runs the same
    stages, estimation and scoring in parallel worker processes).

    Parameters
    ----------
    panel : MediaPanel
    spec : ModelSpec, optional
    lift_tests : sequence of LiftTest
    progress : callable(stage, fraction, message), optional
        Called as each stage ends; fractions are of the whole analysis.
    choice : IdentificationChoice, optional
        AUTO's choice: it replaces ``spec``'s identification and its reason is reported.

    Raises
    ------
    InvalidSpec, ContradictoryCalibration, InsufficientData
        From the calibration checks and the fit (see :func:`fit_mmm`).
    """
    spec = spec or ModelSpec()
    if choice is not None:
        spec = replace(spec, identification=choice.identification)
    report = progress or (lambda stage, frac, msg: None)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def done(stage: str, message: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = now - clock
        clock = now
        report(stage, STAGE_FRACTIONS[stage], message)

    prelude = describe(panel, spec, choice=choice)
    done("causal_graph", graph_message(prelude))
    done("confounders", confounders_message(prelude))
    done("identification", prelude.identification)
    state = estimate(panel, spec, lift_tests)
    uncalibrated = (
        estimate_uncalibrated(panel, spec, lift_tests, start=state.theta) if lift_tests else None
    )
    done("estimation", estimation_message(state))
    health = validate(state)  # the holdout fit, warm-started from the full one
    done("validation", validation_message(health))
    scores = score(state, uncalibrated)
    result = assemble(prelude, state, health, scores, uncalibrated, seconds)
    done("attribution", attribution_message(result))
    return replace(result, stage_seconds=dict(seconds))


# Fractions of the whole analysis at the end of each stage (retrieve is the service's).
STAGE_FRACTIONS = {
    "retrieve": 0.10,
    "causal_graph": 0.15,
    "confounders": 0.20,
    "identification": 0.25,
    "estimation": 0.65,
    "validation": 0.90,
    "attribution": 1.0,
}


def graph_message(p: Prelude) -> str:
    return (
        f"spend → outcome in the marketing DAG: {len(p.confounders) + len(p.unobserved)} "
        f"confounders ({len(p.unobserved)} unobserved), {len(p.mediators)} mediators"
    )


def confounders_message(p: Prelude) -> str:
    extra = f" and {', '.join(p.controls)}" if p.controls else ""
    return (
        f"adjusting for the calendar, trend and seasonality{extra}; mediators "
        "(impressions, clicks, platform conversions) are not adjusted for"
    )


def estimation_message(state: FitState) -> str:
    c = state.convergence
    return f"fitted in {c.iterations} iterations ({c.message})"


def validation_message(health: HealthReport) -> str:
    reasons = "; ".join(health.reasons)
    return f"verdict {health.verdict.value}" + (f": {reasons}" if reasons else "")


def attribution_message(r: AttributionReport) -> str:
    return f"{len(r.channels)} channels, {len(r.campaigns)} campaigns scored"
