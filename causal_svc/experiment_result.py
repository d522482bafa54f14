"""A geo experiment's estimate as the registry's lift-test result (``ExperimentResult``).

EstimateEffect on a registered geo experiment's records answers an effect *per treated geo-day*
(the DiD family's ATT of ``treated_post``). Attribution is calibrated by lift tests: the outcome
over the treated cell's window with the channel's spend as it ran, minus the outcome with that
spend changed (``causal_svc.attribution.calibration``; read from the wire by
``causal_svc.convert.lift_test``). This module turns the one into the other:

- **lift** over the treated cell = the per geo-day effect × the treated geo-days in the window
  (its standard error and interval scale the same way). The benches' analyst
  (``tests/causal/attribution/world.py::experiment_lift``) does a DiD of revenue *per resident*
  scaled by the treated residents × days instead; both estimate the same total, weighted
  differently (geos equally here, residents there), so they agree to sampling error, not
  exactly.
- **spend change**: what the test did to the channel's spend in the treated cell. Each arm's
  business-as-usual (BAU) spend over the window is what its pre-period daily spend implies; its
  *dose* is window spend ÷ BAU. The contrast the estimate measures is the treated cell at its own
  dose versus at the control arm's dose, so the treated cell's counterfactual spend is its BAU ×
  the control's dose (a difference in differences of spend, in ratios).

  * The treated arm kept the channel on and the control went dark (the simulator's holdout, the
    usual Meta / Google geo holdout): the treated cell's spend as run *is* its business as
    usual, and the counterfactual takes it away. ``spend_baseline`` = spend as run,
    ``spend_delta`` = counterfactual − as run (negative), ``lift`` = the estimate's sign (on
    minus off), so that ``convert.lift_test``'s counterfactual multiplier
    ``1 + spend_delta / spend_baseline`` is exactly the control's dose ÷ the treated dose.
  * The treated arm was cut or went dark: PyMC-Marketing's convention — ``spend_baseline`` = the
    treated cell's BAU at the control's dose, ``spend_delta`` = spend as run − that (negative),
    ``lift`` = the estimate's sign (negative when the cut cost outcome), which
    ``convert.lift_test`` turns around.

  Either way ``spend_delta < 0``. Equal doses (the test did not move the channel's spend) give no
  lift test: :class:`NoSpendContrast`.
- **unit counts** are the arms' geos with records; the standard error's degrees of freedom are
  ``n_t + n_c − 2`` (what ``convert.lift_test`` reads back from the counts; the analyst's Welch
  df is at most that).
- **confidence** is ``1 − p`` of the estimate (Robyn's reading).

Which estimates to record (issue 19, measured): record every estimate, a failed check carried
on the response's warnings and in the stored analysis the result names (``analysis_id``), at
its own standard error (not widened). Withholding on a check selects on the estimate: the
placebo rule before 14ce4b3 failed only significant estimates. Over 60 ``demo`` worlds all
estimates miss the true ATT by −5.4% on average, those the old checks passed by −12.5% (15
withheld, +16%). Calibration (``bench/calibration_registry.py --seeds 20 --also-withhold 2 3 8
9 11 14``, seeds 0–19): mean |iROAS error| 0.484 recording all (today's checks fail none of
them), 0.633 withholding the old checks' 6, uncalibrated 0.968. So the service records a
failed estimate too, with the failure as a warning (``CausalService._record_result``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from causal_svc.errors import InsufficientData
from causal_svc.experiment_units import unit_matches
from causal_svc.record_tables import FIRST_PARTY_SOURCE

__all__ = [
    "ArmSpend",
    "GeoExperiment",
    "MeasuredLift",
    "NoSpendContrast",
    "arm_spend",
    "lift_from_records",
    "measured_lift",
    "partial_window_note",
    "with_arms_from_records",
]

# Doses closer than this (relative) are "the test did not move spend".
MIN_DOSE_GAP = 0.05


class NoSpendContrast(InsufficientData):
    """The arms ran the channel at the same dose: the estimate is no lift test of its spend."""


@dataclass(frozen=True, slots=True)
class GeoExperiment:
    """What the conversion needs of a registered geo experiment."""

    experiment_id: str
    channel: str
    start: dt.date
    end: dt.date
    treatment_units: tuple[str, ...]
    control_units: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ArmSpend:
    """The channel's spend and the outcome per arm, read from the records.

    ``*_window``: summed over the test window; ``*_pre_daily``: mean per day before it (the
    business-as-usual rate). ``treated_geo_days``: treated geos × window days with outcome
    records (any records where the query holds no first-party ones); ``first``, ``last``:
    the first and last of those days, the part of the window the estimate measured.
    """

    treated_window: float
    treated_pre_daily: float
    control_window: float
    control_pre_daily: float
    window_days: int
    treated_geos: int
    control_geos: int
    treated_geo_days: int
    treated_outcome_window: float
    first: dt.date
    last: dt.date

    @property
    def treated_dose(self) -> float:
        return _dose(self.treated_window, self.treated_pre_daily, self.window_days)

    @property
    def control_dose(self) -> float:
        return _dose(self.control_window, self.control_pre_daily, self.window_days)


def _dose(window: float, pre_daily: float, days: int) -> float:
    bau = pre_daily * days
    if bau <= 0:
        return math.inf if window > 0 else 0.0
    return window / bau


def with_arms_from_records(experiment: GeoExperiment, records: pd.DataFrame) -> GeoExperiment:
    """The experiment with its arms read from the records' assignment when the registry
    assigned geos by hashing (no explicit unit lists)."""
    if experiment.treatment_units or "treatment_group" not in records:
        return experiment
    mine = records.loc[records["experiment_id"].astype(str).eq(experiment.experiment_id)]
    group = mine["treatment_group"].astype(str)
    treated = tuple(sorted(set(mine.loc[group.eq("treatment"), "geo"].astype(str))))
    control = tuple(sorted(set(mine.loc[group.eq("control"), "geo"].astype(str)) - set(treated)))
    return GeoExperiment(experiment.experiment_id, experiment.channel, experiment.start,
                         experiment.end, treated, control)  # fmt: skip


def arm_spend(records: pd.DataFrame, experiment: GeoExperiment, outcome: str) -> ArmSpend:
    """The experiment channel's spend per arm before and in the window, and the treated
    cell's first-party ``outcome`` in the window, from memory's records (a
    :func:`mesh.runtime.frames.records_to_frame` frame)."""
    day = pd.to_datetime(records["local_date"])
    start, end = pd.Timestamp(experiment.start), pd.Timestamp(experiment.end)
    window, pre = (day >= start) & (day <= end), day < start
    treated = unit_matches(records["geo"], experiment.treatment_units)
    control = unit_matches(records["geo"], experiment.control_units)
    first_party = records["data_source"].astype(str).eq(FIRST_PARTY_SOURCE)
    media = ~first_party & records["channel"].astype(str).eq(experiment.channel)
    spend = records["spend"].to_numpy(np.float64)
    n_window = int(day[window].dt.normalize().nunique())
    n_pre = int(day[pre].dt.normalize().nunique())
    if not treated.any() or not control.any():
        raise InsufficientData(
            f"experiment {experiment.experiment_id!r} has no records in its "
            f"{'treated' if not treated.any() else 'control'} geos",
            subject="records",
        )
    if n_window == 0:
        raise InsufficientData(
            f"no records inside the window {experiment.start}..{experiment.end} of experiment "
            f"{experiment.experiment_id!r}",
            subject="records",
        )
    if n_pre == 0:
        raise InsufficientData(
            f"no records before the window of experiment {experiment.experiment_id!r}: the "
            "business-as-usual spend the test changed is read from its pre-period (start the "
            "records query before the experiment)",
            subject="records",
        )

    # The estimate measured the days with outcome rows: records read to an --end inside the
    # test, or orders not yet landed for its last days, leave those days out, and the spend
    # contrast is read over the same days.
    has_outcome = treated & window & first_party
    measured = has_outcome if has_outcome.any() else treated & window
    days_measured = day[measured].dt.normalize()
    first = days_measured.min() if len(days_measured) else start
    last = days_measured.max() if len(days_measured) else end
    window &= (day >= first) & (day < last + pd.Timedelta(days=1))
    n_window = int(day[window].dt.normalize().nunique())

    def total(mask: pd.Series) -> float:
        return float(spend[(mask & media).to_numpy()].sum())

    outcome_values = records[outcome].to_numpy(np.float64)
    in_treated_window = (treated & window & first_party).to_numpy()
    geo_days = records.loc[measured, ["geo"]].assign(d=days_measured)
    return ArmSpend(
        treated_window=total(treated & window),
        treated_pre_daily=total(treated & pre) / n_pre,
        control_window=total(control & window),
        control_pre_daily=total(control & pre) / n_pre,
        window_days=n_window,
        treated_geos=int(records.loc[treated, "geo"].nunique()),
        control_geos=int(records.loc[control, "geo"].nunique()),
        treated_geo_days=len(geo_days.drop_duplicates()),
        treated_outcome_window=float(outcome_values[in_treated_window].sum()),
        first=first.date(),
        last=last.date(),
    )


@dataclass(frozen=True, slots=True)
class MeasuredLift:
    """A lift test measured by an estimate, in ``ExperimentResult``'s terms (see the module
    docstring for the sign conventions)."""

    experiment_id: str
    channel: str
    start: dt.date
    end: dt.date
    outcome: str
    lift: float
    stderr: float
    lift_lower: float
    lift_upper: float
    level: float  # coverage of the lift and iROAS intervals
    lift_relative: float
    spend: float  # the treated cell's spend as run in the window
    spend_baseline: float
    spend_delta: float
    iroas: float
    iroas_lower: float
    iroas_upper: float
    treatment_units: int
    control_units: int
    df: float
    confidence: float
    analysis_id: str


def measured_lift(
    experiment: GeoExperiment,
    spend: ArmSpend,
    *,
    effect: float,
    stderr: float,
    alpha: float,
    p_value: float,
    outcome: str,
    analysis_id: str,
) -> MeasuredLift:
    """The lift test an estimate of ``effect`` per treated geo-day (± ``stderr``) measured."""
    if not (math.isfinite(effect) and math.isfinite(stderr) and stderr > 0):
        raise InsufficientData(
            "the estimate has no finite effect with a positive standard error", subject="estimate"
        )
    t_dose, c_dose = spend.treated_dose, spend.control_dose
    top = max(t_dose, c_dose)
    if not math.isfinite(top) or top <= 0 or abs(t_dose - c_dose) <= MIN_DOSE_GAP * top:
        raise NoSpendContrast(
            f"the {experiment.channel!r} spend dose was {t_dose:.2f}× business as usual in the "
            f"treated geos and {c_dose:.2f}× in the control geos over the window: the test did "
            "not change the channel's spend, so its estimate is no lift test of it",
            subject="spend",
        )
    scale = float(spend.treated_geo_days)
    lift, se = effect * scale, stderr * scale
    df = float(spend.treated_geos + spend.control_geos - 2)
    q = float(stats.t.ppf(1 - alpha / 2, df)) if df > 0 else float(stats.norm.ppf(1 - alpha / 2))
    as_run = spend.treated_window
    # The treated cell's spend had it followed the control arm's dose.
    counterfactual = spend.treated_pre_daily * spend.window_days * c_dose
    if t_dose > c_dose:  # the treated cell ran business as usual; the test took spend away
        baseline, delta = as_run, counterfactual - as_run
    else:  # the treated cell was cut (PyMC-Marketing's x, delta_x)
        baseline, delta = counterfactual, as_run - counterfactual
    gain = lift if delta < 0 and t_dose > c_dose else -lift  # outcome per spend removed
    per = abs(delta)
    base_outcome = spend.treated_outcome_window - lift
    return MeasuredLift(
        experiment_id=experiment.experiment_id,
        channel=experiment.channel,
        # The days measured (R26 F5: a lift read to an --end a week into a 28-day test was
        # recorded under the 28 days, and calibration cut the channel's iROAS ×9 to match it).
        start=spend.first,
        end=spend.last,
        outcome=outcome,
        lift=lift,
        stderr=se,
        lift_lower=lift - q * se,
        lift_upper=lift + q * se,
        level=1.0 - alpha,
        lift_relative=lift / base_outcome if base_outcome > 0 else 0.0,
        spend=as_run,
        spend_baseline=baseline,
        spend_delta=delta,
        iroas=gain / per,
        iroas_lower=(gain - q * se) / per,
        iroas_upper=(gain + q * se) / per,
        treatment_units=spend.treated_geos,
        control_units=spend.control_geos,
        df=df,
        confidence=float(min(max(1.0 - p_value, 0.0), 1.0)) if math.isfinite(p_value) else 0.0,
        analysis_id=analysis_id,
    )


def lift_from_records(
    experiment: GeoExperiment,
    records: pd.DataFrame,
    *,
    effect: float,
    stderr: float,
    alpha: float,
    p_value: float,
    outcome: str,
    analysis_id: str,
) -> tuple[MeasuredLift, str]:
    """The lift test an estimate over memory's ``records`` measured, and the currency its
    spend is in (the treated cell's media rows' currency, "" when they name none)."""
    experiment = with_arms_from_records(experiment, records)
    spend = arm_spend(records, experiment, outcome)
    lift = measured_lift(experiment, spend, effect=effect, stderr=stderr, alpha=alpha,
                         p_value=p_value, outcome=outcome, analysis_id=analysis_id)  # fmt: skip
    currency = ""
    if "currency_code" in records:
        media = records.loc[records["channel"].astype(str).eq(experiment.channel), "currency_code"]
        codes = media.astype(str).replace("", np.nan).dropna()
        currency = str(codes.mode().iloc[0]) if not codes.empty else ""
    return lift, currency


def partial_window_note(experiment: GeoExperiment, lift: MeasuredLift) -> str:
    """A warning when the lift was measured over part of the test's window ("" when all)."""
    if (lift.start, lift.end) == (experiment.start, experiment.end):
        return ""
    days = (lift.end - lift.start).days + 1
    of = (experiment.end - experiment.start).days + 1
    missing = []
    if lift.start > experiment.start:
        missing.append(f"{experiment.start}..{lift.start - dt.timedelta(days=1)}")
    if lift.end < experiment.end:
        missing.append(f"{lift.end + dt.timedelta(days=1)}..{experiment.end}")
    return (
        f"experiment result recorded over {lift.start}..{lift.end}, {days} of the test's {of} "
        f"days ({experiment.start}..{experiment.end}): the records read hold no outcome in its "
        f"treated geos on {' and '.join(missing)}, so attribution is calibrated by it over the "
        "days it measured; estimate and record it again once the test's other days are in"
    )
