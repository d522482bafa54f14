"""AnalyzeAttribution and Counterfactual: the questions checked at the edge, the AttributionResult, the counterfactual answer."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from causal_svc.attribution import (
    AttributionReport,
    CalibrationRow,
    CounterfactualResult,
    Identification,
    Interval,
    LiftTest,
    ModelSpec,
    SpendChange,
    Verdict,
)
from causal_svc.attribution.calendar import ModelCalendar
from causal_svc.attribution.null_test import NullTest
from causal_svc.attribution.planning import ResponseModel
from causal_svc.attribution.series import DECOMPOSITION, DailySeries
from causal_svc.attribution.transforms import DEFAULT_MAX_LAG, MAX_LAG
from causal_svc.convert.data_read import data_version, spend_read
from causal_svc.errors import InvalidSpec, NotAnAttribution
from mesh.runtime.code_version import code_version as runtime_code_version
from mesh.runtime.protoconv import date_from_proto, enum_from_proto, require_org

# ---------------------------------------------------------------- attribution, counterfactual
#
# Lift tests from ``ExperimentResult``, read as PyMC-Marketing's ``add_lift_test_measurements``
# reads them: ``spend_baseline`` is the treated cell's business-as-usual spend over the window
# (x), ``spend_delta`` the change the test made to it (delta_x), so the cell ran
# ``spend_baseline + spend_delta``, and ``lift_absolute`` is what that change did (delta_y; for a
# cut the magnitude is also accepted: a negative lift with a negative delta is turned around,
# as before). The fit's lift is the outcome as run minus under the counterfactual spend, the
# baseline: for a heavy-up the counterfactual is ``base / (base + delta)`` × the spend as run and
# the lift is the stated one; for a cut ``base / (base + delta)`` > 1 and the lift is minus what
# the cut cost; for a go-dark nothing ran to multiply, so the baseline is restored
# (``LiftTest.counterfactual_spend``). Before R26 (F6, F11) the multiplier was
# ``1 + delta / base`` applied to the spend as run: a heavy-up's counterfactual doubled the
# added spend and its positive lift was refused as "significantly negative", a cut of ×m was
# compared at m² × as usual, and a go-dark had nothing to scale and was dropped.
# One result is read the other way: ``spend`` (as run) equal to ``spend_baseline`` says the
# cell ran business as usual and the counterfactual took ``spend_delta`` from it (a holdout
# whose control arm went dark, as EstimateEffect records it); its multiplier is
# ``1 + delta / base`` and its lift already as run minus counterfactual, so a negative one
# (noise around a null) stays negative evidence. With no baseline a heavy-up's counterfactual
# is the panel's spend as run less the spend it added (``LiftTest.spend_added``), and a cut's
# the spend as run plus the spend it removed (``LiftTest.spend_removed``; a cell that ran none
# gets |spend_delta| restored). Before V2 F6 such a cut was read as the spend as run going dark.

# A cut up to this much above spend_baseline still reads as a go-dark (rounding in the user's
# own sums); beyond it the result is refused.
CUT_SLACK = 1.001

DEFAULT_HOLDOUT_DAYS = 28
MAX_HOLDOUT_DAYS = 180
MAX_CHANNELS = 100
MAX_CALIBRATION = 200
MAX_FUTURE_DAYS = 3660
# Money: finite and far inside what a double holds exactly in cents (the surfacing RPCs' cap).
MAX_MONEY = 1e13
_OUTCOMES = {
    common_pb.OUTCOME_METRIC_UNSPECIFIED: "revenue",
    common_pb.OUTCOME_METRIC_REVENUE: "revenue",
    common_pb.OUTCOME_METRIC_CONVERSIONS: "conversions",
}
# Only the identifications a caller may choose (spec.py: the other opt-in ones stay in-process).
# AUTO's (and so the default's) is chosen by the service from the window's data
# (identification_choice.py); its spec holds NATIONAL, what AUTO falls back to, until then.
_IDENTIFICATIONS = {
    causal_pb.ATTRIBUTION_IDENTIFICATION_UNSPECIFIED: Identification.NATIONAL,
    causal_pb.ATTRIBUTION_IDENTIFICATION_NATIONAL: Identification.NATIONAL,
    causal_pb.ATTRIBUTION_IDENTIFICATION_GEO: Identification.GEO,
    causal_pb.ATTRIBUTION_IDENTIFICATION_AUTO: Identification.NATIONAL,
}
# What a result says was asked for and fitted (the in-process-only ones are not on the wire).
_IDENTIFICATION_WIRE = {
    Identification.NATIONAL: causal_pb.ATTRIBUTION_IDENTIFICATION_NATIONAL,
    Identification.GEO: causal_pb.ATTRIBUTION_IDENTIFICATION_GEO,
}
# The default is AUTO: on every simulated world measured it picks NATIONAL (so its figures
# are NATIONAL's), on independently flighted, unchased geos GEO (docs/performance.md, R4-F11).
_AUTO = frozenset(
    {causal_pb.ATTRIBUTION_IDENTIFICATION_UNSPECIFIED, causal_pb.ATTRIBUTION_IDENTIFICATION_AUTO}
)
_VERDICTS = {
    Verdict.PASS: causal_pb.HEALTH_VERDICT_PASS,
    Verdict.REVIEW: causal_pb.HEALTH_VERDICT_REVIEW,
    Verdict.FAIL: causal_pb.HEALTH_VERDICT_FAIL,
}
_ADSTOCK = {"geometric": md_pb.ADSTOCK_TYPE_GEOMETRIC, "weibull": md_pb.ADSTOCK_TYPE_WEIBULL}


@dataclass(frozen=True, slots=True)
class AttributionQuestion:
    """A checked AnalyzeAttribution request."""

    org_id: str
    start: dt.date | None
    end: dt.date | None
    outcome: str
    channels: tuple[str, ...]
    spec: ModelSpec
    lift_tests: tuple[LiftTest, ...]
    seed: int = 0
    # AUTO: the service chooses the identification from the data (the spec's is the fallback).
    auto_identification: bool = False


def _date_range(rng: common_pb.DateRange, name: str) -> tuple[dt.date | None, dt.date | None]:
    start = date_from_proto(rng.start_date, f"{name}.start_date", required=False)
    end = date_from_proto(rng.end_date, f"{name}.end_date", required=False)
    if start is not None and end is not None and end < start:
        raise InvalidSpec(f"{name}: end_date {end} precedes start_date {start}", field=name)
    return start, end


def lift_test(r: md_pb.ExperimentResult, where: str, geos: tuple[str, ...] = ()) -> LiftTest:
    """A lift test from an experiment's measured result (see the module docstring)."""
    if not r.channel:
        raise InvalidSpec("a lift test names the channel it measured", field=f"{where}.channel")
    if not r.HasField("window"):
        raise InvalidSpec("a lift test needs its test window", field=f"{where}.window")
    start, end = _date_range(r.window, f"{where}.window")
    if start is None or end is None:
        raise InvalidSpec("the test window needs both dates", field=f"{where}.window")
    multiplier, restore, added, removed = 0.0, 0.0, 0.0, 0.0
    lift, base, delta = r.lift_absolute, r.spend_baseline, r.spend_delta
    for name, value in (("spend_baseline", base), ("spend_delta", delta)):
        if not math.isfinite(value):
            raise InvalidSpec(f"{name} must be a finite amount, got {value}",
                              field=f"{where}.{name}")  # fmt: skip
    if base < 0:
        raise InvalidSpec(f"spend_baseline is the business-as-usual spend, >= 0; got {base:,.0f}",
                          field=f"{where}.spend_baseline")  # fmt: skip
    if base > 0 and -delta > CUT_SLACK * base:
        # Read as a go-dark it would restore the baseline whatever the cut said: a sign or
        # units slip (delta in cents, the baseline in units) calibrated silently.
        raise InvalidSpec(f"spend_delta {delta:,.0f} cuts more than spend_baseline "
                          f"({base:,.0f}), the usual spend: a cut cannot exceed it (a go-dark "
                          "is spend_delta = -spend_baseline); check both are in the same "
                          "units and over the test window", field=f"{where}.spend_delta")  # fmt: skip
    ran_as_baseline = r.HasField("spend") and base > 0 and abs(r.spend.amount - base) <= 1e-9 * base
    # What the spend the test moved added (PyMC-Marketing's delta_y of a cut is negative).
    gain = -lift if delta < 0 and lift < 0 and not ran_as_baseline else lift
    as_run = base + delta
    if ran_as_baseline:
        multiplier = max(0.0, 1.0 + delta / base)
    elif base > 0 and delta > 0:  # a heavy-up: the counterfactual is the usual spend
        multiplier, lift = base / as_run, gain
    elif base > 0 and delta < 0 and as_run > 1e-9 * base:  # a cut: the counterfactual restores
        multiplier, lift = base / as_run, -gain
    elif base > 0 and delta < 0:  # a go-dark of the treated cell: nothing ran to multiply
        restore, lift = base, -gain
    elif base > 0:
        multiplier = 1.0  # no spend moved: no contrast (a prediction of 0 whatever the fit)
    elif delta > 0:  # a heavy-up that states no usual spend: the panel's as run less the added
        added, lift = delta, gain
    elif delta < 0:  # a cut that states no usual spend: the panel's as run plus the removed
        removed, lift = -delta, -gain  # (|delta| restored where the cell ran none)
    else:
        lift = gain
    # The standard error of a test over a few units is estimated from them (two-sample df);
    # without the counts it is taken as known.
    units = r.treatment_unit_count + r.control_unit_count
    df = float("inf")
    if min(r.treatment_unit_count, r.control_unit_count) > 0 and units > 2:
        df = float(units - 2)
    # Without geos the test's cell is unknown: its size is the spend it moved, and the panel
    # says what share of the channel's spend that was (calibration._as_spend_change).
    change = abs(r.spend_delta) if not geos and math.isfinite(r.spend_delta) else 0.0
    return LiftTest(
        channel=r.channel, start=start, end=end, lift=lift, stderr=r.lift_std_error, geos=geos,
        counterfactual_multiplier=multiplier, name=r.experiment_id or where, df=df,
        spend_change=change, treatment_units=max(0, r.treatment_unit_count),
        counterfactual_spend=restore, spend_added=added, spend_removed=removed,
    )  # fmt: skip


def attribution_question(request: causal_pb.AnalyzeAttributionRequest) -> AttributionQuestion:
    org = require_org(request.org_id)
    start, end = _date_range(request.date_range, "date_range")
    outcome = _OUTCOMES.get(request.outcome)
    if outcome is None:
        raise InvalidSpec(
            "attribution models revenue or conversions (the first-party outcome)",
            field="outcome",
        )
    if request.model_type not in (
        md_pb.ATTRIBUTION_MODEL_TYPE_UNSPECIFIED,
        md_pb.ATTRIBUTION_MODEL_TYPE_CAUSAL_MMM,
    ):
        raise InvalidSpec("only ATTRIBUTION_MODEL_TYPE_CAUSAL_MMM is served", field="model_type")
    if len(request.channels) > MAX_CHANNELS:
        raise InvalidSpec(f"at most {MAX_CHANNELS} channels", field="channels")
    for i, c in enumerate(request.channels):
        if not c.strip():
            raise InvalidSpec("a channel name is empty", field=f"channels[{i}]")
        if c in request.channels[:i]:
            # Twice in the list would fit the channel twice over (collinear columns).
            first = list(request.channels).index(c)
            raise InvalidSpec(f"channel {c!r} is listed twice (channels[{first}] and "
                              f"channels[{i}])", field=f"channels[{i}]")  # fmt: skip
    if not 0 <= request.holdout_days <= MAX_HOLDOUT_DAYS:
        raise InvalidSpec(f"holdout_days must be 0..{MAX_HOLDOUT_DAYS} (0 for the default "
                          f"{DEFAULT_HOLDOUT_DAYS})", field="holdout_days")  # fmt: skip
    if not 0 <= request.max_lag_days <= MAX_LAG:
        # past ~4 months a lag is longer than most windows can separate from trend and
        # seasonality (the fit needs the spend's history that far back, and twice as far)
        raise InvalidSpec(f"max_lag_days must be 0..{MAX_LAG} (0 for the default "
                          f"{DEFAULT_MAX_LAG}): the longest carry-over, in days, the model "
                          "looks for", field="max_lag_days")  # fmt: skip
    if request.seed:
        # Accepted and ignored, it read as a reproducibility switch (R33-F6): the fit has no
        # random step a seed would choose (its parameter draws and the null test's bootstrap
        # use fixed seeds), so two runs on the same data give the same numbers without one.
        raise InvalidSpec("seed must be 0: the attribution analysis is deterministic (its "
                          "parameter draws and the null test's bootstrap use fixed seeds), so "
                          "the same data gives the same numbers; leave seed unset",
                          field="seed")  # fmt: skip
    if len(request.calibration) > MAX_CALIBRATION:
        raise InvalidSpec(f"at most {MAX_CALIBRATION} lift tests", field="calibration")
    tests = []
    for i, r in enumerate(request.calibration):
        where = f"calibration[{i}]"
        if r.metric not in (common_pb.OUTCOME_METRIC_UNSPECIFIED, request.outcome or
                            common_pb.OUTCOME_METRIC_REVENUE):  # fmt: skip
            raise InvalidSpec("the lift test measured another outcome than the one modelled",
                              field=f"{where}.metric")  # fmt: skip
        # Unknown numbers survive proto3 parsing as plain ints: refused, not read as unset.
        enum_from_proto(r.scope, md_pb.CalibrationScope.DESCRIPTOR, f"{where}.scope")
        enum_from_proto(r.unit, common_pb.RandomizationUnit.DESCRIPTOR, f"{where}.unit")
        tests.append(lift_test(r, where))
    # Unknown numbers survive proto3 parsing as plain ints: refused, not read as the default.
    enum_from_proto(request.identification, causal_pb.AttributionIdentification.DESCRIPTOR,
                    "identification")  # fmt: skip
    # The holiday calendar (spec.country) is not the request's: the servicer resolves it from
    # the geos the records name (causal_svc.attribution.calendar.model_calendar).
    # 0, the default, holds out as many of the 28 days as the window allows (14 at least);
    # a holdout the caller set is held out exactly, or not run and said (health_holdout)
    spec = ModelSpec(holdout_days=request.holdout_days or DEFAULT_HOLDOUT_DAYS,
                     holdout_fit_to_window=not request.holdout_days,
                     identification=_IDENTIFICATIONS[request.identification],
                     max_lag=request.max_lag_days or DEFAULT_MAX_LAG)  # fmt: skip
    return AttributionQuestion(org, start, end, outcome, tuple(request.channels), spec,
                               tuple(tests), int(request.seed),
                               request.identification in _AUTO)  # fmt: skip


def _attr_interval(i: Interval) -> common_pb.Interval:
    return common_pb.Interval(estimate=i.estimate, lower=i.lower, upper=i.upper, level=i.level)


def _proto_date(d: dt.date) -> common_pb.Date:
    return common_pb.Date(year=d.year, month=d.month, day=d.day)


def _response_model(m: ResponseModel, identified: bool) -> causal_pb.ChannelResponseModel:
    return causal_pb.ChannelResponseModel(
        channel=m.channel, reference_spend=m.reference_spend, period_days=m.period_days,
        scale=m.scale.tolist(), half_saturation=m.half_saturation.tolist(),
        shape=m.shape.tolist(), nodes=m.nodes.tolist(), node_weights=m.node_weights.tolist(),
        carryover=m.carryover.tolist(), identified=identified, note=m.note,
        adstock=_ADSTOCK.get(m.adstock, md_pb.ADSTOCK_TYPE_UNSPECIFIED),  # type: ignore[arg-type]
        adstock_params=list(m.adstock_params), baseline_outcome=m.baseline_outcome,
        active_days=m.active_days, stopped=m.stopped, data_share=m.data_share,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReportContext:
    """What the report does not know about itself: ids, org, data size, versions."""

    analysis_id: str
    org_id: str
    record_count: int
    code_version: str
    currency: str = ""
    extra_seconds: dict[str, float] = field(default_factory=dict)
    # The request's date_range (None: open), to say when the analysed days are fewer.
    requested: tuple[dt.date | None, dt.date | None] = (None, None)
    # campaign id → name as memory holds it (AggregateRecords' campaign_names)
    campaign_names: Mapping[str, str] = field(default_factory=dict)
    # (the request left it to AUTO, the spec it asked for, the spec fitted): kept so a re-run
    # from the stored result asks the same (s20 R47-F4)
    identification: tuple[bool, Identification, Identification] | None = None


def report_to_proto(r: AttributionReport, ctx: ReportContext) -> causal_pb.AttributionResult:
    """The domain report as the contract's AttributionResult."""
    unidentified = set(r.health.unidentified)
    trimmed = window_note(*ctx.requested, r.start, r.end)
    # the holiday calendar's own caveat: geos in several countries, none named, past 2100
    calendar = r.state.spec.country if r.state is not None else None
    held = calendar.note if isinstance(calendar, ModelCalendar) and calendar.note else ""
    # whose holidays were controlled, for a forecast from this analysis (PredictPerformance)
    country = calendar.country if isinstance(calendar, ModelCalendar) else calendar or ""
    out = causal_pb.AttributionResult(
        analysis_id=ctx.analysis_id,
        warnings=[*([trimmed] if trimmed else []), *([held] if held else []), *r.warnings],
        confounders=list(r.confounders),
        unobserved_confounders=list(r.unobserved_confounders),
        mediators=list(r.mediators),
        controls=list(r.controls),
        record_count=ctx.record_count,
        geo_count=r.n_geos,
        day_count=r.n_days,
        model_version=r.model_version,
        code_version=ctx.code_version,
        outcome=(
            common_pb.OUTCOME_METRIC_CONVERSIONS
            if r.outcome_name == "conversions"
            else common_pb.OUTCOME_METRIC_REVENUE
        ),
        demand_elasticity=r.demand_elasticity,
        holiday_calendar_country=country,
    )
    if ctx.identification is not None:
        auto, asked, used = ctx.identification
        none = causal_pb.ATTRIBUTION_IDENTIFICATION_UNSPECIFIED
        out.identification_requested = (causal_pb.ATTRIBUTION_IDENTIFICATION_AUTO if auto
                                         else _IDENTIFICATION_WIRE.get(asked, none))  # fmt: skip
        out.identification_used = _IDENTIFICATION_WIRE.get(used, none)
    out.date_range.start_date.CopyFrom(_proto_date(r.start))
    out.date_range.end_date.CopyFrom(_proto_date(r.end))
    if r.baseline is not None:
        out.baseline_outcome.CopyFrom(_attr_interval(r.baseline))
    for c in r.channels:
        ch = out.channels.add(
            channel=c.channel, contribution_share=c.share, platform_reported_outcome=c.platform_outcome,
            platform_reported_roas=c.platform_roas or 0.0, media_input=c.media_input,
            identified=c.channel not in unidentified,
            platform_unreported_share=getattr(c, "platform_unreported_share", 0.0),
        )  # fmt: skip
        ch.spend.CopyFrom(common_pb.Money(amount=c.spend, currency_code=ctx.currency))
        ch.incremental_outcome.CopyFrom(_attr_interval(c.incremental))
        if c.iroas is not None:
            ch.incremental_roas.CopyFrom(_attr_interval(c.iroas))
        if c.marginal_roas is not None:
            ch.marginal_roas.CopyFrom(_attr_interval(c.marginal_roas))
        if c.naive_roas is not None:
            ch.naive_regression_roas = c.naive_roas
        if c.uncalibrated_iroas is not None:
            ch.uncalibrated_roas = c.uncalibrated_iroas
        if c.null_test is not None:
            t = c.null_test
            ch.no_effect_test.CopyFrom(causal_pb.NoEffectTest(
                statistic=t.statistic, p_value=t.p_value, shapes=t.shapes, draws=t.draws,
            ))  # fmt: skip
    for k in r.campaigns:
        cp = out.campaigns.add(campaign_id=k.campaign, channel=k.channel,
                               platform_reported_outcome=k.platform_outcome,
                               platform_unreported_share=getattr(
                                   k, "platform_unreported_share", 0.0),
                               campaign_name=ctx.campaign_names.get(k.campaign, ""))  # fmt: skip
        cp.spend.CopyFrom(common_pb.Money(amount=k.spend, currency_code=ctx.currency))
        cp.incremental_outcome.CopyFrom(_attr_interval(k.incremental))
        if k.iroas is not None:
            cp.incremental_roas.CopyFrom(_attr_interval(k.iroas))
    for curve in r.curves:
        out.response_curves.add(
            channel=curve.channel, spend=curve.spend.tolist(), outcome=curve.outcome.tolist(),
            lower=curve.lower.tolist(), upper=curve.upper.tolist(),
        )  # fmt: skip
    for m in r.response_models:
        out.response_models.append(
            _response_model(m, m.identified and m.channel not in unidentified)
        )
    h = r.health
    health = out.health
    health.verdict = _VERDICTS[h.verdict]  # type: ignore[assignment]
    health.in_sample_r_squared = _finite_or_zero(h.in_sample_r_squared)
    health.unidentified_channels.extend(h.unidentified)
    if h.holdout is not None:
        health.holdout_days = h.holdout.days
        health.holdout_r_squared = _finite_or_zero(h.holdout.r_squared)
        health.holdout_mape = _finite_or_zero(h.holdout.mape)
        health.holdout_nrmse = _finite_or_zero(h.holdout.nrmse)
    for check in h.checks:
        hc = health.checks.add(name=check.name, verdict=_VERDICTS[check.verdict],  # type: ignore[arg-type]
                               message=check.message)  # fmt: skip
        if check.value is not None and np.isfinite(check.value):
            hc.value = float(check.value)
        if check.threshold is not None:
            hc.threshold = float(check.threshold)
    for row in r.calibration:
        cal = out.calibration.add(
            experiment_id=row.name, channel=row.channel, measured_lift=row.measured,
            measured_std_error=row.stderr, predicted_lift=row.predicted,
        )  # fmt: skip
        if row.predicted_uncalibrated is not None:
            cal.predicted_lift_uncalibrated = row.predicted_uncalibrated
    ident = out.identification
    ident.kind = causal_pb.IDENTIFICATION_KIND_BACKDOOR  # type: ignore[assignment]
    ident.reason = r.identification
    ident.assumptions.extend(r.assumptions)
    ident.adjustment_set.extend(r.controls)
    model = out.model
    model.model_id = ctx.analysis_id
    model.org_id = ctx.org_id
    model.model_type = md_pb.ATTRIBUTION_MODEL_TYPE_CAUSAL_MMM  # type: ignore[assignment]
    model.model_config.outcome = out.outcome
    model.model_config.channels.extend(m.channel for m in r.models)
    model.model_config.controls.extend(r.controls)
    model.model_config.max_lag_days = (
        len(r.response_models[0].carryover) if r.response_models else 0
    )
    model.model_config.holdout_days = h.holdout.days if h.holdout else 0
    model.model_accuracy = _finite_or_zero(h.holdout.r_squared) if h.holdout else 0.0
    vm = model.validation_metrics
    vm.r_squared = _finite_or_zero(h.in_sample_r_squared)
    if h.holdout is not None:
        vm.holdout_r_squared = _finite_or_zero(h.holdout.r_squared)
        vm.holdout_mape = _finite_or_zero(h.holdout.mape)
        vm.nrmse = _finite_or_zero(h.holdout.nrmse)
    vm.calibration_mape, vm.calibration_coverage = calibration_metrics(r.calibration)
    for c in r.channels:
        model.feature_importance.add(feature=c.channel, importance=c.share)
    for stage, seconds in {**ctx.extra_seconds, **r.stage_seconds}.items():
        out.stage_timings.add(stage=stage, seconds=seconds)
    if r.series is not None:
        out.daily.CopyFrom(_daily(r.series))
    if r.state is not None:  # what the fit read, kept with it (R33-F3, F4, F6)
        panel = r.state.panel
        out.data_version = data_version(panel, r.state.lift_tests)
        model.model_config.calibration.extend(
            _lift_result(t, ctx.org_id, out.outcome) for t in r.state.lift_tests
        )
        if len(out.daily.dates) == panel.n_days:
            spend_read(panel, out.daily)
    return out


def window_note(
    requested_start: dt.date | None,
    requested_end: dt.date | None,
    start: dt.date,
    end: dt.date,
) -> str:
    """A warning when the analysed days ``start..end`` (the first-party outcome's days inside
    the request) are fewer than the requested window's; "" when they are the ones asked for
    (or the request left that side open)."""
    sides = []
    if requested_start is not None and requested_start < start:
        sides.append(f"{(start - requested_start).days} day(s) before {start}")
    if requested_end is not None and requested_end > end:
        sides.append(f"{(requested_end - end).days} day(s) after {end}")
    if not sides:
        return ""
    asked = f"{requested_start or '(open)'}..{requested_end or '(open)'}"
    return (
        f"the requested window {asked} was analysed as {start}..{end} "
        f"({(end - start).days + 1} days): the first-party outcome has no rows on the "
        f"{' and '.join(sides)}; the model spans the days the outcome is observed"
    )


def calibration_metrics(rows: Sequence[CalibrationRow]) -> tuple[float, float]:
    """ValidationMetrics' (calibration_mape, calibration_coverage): NaN where there is nothing
    to compute — no lift tests, where 0 would read as a perfect MAPE and a 0 % coverage. MAPE
    is the calibrated model's prediction against each test's measured lift (tests measuring
    0 left out); coverage the share of tests whose measured lift lies inside the model's
    interval of it (NaN for a failed model, which keeps no intervals)."""
    measured = np.array([row.measured for row in rows], dtype=np.float64)
    predicted = np.array([row.predicted for row in rows], dtype=np.float64)
    ok = measured != 0
    mape = (
        float(np.mean(np.abs(predicted[ok] - measured[ok]) / np.abs(measured[ok])))
        if ok.any()
        else math.nan
    )
    held = [row.predicted_interval.covers(row.measured) for row in rows
            if row.predicted_interval is not None]  # fmt: skip
    return mape, (float(np.mean(held)) if held else math.nan)


def _daily(s: DailySeries) -> causal_pb.DailyDecomposition:
    out = causal_pb.DailyDecomposition(
        dates=[_proto_date(d) for d in s.dates.astype(dt.date)],
        actual_outcome=s.actual.tolist(), predicted_outcome=s.predicted.tolist(),
        holdout=s.holdout.tolist(),
    )  # fmt: skip
    if s.baseline is not None:
        out.baseline_outcome.extend(s.baseline.tolist())
        out.decomposition = DECOMPOSITION
        for name, values in zip(s.channels, s.contributions, strict=True):
            out.channels.add(channel=name, contribution=values.tolist())
    return out


def _lift_result(t: LiftTest, org_id: str, metric: int) -> md_pb.ExperimentResult:
    """A lift test as the fit read it (AttributionModelConfig.calibration: "lift tests used to
    calibrate"): its window, lift, standard error and units, and the spend change where the
    fit read one as an amount (negative: the test cut spend; 0 where it read the test as a
    multiple of the spend as run, which keeps no amount), so a test re-recorded in the
    registry since can be told from the one used (R33-F6: only id, channel, lift and s.e.
    were kept, in calibration[])."""
    if t.spend_removed or t.spend_added:
        delta = t.spend_added - t.spend_removed
    elif t.counterfactual_spend:
        delta = -t.counterfactual_spend
    else:
        delta = -t.spend_change if t.raises else t.spend_change
    out = md_pb.ExperimentResult(
        experiment_id=t.name, org_id=org_id, channel=t.channel, metric=metric,  # type: ignore[arg-type]
        lift_absolute=t.lift, lift_std_error=t.stderr, spend_baseline=t.counterfactual_spend,
        spend_delta=delta, treatment_unit_count=t.treatment_units or len(t.geos),
    )  # fmt: skip
    out.window.start_date.CopyFrom(_proto_date(t.start))
    out.window.end_date.CopyFrom(_proto_date(t.end))
    return out


def _finite_or_zero(x: float) -> float:
    return float(x) if np.isfinite(x) else 0.0


@dataclass(frozen=True, slots=True)
class CounterfactualQuestion:
    org_id: str
    analysis_id: str
    changes: tuple[SpendChange, ...]
    start: dt.date | None
    end: dt.date | None
    future_days: int
    level: float


def counterfactual_question(request: causal_pb.CounterfactualRequest) -> CounterfactualQuestion:
    org = require_org(request.org_id)
    if not request.analysis_id:
        raise InvalidSpec("analysis_id is required", field="analysis_id")
    if not request.changes:
        raise InvalidSpec("a counterfactual needs at least one spend change", field="changes")
    changes = []
    for i, c in enumerate(request.changes):
        if not c.channel:
            raise InvalidSpec("the change names no channel", field=f"changes[{i}].channel")
        if c.HasField("spend") and not 0 <= c.spend <= MAX_MONEY:
            raise InvalidSpec(f"spend must be 0..{MAX_MONEY:g}, got {c.spend:g}",
                              field=f"changes[{i}].spend")  # fmt: skip
        changes.append(SpendChange(
            c.channel,
            c.multiplier if c.HasField("multiplier") else None,
            c.spend if c.HasField("spend") else None,
        ))  # fmt: skip
    start = end = None
    if request.HasField("reference_period"):
        start, end = _date_range(request.reference_period, "reference_period")
    if not 0 <= request.future_days <= MAX_FUTURE_DAYS:
        raise InvalidSpec(f"future_days must be 0..{MAX_FUTURE_DAYS}", field="future_days")
    if request.future_days and request.HasField("reference_period"):
        raise InvalidSpec("give a reference_period or future_days, not both", field="future_days")
    alpha = request.alpha or 0.05
    if not 0 < alpha < 1:
        raise InvalidSpec("alpha must be in (0, 1)", field="alpha")
    return CounterfactualQuestion(org, request.analysis_id, tuple(changes), start, end,
                                  int(request.future_days), 1.0 - alpha)  # fmt: skip


def counterfactual_response(r: CounterfactualResult) -> causal_pb.CounterfactualResponse:
    out = causal_pb.CounterfactualResponse(
        reference_outcome=_attr_interval(r.reference_outcome),
        counterfactual_outcome=_attr_interval(r.counterfactual_outcome),
        delta=_attr_interval(r.delta),
    )
    for c in r.channels:
        out.channels.add(channel=c.channel, reference_spend=c.reference_spend,
                         counterfactual_spend=c.counterfactual_spend,
                         outcome_delta=_attr_interval(c.delta))  # fmt: skip
    out.evaluated_period.start_date.CopyFrom(_proto_date(r.start))
    out.evaluated_period.end_date.CopyFrom(
        _proto_date(r.start + dt.timedelta(days=r.evaluated_days - 1))
    )
    out.warnings.extend(r.warnings)
    return out


def no_effect_tests(analysis: causal_pb.Analysis) -> dict[str, NullTest]:
    """The tests of no effect a stored attribution's table ran, by channel: a counterfactual
    reuses their decisions rather than re-running the bootstrap."""
    return {
        c.channel: NullTest(c.no_effect_test.statistic, c.no_effect_test.p_value,
                            c.no_effect_test.shapes, c.no_effect_test.draws)
        for c in analysis.attribution.channels
        if c.HasField("no_effect_test")
    }  # fmt: skip


def require_usable_model(
    payload: bytes, model: bytes | None, analysis_id: str
) -> causal_pb.Analysis:
    """A counterfactual needs an attribution analysis whose model passed its health checks;
    the stored analysis, parsed.

    Raises
    ------
    NotAnAttribution
        An effect estimate, an attribution stored without its model, or a failed model.
    """
    analysis = causal_pb.Analysis.FromString(payload)
    if analysis.WhichOneof("result") != "attribution" or model is None:
        raise NotAnAttribution(
            f"analysis {analysis_id!r} is not an attribution model (AnalyzeAttribution makes "
            "one); counterfactuals read its response curves",
            subject="analysis_id",
        )
    if analysis.attribution.health.verdict == causal_pb.HEALTH_VERDICT_FAIL:
        raise NotAnAttribution(
            f"analysis {analysis_id!r} failed its health checks; its model gives no answers",
            subject="analysis_id",
            reason="ATTRIBUTION_MODEL_FAILED",
        )
    return analysis


def code_version() -> str:
    """The installed liftos version and the commit it runs (:mod:`mesh.runtime.code_version`:
    LIFTOS_CODE_VERSION, else this checkout's git commit, else "commit unknown")."""
    return runtime_code_version()
