"""The plain-language summary of an estimate: states only what the estimate supports."""

from __future__ import annotations

from causal_svc.estimators.result import EffectEstimate
from mesh.runtime.estimand import observation


def _fmt(x: float) -> str:
    ax = abs(x)
    if ax >= 100:
        return f"{x:,.0f}"
    if ax >= 1:
        return f"{x:,.2f}"
    return f"{x:.3g}"


def _p_text(p: float) -> str:
    """``p = 0.012``; below 0.001 ``p < 0.001`` (the usual reporting floor): a normal tail
    underflows to 0 past |z| ~ 38, and the wild bootstrap's smallest p is 1/(B + 1) = 1e-4, so
    printing either as "p = 0" claimed a certainty no estimate here has."""
    return "p < 0.001" if p < 1e-3 else f"p = {p:.3g}"


def _per(estimate: EffectEstimate, treatment: str, unit: str, time: str) -> str:
    """What the effect is per: the observation ("per geo-day", as the estimand line words it),
    else nothing for a 0/1 treatment (the estimate is the treated-vs-untreated difference) and
    "per unit of <treatment>" for a continuous one. A fixed "per unit" read as per geo, or per
    unit of a 0/1 treatment, beside an estimand "per geo-day" (R27-F6)."""
    per = observation(unit, time)
    if per:
        return f" per {per}"
    return "" if estimate.n_treated is not None else f" per unit of {treatment}"


def summarize(
    estimate: EffectEstimate, *, outcome: str, treatment: str, unit: str = "", time: str = ""
) -> str:
    """One paragraph. Never claims an effect the checks or the interval do not support.
    ``unit`` and ``time`` (the roles) say what one observation is."""
    level = round((1 - estimate.alpha) * 100)
    interval = f"{level}% CI {_fmt(estimate.ci_lower)} to {_fmt(estimate.ci_upper)}"
    what = f"the effect of {treatment} on {outcome} ({estimate.estimand.value.upper()}, {estimate.method.value})"
    if not estimate.supported and not estimate.failed_checks:  # an unbounded interval
        return (
            f"Not supported: {what} was estimated at {_fmt(estimate.point_estimate)}, but its "
            f"{interval} is unbounded, so the data cannot tell it from zero or any other value"
            + (f" ({'; '.join(estimate.warnings)})." if estimate.warnings else ".")
        )
    if not estimate.supported:
        failed = ", ".join(c.name for c in estimate.failed_checks)
        return (
            f"Not supported: {what} was estimated at {_fmt(estimate.point_estimate)} ({interval}), "
            f"but the estimate failed its checks ({failed}), so it should not be read as causal."
        )
    spans_zero = estimate.ci_lower <= 0 <= estimate.ci_upper
    if spans_zero:
        return (
            f"No detectable effect: {what} is {_fmt(estimate.point_estimate)} ({interval}, "
            f"{_p_text(estimate.pvalue)}); the interval includes zero, so the data are consistent "
            "with no effect as well as with the effects inside the interval."
        )
    if estimate.pvalue > estimate.alpha:
        # The interval and the test disagree (they come from different statistics, or a
        # bootstrap's inversion and share differ at the edge): no claim either way (R11-F3).
        return (
            f"Inconclusive: {what} is {_fmt(estimate.point_estimate)} ({interval}, "
            f"{_p_text(estimate.pvalue)}); the interval excludes zero but the test does not "
            f"reject no effect at alpha = {estimate.alpha:g}, so the effect is not established."
        )
    direction = "increased" if estimate.point_estimate > 0 else "decreased"
    warn = f" Caveats: {'; '.join(estimate.warnings)}." if estimate.warnings else ""
    return (
        f"Supported: {treatment} {direction} {outcome} by {_fmt(abs(estimate.point_estimate))}"
        f"{_per(estimate, treatment, unit, time)} ({estimate.estimand.value.upper()}; {interval}, "
        f"{_p_text(estimate.pvalue)}, n = {estimate.nobs}), under the stated "
        f"assumptions of {estimate.method.value}.{warn}"
    )
