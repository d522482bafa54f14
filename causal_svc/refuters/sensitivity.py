"""The sensitivity check: in words, how strong an unmeasured confounder would have to be to
explain the estimate away (figures from :mod:`causal_svc.sensitivity`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from causal_svc.estimators.result import Check, CheckKind, CheckOutcome, EffectEstimate, EffectSpec
from causal_svc.methods import method_info
from causal_svc.sensitivity import TOO_STRONG, SensitivityFigures, sensitivity_figures

__all__ = ["DEFAULT_RV_THRESHOLD", "sensitivity_check"]

# Without covariates to benchmark against, an RV_q,α below this is called fragile: a confounder
# explaining 5% of the residual variance of both treatment and outcome is weak by most standards.
DEFAULT_RV_THRESHOLD = 0.05


def sensitivity_check(
    estimate: EffectEstimate,
    *,
    frame: pd.DataFrame | None = None,
    spec: EffectSpec | None = None,
    dof: float | None = None,
    outcome_sd: float | None = None,
    q: float = 1.0,
    benchmark: Sequence[str] | None = None,
    k: float = 1.0,
    rv_threshold: float = DEFAULT_RV_THRESHOLD,
    figures: SensitivityFigures | None = None,
) -> Check:
    """A SENSITIVITY check saying in words how strong a confounder would have to be.

    Outcome: PASSED when no benchmark-sized confounder (``k`` × the strongest observed covariate)
    would explain the effect away, or, with no covariates at all, when RV_q,α ≥
    ``rv_threshold``; WARNING (fragile) otherwise, and when covariates were named but none
    could serve as a benchmark (non-numeric, constant, collinear: the text lists them); SKIPPED for designs that do not rest on "no unmeasured
    confounding" and for estimates with nothing significant to explain away. ``statistic`` is
    RV_q,α, ``threshold`` the strongest benchmark's partial R² with the treatment (or
    ``rv_threshold``), ``new_effect`` the worst benchmark-adjusted estimate. See
    :func:`sensitivity_figures` for the parameters; ``figures`` when they are computed
    already (the other parameters are then not read).
    """
    name = "Sensitivity to unmeasured confounding"
    design_check = method_info(estimate.method).design_check
    if design_check is not None:
        return Check(
            name,
            CheckKind.SENSITIVITY,
            CheckOutcome.SKIPPED,
            f"{estimate.method.value} does not assume 'no unmeasured confounding given covariates', "
            f"so confounder-strength figures do not apply; its key assumption is "
            f"{design_check}.",
        )
    if not (np.isfinite(estimate.stderr) and estimate.stderr > 0):
        return Check(
            name,
            CheckKind.SENSITIVITY,
            CheckOutcome.SKIPPED,
            "The estimate has no finite standard error, so its sensitivity cannot be measured.",
        )
    fig = figures
    if fig is None:
        fig = sensitivity_figures(
            estimate,
            frame=frame,
            spec=spec,
            dof=dof,
            outcome_sd=outcome_sd,
            q=q,
            benchmark=benchmark,
            k=k,
        )
    return _check_from(fig, estimate, rv_threshold, name)


def _check_from(
    fig: SensitivityFigures, est: EffectEstimate, rv_threshold: float, name: str
) -> Check:
    pct = f"{100 * (1 - est.alpha):g}%"
    words: list[str] = []
    if fig.robustness_value is not None and fig.robustness_value_alpha is not None:
        approx = "" if fig.dof_exact else " (degrees of freedom approximated)"
        words.append(
            f"To bring the estimate to zero, an unmeasured confounder would have to explain at "
            f"least {100 * fig.robustness_value:.1f}% of the residual variance of both the "
            f"treatment and the outcome (robustness value{approx}); to make it statistically "
            f"insignificant at α={est.alpha:g}, {100 * fig.robustness_value_alpha:.1f}% of both."
        )
    if fig.e_value is not None and fig.e_value_ci is not None:
        scale = (
            ""
            if fig.e_value_scale == "risk_ratio"
            else " (converted from a standardised difference)"
        )
        words.append(
            f"On the risk-ratio scale{scale}, it would need a risk ratio of {fig.e_value:.2f} with "
            f"both treatment and outcome to explain the estimate away, and {fig.e_value_ci:.2f} to "
            f"move the {pct} confidence interval to include no effect (E-values)."
        )
    words.append("Larger figures are better: only a strong confounder could overturn the result.")

    significant = not (est.ci_lower <= 0 <= est.ci_upper)
    if not significant:
        return Check(
            name,
            CheckKind.SENSITIVITY,
            CheckOutcome.SKIPPED,
            "The estimate is not statistically distinguishable from zero, so there is no "
            "significant effect for a confounder to explain away (confounding could as well hide "
            "a real effect, which these figures do not measure).",
            statistic=fig.robustness_value_alpha,
        )
    if fig.robustness_value_alpha is None and fig.e_value is None:
        return Check(
            name,
            CheckKind.SENSITIVITY,
            CheckOutcome.SKIPPED,
            "Neither degrees of freedom nor the outcome's spread are known, so no sensitivity "
            "figure can be computed; pass the data or the residual degrees of freedom.",
        )
    unused = (
        "Not usable as benchmarks: "
        + "; ".join(f"{c} ({why})" for c, why in fig.unbenchmarked)
        + "."
        if fig.unbenchmarked
        else ""
    )
    if fig.benchmarks:
        strongest = max(fig.benchmarks, key=lambda b: min(b.r2dz_x, b.r2yz_dx))
        # The worst benchmark is one that explains the effect away if any does, and among
        # those the one that moves it furthest past zero (a sign flip counts, whatever its
        # |t|): quoting the smallest |t| picked a harmless one beside "Fragile" (R27-F7).
        direction = 1.0 if est.point_estimate >= 0 else -1.0
        worst = min(fig.benchmarks, key=lambda b: (not b.explains_away, direction * b.adjusted_t))
        explained_by = [b.covariate for b in fig.benchmarks if b.explains_away]
        too_strong = [c for c, why in fig.unbenchmarked if why.startswith(TOO_STRONG)]
        times = "" if worst.k == 1 else f"{worst.k:g} times "
        words.append(
            f"Benchmark: a confounder {times}as strong as {worst.covariate} (explaining "
            f"{100 * worst.r2dz_x:.1f}% of the treatment's and {100 * worst.r2yz_dx:.1f}% of the "
            f"outcome's residual variance) would leave an effect of {worst.adjusted_estimate:.4g} "
            + (
                f"({pct} CI {worst.ci_lower:.4g} to {worst.ci_upper:.4g})."
                if worst.adjusted_se > 0
                # r2yz capped at 1: nothing is left to vary, so the "interval" had zero width
                # (1.201 to 1.201); say that instead of printing it.
                else "(no interval: such a confounder would leave the outcome no residual "
                "variance, so the bound is a worst case, not an estimate with sampling error)."
            )
        )
        if unused:
            words.append(unused)
        if explained_by:
            words.insert(
                0,
                f"Fragile: an unmeasured confounder no stronger than the observed {', '.join(explained_by)} "
                "would be enough to explain the effect away.",
            )
        elif too_strong:
            # The strongest observed covariate has no bound (a confounder as strong as it and
            # orthogonal to it cannot exist), so the pass would rest on the weaker ones alone.
            rv_a = fig.robustness_value_alpha
            need = (
                f"; a confounder explaining {100 * rv_a:.1f}% of both residual variances would "
                "already overturn significance"
                if rv_a is not None
                else ""
            )
            words.insert(
                0,
                f"Not shown robust to a confounder as strong as {', '.join(too_strong)}: "
                f"{'it explains' if len(too_strong) == 1 else 'they explain'} so much of the "
                "treatment that no benchmark bound exists" + need + ". Robust only to "
                "confounders as strong as "
                + ", ".join(b.covariate for b in fig.benchmarks)
                + "; judge whether an unmeasured confounder could be as strong as "
                + ", ".join(too_strong)
                + ".",
            )
        else:
            words.insert(
                0,
                "Robust to confounders as strong as any observed covariate: none of them, as an "
                "unmeasured confounder, would explain the effect away.",
            )
        return Check(
            name,
            CheckKind.SENSITIVITY,
            CheckOutcome.WARNING if explained_by or too_strong else CheckOutcome.PASSED,
            " ".join(words),
            statistic=fig.robustness_value_alpha,
            threshold=strongest.r2dz_x,
            new_effect=worst.adjusted_estimate,
        )
    rv_a = fig.robustness_value_alpha
    if rv_a is None:
        # Only the E-value is known; it carries no threshold, so report it without a verdict.
        return Check(name, CheckKind.SENSITIVITY, CheckOutcome.WARNING, " ".join(words))
    fragile = rv_a < rv_threshold
    if fig.unbenchmarked and not fragile:
        # Covariates were named but none could serve: the 5% rule stands in for a benchmark
        # the data could not give, which is no ground for a pass (R27-F3).
        lead = (
            f"No benchmark: none of the covariates could serve as one. {unused} Drop them, or "
            "one-hot encode a categorical one, to get a benchmark; without one a confounder "
            "would need more than "
            f"{100 * rv_threshold:g}% of residual variance to overturn significance, which "
            "says nothing about how strong the observed ones are."
        )
    elif fragile:
        lead = (
            f"Fragile: a weak confounder (below {100 * rv_threshold:g}% of residual variance) "
            "would be enough to make the effect insignificant." + (f" {unused}" if unused else "")
        )
    else:
        lead = (
            f"No covariates to benchmark against; a confounder would need more than "
            f"{100 * rv_threshold:g}% of residual variance to overturn significance."
        )
    words.insert(0, lead)
    return Check(
        name,
        CheckKind.SENSITIVITY,
        CheckOutcome.WARNING if fragile or fig.unbenchmarked else CheckOutcome.PASSED,
        " ".join(words),
        statistic=rv_a,
        threshold=rv_threshold,
    )
