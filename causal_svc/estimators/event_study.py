"""Event study: leads and lags of treatment around each unit's first treated period, with unit
and period fixed effects, cluster-robust errors and a joint pre-trend test."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from causal_svc.errors import InsufficientData, InvalidSpec

from ._inference import (
    ClusterInference,
    effect_estimate,
    require_stderr,
    with_wild_bootstrap,
)
from ._panel import (
    cluster_plan,
    fit_twfe,
    panel_design,
    pretrend_check,
    subset_panel,
    wild_bootstrap_twfe,
)
from .result import (
    Check,
    CheckKind,
    CheckOutcome,
    EffectEstimate,
    EffectSpec,
    Estimand,
    Method,
    Series,
)

__all__ = ["estimate_event_study"]


def event_time_name(e: int) -> str:
    """Coefficient name of event time ``e`` (``event_time=-2``, ``event_time=+0``)."""
    return f"event_time={e:+d}"


def estimate_event_study(
    frame: pd.DataFrame,
    spec: EffectSpec,
    *,
    alpha: float = 0.05,
    leads: int | None = None,
    lags: int | None = None,
    reference: int | Sequence[int] = -1,
    bin_endpoints: bool = True,
    cluster_inference: ClusterInference | str = ClusterInference.AUTO,
    random_state: int = 0,
) -> EffectEstimate:
    """Dynamic treatment effects relative to the period before treatment.

    Parameters
    ----------
    frame : DataFrame, one row per unit-period
    spec : ``outcome``, ``treatment`` (0/1, absorbing: on from the unit's first treated period),
        ``unit``, ``time``; optional ``cluster`` (default the unit), ``covariates``, ``weights``
    alpha : level of the confidence intervals and of the pre-trend test
    leads : pre-treatment event times -leads..-1 get a coefficient (default: all observed)
    lags : post-treatment event times 0..lags get a coefficient (default: all observed)
    reference : event time(s) left out as the baseline (default -1). Without never-treated units
        a second reference (e.g. ``(-1, -leads)``) is needed for identification.
    bin_endpoints : when True, event times beyond the window are pooled into the end bins
        (``-leads`` and ``+lags``); when False those treated unit-periods are dropped.
    cluster_inference : ``"auto"`` (the average effect's p-value and interval from the wild
        cluster bootstrap below 30 clusters), ``"cluster_robust"`` or ``"wild_bootstrap"``; the
        lead/lag rows and the pre-trend F test stay CR1
    random_state : seed of the bootstrap's weights

    Returns
    -------
    EffectEstimate
        ATT. ``point_estimate`` is the equally weighted average of the post-treatment
        coefficients (event times 0..lags), with its standard error from their covariance.
        ``coefficients``: one ``event_time=±e`` row per estimated event time, then covariates.
        ``series``: ``event_study`` over event times with CI bands, reference periods at 0.
        ``statistics``: ``pretrend_f`` (or ``pretrend_max_t``, see below), ``pretrend_pvalue``,
        ``pretrend_df1``, ``pretrend_df2`` (when there are leads to test), ``n_leads``,
        ``n_lags``, ``n_units``, ``n_periods``, ``n_clusters``, ``df``,
        ``rows_dropped_outside_window``. ``checks``: PRE_TREND, FAILED when the joint test that
        all lead coefficients are zero rejects at ``alpha``: clustered, the Wald statistic W against
        the Hotelling T² reference, F = W (G-q) / (q (G-1)) ~ F(q, G-q), while the q leads
        number at most G/2 (Pustejovsky & Tipton 2018; F(q, G-1) failed 73% of null panels at
        G = 12, q = 9), otherwise the sup-t (max |t|) test with a Bonferroni critical value
        (Montiel Olea & Plagborg-Møller 2019), valid for any number of leads and conservative
        (a cluster-robust covariance has rank <= G-1: with more leads the Wald statistic is
        undefined and came out ~1e14 on clean data); unclustered, the Wald F(q, n-K).
        :func:`._ols.joint_zero_test` says why.

    Notes
    -----
    Event time is counted in observed periods (the sorted distinct ``time`` values), so gaps in
    the calendar do not create empty event times. The regression is two-way fixed effects with
    relative-time dummies, as in Autor (2003) and Freyaldenhoven et al. (2021); standard errors
    are CR1 with Stata's small-sample factor and G-1 degrees of freedom. With staggered timing
    and heterogeneous effects the lead/lag coefficients can be contaminated by other periods'
    effects (Sun & Abraham 2021): prefer ``staggered_did`` then.
    """
    panel = panel_design(frame, spec, absorbing=True, method="event_study")
    wild, cluster_notes = cluster_plan(panel, "event_study", cluster_inference)
    warnings = [*panel.warnings, *cluster_notes]
    refs = sorted({reference} if isinstance(reference, int) else set(reference))
    if not refs:
        raise InvalidSpec("reference must name at least one event time", field="reference")
    first_row = panel.first_treated[panel.unit]
    treated_row = np.isfinite(first_row)
    rel = np.where(treated_row, panel.period - np.where(treated_row, first_row, 0), 0).astype(int)
    observed = rel[treated_row]
    if (leads is not None and leads < 1) or (lags is not None and lags < 0):
        raise InvalidSpec(
            f"leads must be >= 1 and lags >= 0, got leads={leads}, lags={lags}",
            field="leads" if leads is not None and leads < 1 else "lags",
        )
    most_leads, most_lags = int(-observed.min()), int(observed.max())
    if most_leads < 1:
        raise InsufficientData(
            "event_study: no treated unit is observed before treatment", subject="pre_period"
        )
    if (leads is not None and leads > most_leads) or (lags is not None and lags > most_lags):
        warnings.append(
            f"the data reach {most_leads} leads and {most_lags} lags; the window was cut to them"
        )
    leads = most_leads if leads is None else min(leads, most_leads)
    lags = most_lags if lags is None else min(lags, most_lags)
    if any(r < -leads or r > lags for r in refs):
        raise InvalidSpec(
            f"reference {refs} lies outside the window [-{leads}, {lags}]", field="reference"
        )

    outside = treated_row & ((rel < -leads) | (rel > lags))
    dropped = 0
    if bin_endpoints:
        rel = np.clip(rel, -leads, lags)
    elif outside.any():
        dropped = int(outside.sum())
        warnings.append(
            f"{dropped} treated unit-periods lie outside the event window and were dropped"
        )
        keep = ~outside
        panel = subset_panel(panel, keep)
        rel, treated_row = rel[keep], treated_row[keep]

    times = [e for e in range(-leads, lags + 1) if e not in refs]
    if not any(e >= 0 for e in times):
        raise InvalidSpec(
            f"no post-treatment event time is left to estimate (lags={lags}, reference={refs})",
            field="reference",
        )
    names = [event_time_name(e) for e in times]
    dummies = np.column_stack([(treated_row & (rel == e)).astype(float) for e in times])
    x = np.column_stack([dummies, panel.covariates])
    fit = fit_twfe(panel, x, [*names, *panel.covariate_names], "event-study regression")

    post_names = [event_time_name(e) for e in times if e >= 0]
    a = np.zeros(len(fit.names))
    a[[fit.index(n) for n in post_names]] = 1 / len(post_names)
    point, se = fit.linear_combination(a)
    require_stderr(se, "event study")
    bootstrap = None
    if wild:
        bootstrap = wild_bootstrap_twfe(panel, x, a, alpha, random_state)

    coefficients = fit.coefficients(fit.names, alpha)
    by_time = {c.name: c for c in coefficients}
    series_times = list(range(-leads, lags + 1))
    rows = [by_time.get(event_time_name(e)) for e in series_times]
    series = Series(
        name="event_study",
        index=tuple(f"{e:+d}" for e in series_times),
        values=tuple(0.0 if c is None else c.estimate for c in rows),
        lower=tuple(0.0 if c is None else c.ci_lower for c in rows),
        upper=tuple(0.0 if c is None else c.ci_upper for c in rows),
    )

    lead_names = [event_time_name(e) for e in times if e < 0]
    statistics: dict[str, float] = {
        "n_leads": float(len(lead_names)),
        "n_lags": float(len(post_names)),
        "n_units": float(panel.n_units),
        "n_periods": float(panel.n_periods),
        "n_clusters": float(panel.n_clusters),
        "df": float(fit.df_inference),
        "rows_dropped_outside_window": float(dropped),
    }
    if lead_names:
        # Hotelling F(q, G - q) while the q leads number at most G/2; past that the Bonferroni
        # sup-t test (_ols.joint_zero_test says why).
        check, pretrend = pretrend_check(
            "joint test of pre-treatment event-time coefficients",
            fit.joint_test(lead_names),
            alpha,
            tested="leads",
            clusters=f"{panel.n_clusters} clusters",
            verdicts=(
                "treated units already differed before treatment; parallel trends is rejected "
                "and the estimate is not supported",
                "no evidence of pre-treatment differences (the test has limited power; look at "
                "the lead coefficients' size too)",
            ),
        )
        statistics |= pretrend
    else:
        check = Check(
            name="joint test of pre-treatment event-time coefficients",
            kind=CheckKind.PRE_TREND,
            outcome=CheckOutcome.SKIPPED,
            interpretation="no lead besides the reference period(s): nothing to test",
        )

    ever = np.isfinite(panel.first_treated)
    estimate = effect_estimate(
        Method.EVENT_STUDY,
        Estimand.ATT,
        point,
        se,
        alpha=alpha,
        df=fit.df_inference,
        nobs=fit.nobs,
        n_treated=int(ever.sum()),
        n_control=int((~ever).sum()),
        assumptions=(
            "The point estimate is the simple average of the post-treatment event-time "
            f"coefficients (event times 0..{lags}), each relative to event time(s) {refs}.",
            "Parallel trends: absent treatment, treated and comparison units would have moved "
            "in parallel (the lead coefficients test this before treatment).",
            "No anticipation: outcomes do not respond before the first treated period.",
            "Effects depend on event time only, not on the adoption cohort; with staggered "
            "timing and cohort-specific effects the coefficients mix periods (Sun & Abraham "
            "2021).",
            "No spillovers between units; errors independent across clusters"
            + (
                "."
                if bootstrap is None
                else f"; with {panel.n_clusters} clusters the average effect's p-value and "
                "interval come from the wild cluster bootstrap-t with the null imposed "
                f"({bootstrap.weights} weights, {bootstrap.draws:,} draws)."
            ),
        ),
        statistics=statistics,
        coefficients=coefficients,
        series=(series,),
        warnings=tuple(warnings),
        checks=(check,),
    )
    if bootstrap is None:
        return estimate
    return with_wild_bootstrap(estimate, bootstrap, explain=False)  # said in the assumptions
