"""The health check on the national daily outcome against the fit: days on which every geo's
outcome moved together far from what the calendar, the external factors and the media explain
(audit s21 R50 F1: one day of revenue ×50 in all 12 geos passed PASS while 13.3M of the
window's 85.8M baseline was the error).

:func:`.health_outcome.outcome_outliers` cannot see such a day by construction: it takes each
day's median shift over geos out first, so that a holiday lifting every geo is not a
deviation, and a ×50 in every geo is then that day's shift. Here the day's shift is measured
against the fit's national design (calendar with its holidays, external factors, gap days,
trend, seasonality) and media instead, where a real holiday or a registered promotion is
explained and an import error is not.
"""

from __future__ import annotations

import numpy as np

from .fit import MMMFit, log_outcome
from .health_outcome import (
    MAX_OUTLIER_SHARE,
    HealthCheck,
    Verdict,
    _factor,
    _rolling_nanmedian,
)

__all__ = [
    "NATIONAL_RATIO",
    "NATIONAL_Z",
    "SALE_MAX_RATIO",
    "national_outliers",
    "national_residuals",
]

# A day is flagged when its national residual is this many robust standard deviations of the
# window's national residuals AND its outcome is this factor from the expected. Measured on
# the simulator's clean worlds (docs/performance.md, s21 FX3; development seeds 200-209 of
# demo and confounded, the rate on their seeds 0-19: no day named): the largest national
# residual is 4.6 robust standard deviations and a factor 1.06, so 8 has room; the factor
# keeps a very smooth national series from flagging an unregistered promotion (those are
# ×2-4), while the errors this is for (a day in cents or another unit, several loads of one
# day) are ×10 and more. A day at ×5 carries about 1.3% of a 300-day window; the fit's
# residual of one day is its log factor shrunk by the day's leverage (a few %).
NATIONAL_Z = 8.0
NATIONAL_RATIO = 5.0
# A flagged day above this factor of its usual day (or below it at all: a national sale does
# not drop every geo to a fifth) is implausible as an unregistered sale and can FAIL the
# analysis; one between ``NATIONAL_RATIO`` and this is a glitch or an unregistered event (a
# two-day ×8 Prime-Day-like sale, review V1 F9) and is REVIEW, so planning stays available.
# R50's glitches were ×50 and ×20.8; a sale in the simulator's calendar is ×3 at most.
SALE_MAX_RATIO = 15.0
# The usual national day a flagged one is named against: the median of the days this many
# either side (flagged days left out).
USUAL_DAYS = 7


def national_residuals(fit: MMMFit) -> np.ndarray:
    """(T,) the national rows' log residual of the fit, for any identification: the
    geo-weighted mean over geos of log outcome less the media's ``log(1 + M)``, net of the
    national design (on ``NATIONAL`` fits this is ``fit.residuals``). A day with no outcome
    in any geo has its own dummy in the design (:func:`.fit.gap_days`), so its residual is 0."""
    _, m = fit.media()
    return fit.objective.projection.national(log_outcome(fit.panel.outcome) - np.log(m))


def _runs(days: np.ndarray) -> list[np.ndarray]:
    return list(np.split(days, np.flatnonzero(np.diff(days) > 1) + 1))


def national_outliers(fit: MMMFit) -> HealthCheck | None:
    """Days whose national outcome is far from what the fit explains, named with their value,
    the usual day and in how many geos; REVIEW, or FAIL when the days implausible as a sale
    (``SALE_MAX_RATIO`` × usual or more, or any drop) carry ``MAX_OUTLIER_SHARE`` of the
    window's outcome (as :func:`.health_outcome.outcome_outliers`: the baseline, and the
    channels' figures on those days, move by about that share). The days are not dropped:
    only the user knows whether the day is an error.

    A day is flagged when its national residual (:func:`national_residuals`) is more than
    ``NATIONAL_Z`` robust standard deviations (1.4826 × MAD over the window's days with an
    outcome) AND at least a factor ``NATIONAL_RATIO`` from zero (in either direction: a day
    at a tenth, half an export, as well). A holiday in the calendar or a registered factor is
    explained by the design and not flagged; a day whose holiday dummy is its own (a holiday
    seen once in the window) is fitted exactly and cannot be judged here."""
    y = fit.panel.outcome
    if y.size == 0 or y.shape[1] < 28:
        return None
    total = y.sum(axis=0)
    seen = total > 0
    r = national_residuals(fit)
    obs = r[seen]
    scale = 1.4826 * float(np.median(np.abs(obs - np.median(obs))))
    if not scale > 0:
        return None
    flagged = seen & (np.abs(r) > NATIONAL_Z * scale) & (np.abs(r) > np.log(NATIONAL_RATIO))
    if not flagged.any():
        return None
    days = np.flatnonzero(flagged)
    # the usual day from the data, not the fit: the fit's residual of a single day is
    # shrunk by its leverage, and the user compares the figure with their own days
    clean = np.where(flagged | ~seen, np.nan, total)
    usual = _rolling_nanmedian(clean[None], USUAL_DAYS)[0]
    usual = np.where(np.isfinite(usual), usual, float(np.median(total[seen & ~flagged])))
    geo_usual = _rolling_nanmedian(np.where(flagged[None] | (y <= 0), np.nan, y), USUAL_DAYS)
    off = np.abs(total[days] - usual[days])
    scale_y = max(float(np.abs(y).sum()), 1e-12)
    share = float(off.sum() / scale_y)
    factor = total[days] / usual[days]
    error = (factor >= SALE_MAX_RATIO) | (factor < 1.0)
    runs = _runs(days)
    runs.sort(key=lambda run: -float(np.abs(total[run] - usual[run]).sum()))
    shown = [_describe(fit, total, usual, geo_usual, run) for run in runs[:3]]
    more = f" and {len(runs) - 3} more" if len(runs) > 3 else ""
    # FAIL only on the shape of an error: a sale-sized rise is REVIEW whatever its share
    bad = float(off[error].sum() / scale_y) >= MAX_OUTLIER_SHARE
    name = fit.panel.outcome_name
    head = (
        f"{days.size} day(s) of the national {name} are far from what the calendar, external "
        f"factors and media explain ({'; '.join(shown)}{more}), {share:.1%} of the window's "
        "outcome away from the usual: every geo moved together"
    )
    if not error.any():
        return HealthCheck(
            "national_outliers", Verdict.REVIEW, share, MAX_OUTLIER_SHARE,
            head + ", a glitch or an unregistered event (register it with `liftos factors "
            "register` if it was a sale, so the model explains it; otherwise correct the day "
            "at the source and re-ingest): until then the model reads it as ordinary sales, so "
            "the baseline and every channel's figures carry it",
        )  # fmt: skip
    return HealthCheck(
        "national_outliers", Verdict.FAIL if bad else Verdict.REVIEW, share, MAX_OUTLIER_SHARE,
        head + ", the shape of an import error (a day keyed in another unit or in cents, a day "
        "loaded several times, half a day's export); correct or drop the day at the source, "
        "re-ingest and analyse again (the model reads it as sales, so the baseline and every "
        "channel's figures carry it"
        + (", here too much to report" if bad else "")
        + "); if the day was real (a promotion, an event), register it with `liftos factors "
        "register` so the model explains it",
    )  # fmt: skip


def _describe(
    fit: MMMFit, total: np.ndarray, usual: np.ndarray, geo_usual: np.ndarray, run: np.ndarray
) -> str:
    """One run of flagged days in words: the date(s), the value against the usual day, and
    the geos that moved by the same factor."""
    dates, y = fit.panel.dates, fit.panel.outcome
    factor = float(np.median(total[run] / usual[run]))
    with np.errstate(divide="ignore", invalid="ignore"):
        geo_factor = np.median(y[:, run] / geo_usual[:, run], axis=1)
    far = np.log(np.where(geo_factor > 0, geo_factor, np.nan))
    moved = int((np.abs(np.nan_to_num(far)) >= np.log(NATIONAL_RATIO) / 2).sum())
    where = f"in {moved} of {fit.panel.n_geos} geos"
    if run.size == 1:
        i = int(run[0])
        return (
            f"{dates[i]}: {total[i]:,.0f} where ~{usual[i]:,.0f} is usual, ×{_factor(factor)} "
            f"{where}"
        )
    return (
        f"{dates[run[0]]}..{dates[run[-1]]} ({run.size} days): ~{_factor(factor)}× the usual "
        f"day {where}"
    )
