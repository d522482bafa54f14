"""The holdout health check: the model fitted without the last ``holdout_days`` forecasts
them, and its error there is the out-of-sample fit (:mod:`.health` documents the verdicts).

A holdout is judged only on enough scored days (``MIN_HOLDOUT_SCORED_DAYS``); on fewer, or
when the window is too short to hold the days out at all, the check is REVIEW and says what
was not checked and how to check it — never FAIL on a handful of days' noise.

Nor on the outcome's own noise (audit s20 R48 F4): a shop with ~8 orders a day has a daily
revenue that is mostly chance, and even the true model of its simulator scores R² −0.04 to 0.08
on the 28 held-out days, so R² below 0 FAILed 4 of 6 such 90-day analyses at random. The
holdout's error is judged against the noise the same forecast leaves on its training days
(its residual variance, degrees of freedom counted): R² below 0 FAILs only when the held-out
error's variance exceeds that noise by more than chance does one time in 100 (the F
distribution's 99% point, ~2.1 on 28 days), and the check says when the noise is most of the
held-out days' variance, as an R² there cannot judge the fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import f as f_distribution
from statsmodels.stats.diagnostic import acorr_ljungbox

from .calendar import national_design
from .calibration import LiftTest
from .fit import MMMFit, fit_mmm, gap_days, log_outcome
from .health_outcome import HealthCheck, Verdict
from .panel import MediaPanel
from .spec import ModelSpec

__all__ = [
    "HOLDOUT_NOISE_LEVEL",
    "MIN_HOLDOUT_SCORED_DAYS",
    "Holdout",
    "UnscoredHoldout",
    "holdout_check",
    "holdout_days",
    "holdout_fit",
    "holdout_theta",
    "holdout_verdict",
]

MIN_HOLDOUT_R2_FAIL = 0.0
MIN_HOLDOUT_R2_REVIEW = 0.3
MAX_HOLDOUT_MAPE = 0.20
# The chance of a held-out error this far above the training noise, for a model that forecasts
# as well as it fits, under which R² below 0 is the model's failure and not the outcome's noise.
HOLDOUT_NOISE_LEVEL = 0.01
# The training residuals must look like noise for their variance to stand for chance: a
# Ljung–Box test over two weeks of lags rejecting at 1% says a pattern is left (s20 V1 F1: a
# 5-day cycle the model lacked read as "chance" and turned a bad forecast's FAIL into REVIEW).
HOLDOUT_WHITE_P = 0.01
WHITE_LAGS = 14
# Scored held-out days below which the holdout's R² is not judged. R² on n days is noisy: for
# a model whose out-of-sample R² is 0.7 (far above REVIEW's 0.3), the R² holdout_fit computes
# (error mean-removed, independent Gaussian days: a lower bound on the spread of autocorrelated
# days) reads below 0, a FAIL, in 13.8% of holdouts of 4 days, 5.5% of 7, 2.3% of 10 and 0.8%
# of 14, and its 5% quantile is -1.09 at 4 days, -0.04 at 7, 0.33 at 14 (200,000 draws each,
# notes/s18/Q_notes.md). From 14 days a FAIL is the model's, not the sample's; 14 days also
# hold every weekday twice, so the weekly cycle the model forecasts is in the score.
MIN_HOLDOUT_SCORED_DAYS = 14
# The training days a holdout fit needs: at least this many, and twice the holdout.
MIN_HOLDOUT_TRAIN_DAYS = 56
# Training days from which the holdout's forecast keeps the annual terms. Fitted to a few
# months they extrapolate wildly; over most of a year they are pinned, and without them the
# forecast of a year's last weeks misses its season (audit R18 F5: a year whose media do
# nothing, 337 training days, R² -0.10 and FAIL, no ROIs; with them 0.99). 300 days: the
# simulator's demo/confounded worlds of 329-365 days forecast as well or better with them
# (R² 0.919 -> 0.964 at 330 days; 0.962 -> 0.957 the one dip), docs/performance.md.
MIN_ANNUAL_TRAIN_DAYS = 300


@dataclass(frozen=True, slots=True)
class Holdout:
    """Out-of-sample fit on the last days."""

    days: int
    r_squared: float
    mape: float
    nrmse: float
    # The held-out error's variance over the forecast's residual variance on its training days
    # (its noise; nan: not measured), the ratio chance exceeds one time in 100
    # (``HOLDOUT_NOISE_LEVEL``) for a model that forecasts as well as it fits, and that noise
    # as a share of the held-out days' variance (near 1: an R² near 0 is the best a model can
    # score there).
    noise_ratio: float = float("nan")
    noise_limit: float = float("nan")
    noise_share: float = float("nan")
    # Ljung–Box p of the training residuals (nan: not measured): below HOLDOUT_WHITE_P they
    # carry a pattern the model lacks, and its error is not the outcome's chance.
    noise_white_p: float = float("nan")

    @property
    def within_noise(self) -> bool:
        """Whether the held-out error is inside what the outcome's noise gives by chance (and
        that noise is chance: no serial pattern left on the training days)."""
        return bool(
            np.isfinite(self.noise_ratio)
            and self.noise_ratio <= self.noise_limit
            and not self.noise_white_p < HOLDOUT_WHITE_P
        )


@dataclass(frozen=True, slots=True)
class UnscoredHoldout:
    """A holdout with too few scored days to judge (``scored`` < ``MIN_HOLDOUT_SCORED_DAYS``):
    held out too few days, or most fall on a calendar event or external move the training
    days never saw (``unseen``: those terms). ``figures``: the fit on the scored days, when
    there are two or more (shown, not judged)."""

    days: int
    scored: int
    unseen: tuple[str, ...]
    figures: Holdout | None = None


def _window_fits(n_days: int, days: int) -> bool:
    return n_days - days >= max(MIN_HOLDOUT_TRAIN_DAYS, 2 * days)


def _window_needed(days: int) -> int:
    """The shortest window a holdout of ``days`` can be fitted on."""
    return max(MIN_HOLDOUT_TRAIN_DAYS + days, 3 * days)


def _longest(n_days: int) -> int:
    """The longest holdout a window of ``n_days`` allows."""
    return min(n_days - MIN_HOLDOUT_TRAIN_DAYS, n_days // 3)


def holdout_days(spec: ModelSpec, n_days: int) -> int:
    """The days held out of a window of ``n_days``: the spec's; when they are the default
    (``spec.holdout_fit_to_window``) and the window is too short for them, the longest the
    window allows, if it is at least ``MIN_HOLDOUT_SCORED_DAYS`` (76 days at the default 28:
    20). A new customer's two or three months were otherwise REVIEW on every analysis, the
    default holdout not run whatever the fit (audit s18 V2 F6)."""
    days = spec.holdout_days
    if days > 0 and spec.holdout_fit_to_window and not _window_fits(n_days, days):
        longest = _longest(n_days)
        if longest >= MIN_HOLDOUT_SCORED_DAYS:
            return longest
    return days


def holdout_theta(
    panel: MediaPanel, spec: ModelSpec, lift_tests: Sequence[LiftTest],
    start: np.ndarray | None = None,
) -> np.ndarray | None:  # fmt: skip
    """The parameters fitted without the last ``holdout_days`` (None: too short to hold out).
    Independent of the full fit, so the service runs it beside that fit."""
    days = holdout_days(spec, panel.n_days)
    if days <= 0 or not _window_fits(panel.n_days, days):
        return None
    train = panel.subset_days(panel.n_days - days)
    keep = [t for t in lift_tests if np.datetime64(t.end, "D") < train.dates[-1]]
    return fit_mmm(train, replace(spec, holdout_days=0, holdout_fit_to_window=False), keep,
                   start=start).theta  # fmt: skip


def holdout_fit(
    fit: MMMFit, lift_tests: Sequence[LiftTest], theta: np.ndarray | None = None
) -> Holdout | UnscoredHoldout | None:
    """Score the prediction of the last ``holdout_days`` by the model fitted without them
    (``theta``: that fit's parameters, when already fitted; else it is fitted here)."""
    panel = fit.panel
    days = holdout_days(fit.spec, panel.n_days)
    if theta is None:
        theta = holdout_theta(panel, fit.spec, lift_tests, start=fit.theta)
    if theta is None:
        return None
    stop = panel.n_days - days
    # Predict the held-out national log series: the nuisance fitted on the training days,
    # extended over the holdout (calendar, externals and basis are known there), plus media.
    proj = fit.objective.projection
    observed = proj.day_mean(log_outcome(panel.outcome))
    _, m_full = fit.media(theta)
    media = proj.day_mean(np.log(m_full))
    design, names = _holdout_design(fit, stop)
    seen = np.abs(design[:stop]).sum(axis=0) > 0
    # Days whose calendar event never occurred in training cannot be forecast by any model
    # of that calendar; they are left out of the score.
    scored = np.arange(stop, panel.n_days)
    scored = scored[np.abs(design[stop:][:, ~seen]).sum(axis=1) == 0]
    figures = None
    if scored.size >= 2:  # R² is the error around the scored days' own mean: one has none
        train = (observed - media)[:stop]
        coef, _, rank, _ = np.linalg.lstsq(design[:stop][:, seen], train, rcond=None)
        predicted = design[:, seen] @ coef + media
        # the forecast's own noise: its residuals on the days it was fitted to
        left = train - design[:stop][:, seen] @ coef
        dof = stop - int(rank)
        noise = float(left @ left) / dof if dof > 0 else float("nan")
        figures = replace(_figures(days, observed[scored], predicted[scored], noise, dof),
                          noise_white_p=_white_p(left))  # fmt: skip
    if scored.size < MIN_HOLDOUT_SCORED_DAYS:
        # A holdout ending a short window inside events its training days never reached (a
        # 90-day window from mid-September held out 14 days: Black Friday weekend and
        # December, every one), or one of a few days: its R² would be noise.
        held_out = np.abs(design[stop:]).sum(axis=0) > 0
        unseen = tuple(n for n, u in zip(names, ~seen & held_out, strict=True) if u)
        return UnscoredHoldout(days, int(scored.size), unseen, figures)
    assert figures is not None
    return figures


def _white_p(residuals: np.ndarray) -> float:
    """Ljung–Box p-value of the training residuals at ``WHITE_LAGS`` lags (nan where too few):
    a driver the model lacks (a cycle, a weekly pattern it misses) leaves them correlated, and
    its held-out error is then no measure of chance (s20 V1 F1)."""
    lags = min(WHITE_LAGS, residuals.size // 5)
    if lags < 1 or not np.isfinite(residuals).all() or float(np.ptp(residuals)) == 0.0:
        return float("nan")
    return float(acorr_ljungbox(residuals, lags=[lags])["lb_pvalue"].iloc[0])


def _figures(
    days: int, held: np.ndarray, predicted: np.ndarray, noise: float = float("nan"),
    dof: int = 0,
) -> Holdout:  # fmt: skip
    """R², MAPE and NRMSE of the held-out days; with the training ``noise`` (a residual
    variance on ``dof`` degrees of freedom), the held-out error's variance against it."""
    err = held - predicted
    # The level of unseen weeks is the baseline's, not the media model's, to forecast: the
    # check asks whether the model predicts how held-out days move, so the mean error goes.
    err = err - err.mean()
    sst = float(((held - held.mean()) ** 2).sum())
    r2 = 1.0 - float((err**2).sum()) / sst if sst > 0 else float("nan")
    mape = float(np.mean(np.abs(np.expm1(-err))))
    span = float(held.max() - held.min())
    nrmse = float(np.sqrt(np.mean(err**2)) / span) if span > 0 else float("nan")
    ratio = limit = share = float("nan")
    if np.isfinite(noise) and noise > 0 and dof > 0 and held.size >= 2:
        ratio = float((err**2).sum()) / (held.size - 1) / noise
        limit = float(f_distribution.ppf(1.0 - HOLDOUT_NOISE_LEVEL, held.size - 1, dof))
        share = noise * (held.size - 1) / sst if sst > 0 else float("nan")
    return Holdout(days, r2, mape, nrmse, ratio, limit, share)


def _holdout_design(fit: MMMFit, stop: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """The national design for forecasting the holdout, with its columns' names: annual terms
    only when the training days cover most of a year (``MIN_ANNUAL_TRAIN_DAYS``)."""
    design, names = gap_days(
        fit.panel, *national_design(fit.panel.dates, fit.panel.national, fit.spec.country)
    )
    basis = fit.basis if stop >= MIN_ANNUAL_TRAIN_DAYS else fit.basis[:, :2]
    terms = tuple(f"trend_or_season_{k}" for k in range(basis.shape[1]))
    return np.column_stack([basis, design]), (*terms, *names)


def _event_words(name: str) -> str:
    """A national design column's name as a reader knows the event."""
    kind, _, rest = name.partition(":")
    if kind == "holiday":
        day, _, holiday = rest.partition(":")
        return f"{holiday} ({day})"
    if kind == "external":
        return f"the external factor {rest}"
    if kind == "no_outcome":
        return f"a day without outcome ({rest})"
    if name == "december_gifting_weeks":
        return "the December gift weeks (1-21 December)"
    return name


# the CLI's flag and the request's (and SDK's) field
_HOLDOUT_FLAG = "--holdout-days / holdout_days"


def _shortened(spec: ModelSpec, days: int, n_days: int) -> str:
    """What the check adds when the window shortened the default holdout ('' when not)."""
    if days == spec.holdout_days:
        return ""
    return (f"; the default {spec.holdout_days} days shortened to the {days} this window's "
            f"{n_days} days can hold out ({_HOLDOUT_FLAG} sets it)")  # fmt: skip


def _unscored_check(panel: MediaPanel, ho: UnscoredHoldout, said: str = "") -> HealthCheck:
    """REVIEW: too few scored days to judge the model's forecast, and how to judge it."""
    longest = _longest(panel.n_days)
    lost = ho.days - ho.scored
    if ho.unseen:
        events = [_event_words(n) for n in ho.unseen]
        listed = ", ".join(events[:6]) + (f" and {len(events) - 6} more" if len(events) > 6
                                          else "")  # fmt: skip
        why = (f"{lost} of its {ho.days} days fall on calendar events or external moves its "
               f"training days never saw ({listed}), which no model fitted without them can "
               "forecast")  # fmt: skip
    else:
        why = f"it holds out only {ho.days} days"
    if ho.scored < 2:
        head = f"holdout ({ho.days} days) not scored: {why}"
    else:
        f = ho.figures
        shown = (f" (on them R² {f.r_squared:.2f}, MAPE {f.mape:.1%}, NRMSE {f.nrmse:.2f})"
                 if f is not None else "")  # fmt: skip
        head = (f"holdout ({ho.days} days) not judged: {why}; only {ho.scored} days are "
                f"scored{shown}, under the {MIN_HOLDOUT_SCORED_DAYS} on which an R² is more "
                "than noise (on 7 days a model whose out-of-sample R² is 0.7 reads below 0 "
                "one time in 18)")  # fmt: skip
    fixes = []
    if longest > ho.days and (ho.unseen or longest >= MIN_HOLDOUT_SCORED_DAYS):
        # a longer holdout starts on days before the events, which it can score
        fixes.append(f"hold out more days ({_HOLDOUT_FLAG} up to {longest} on this window)"
                     + (" so that it starts before them" if ho.unseen else ""))  # fmt: skip
    need = _window_needed(max(ho.days, MIN_HOLDOUT_SCORED_DAYS))
    if ho.unseen:
        fixes.append("analyse a window whose training days include them")
    elif panel.n_days < need:
        fixes.append(f"analyse a longer window (at least {need} days)")
    return HealthCheck(
        "holdout", Verdict.REVIEW, None, MIN_HOLDOUT_R2_REVIEW,
        f"{head}{said}, so the model's out-of-sample fit is unchecked; " + ", or ".join(fixes),
    )  # fmt: skip


def _skipped_check(panel: MediaPanel, spec: ModelSpec, days: int) -> HealthCheck:
    """REVIEW: a window too short for its holdout, which was not run (it used to go unsaid)."""
    n = panel.n_days
    fixes = [f"analyse at least {_window_needed(days)} days"]
    shortest = _window_needed(MIN_HOLDOUT_SCORED_DAYS)
    longest = _longest(n)
    if spec.holdout_fit_to_window:
        # the default holdout shortens itself from that window on (holdout_days)
        fixes = [f"analyse at least {shortest} days (from {shortest} the default holdout "
                 f"shortens to fit the window, {MIN_HOLDOUT_SCORED_DAYS} days at least)"]  # fmt: skip
    elif longest >= MIN_HOLDOUT_SCORED_DAYS:
        fixes.append(f"hold out fewer days ({_HOLDOUT_FLAG} {MIN_HOLDOUT_SCORED_DAYS} to "
                     f"{longest} on this window)")  # fmt: skip
    elif days > MIN_HOLDOUT_SCORED_DAYS:
        fixes.append(f"at least {shortest} with {_HOLDOUT_FLAG} {MIN_HOLDOUT_SCORED_DAYS}")
    return HealthCheck(
        "holdout", Verdict.REVIEW, None, MIN_HOLDOUT_R2_REVIEW,
        f"holdout ({days} days) not run: the window's {n} days would leave {n - days} to "
        f"train on, under the {max(MIN_HOLDOUT_TRAIN_DAYS, 2 * days)} a holdout fit needs "
        f"(at least {MIN_HOLDOUT_TRAIN_DAYS}, and twice the days held out), so the model's "
        "out-of-sample fit is unchecked; " + ", or ".join(fixes),
    )  # fmt: skip


def holdout_check(
    fit: MMMFit, lift_tests: Sequence[LiftTest], theta: np.ndarray | None = None
) -> tuple[HealthCheck | None, Holdout | None]:
    """The holdout check and the holdout it judged (None when it judged none); no check when
    the spec holds nothing out (``holdout_days`` 0)."""
    days = holdout_days(fit.spec, fit.panel.n_days)
    if days <= 0:
        return None, None
    ho = holdout_fit(fit, lift_tests, theta)
    if ho is None:
        return _skipped_check(fit.panel, fit.spec, days), None
    said = _shortened(fit.spec, days, fit.panel.n_days)
    if isinstance(ho, UnscoredHoldout):
        return _unscored_check(fit.panel, ho, said), None
    verdict = holdout_verdict(ho)
    return HealthCheck(
        "holdout", verdict, ho.r_squared, MIN_HOLDOUT_R2_REVIEW,
        f"holdout ({ho.days} days): R² {ho.r_squared:.2f}, MAPE {ho.mape:.1%}, "
        f"NRMSE {ho.nrmse:.2f}{said}{_noise_words(ho, verdict)}",
    ), ho  # fmt: skip


def holdout_verdict(ho: Holdout) -> Verdict:
    """FAIL: R² below 0 (or none) with an error beyond the outcome's noise; REVIEW: R² under
    0.3, a MAPE over 20%, or R² below 0 within that noise; PASS otherwise."""
    if not np.isfinite(ho.r_squared):
        return Verdict.FAIL
    if ho.r_squared < MIN_HOLDOUT_R2_FAIL and not ho.within_noise:
        return Verdict.FAIL
    if ho.r_squared < MIN_HOLDOUT_R2_REVIEW or ho.mape > MAX_HOLDOUT_MAPE:
        return Verdict.REVIEW
    return Verdict.PASS


def _noise_words(ho: Holdout, verdict: Verdict) -> str:
    """What the outcome's noise says about the score ('' when the R² can judge the fit)."""
    share = ho.noise_share
    if not np.isfinite(ho.noise_ratio):
        return ""
    error = f"its held-out error is {ho.noise_ratio:.2f}× that noise"
    if verdict is Verdict.FAIL and ho.noise_ratio <= ho.noise_limit:  # within, but not chance
        return (f"; its training days' errors follow a pattern (Ljung–Box p {ho.noise_white_p:.2g}"
                f" at {WHITE_LAGS} lags), a driver the model lacks rather than the outcome's "
                "chance, so the held-out miss is the model's")  # fmt: skip
    if verdict is Verdict.FAIL:
        return (f"; {error} (its training days' day-to-day error), beyond the "
                f"{ho.noise_limit:.2f}× chance reaches one time in 100: the model forecasts "
                "worse than the outcome's noise explains")  # fmt: skip
    if not (np.isfinite(share) and share >= 1.0 - MIN_HOLDOUT_R2_REVIEW):
        return ""
    return (f"; the held-out days move mostly by chance: the day-to-day noise the model leaves "
            f"on its training days is {share:.0%} of their variance, so even a model as good "
            f"as the truth would score an R² near {max(1.0 - share, 0.0):.2f}, and {error}, "
            f"within the {ho.noise_limit:.2f}× chance reaches one time in 100; the holdout "
            "cannot judge this fit (a daily outcome this noisy, e.g. a few orders a day, is "
            "mostly chance), "
            "a lift test of a channel can")  # fmt: skip
