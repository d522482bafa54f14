"""Model → identify → estimate → refute: one estimate with its strategy and checks.

Pure domain code: the servicer converts the request, calls :func:`estimate_effect` off the
event loop and converts the result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from causal_svc.default_graph import default_marketing_graph
from causal_svc.errors import InvalidGraph, InvalidSpec
from causal_svc.estimators.difference_in_means import unit_means
from causal_svc.estimators.naive import estimate_naive_regression
from causal_svc.estimators.rdd import with_sharp_treatment
from causal_svc.estimators.result import Coefficient, EffectEstimate, EffectSpec, Method
from causal_svc.graph import CausalGraph, GraphAnalysis, analyze_graph
from causal_svc.identification import Strategy, choose_strategy
from causal_svc.methods import EstimationOptions, method_info
from causal_svc.refuters import DEFAULT_SIMULATIONS, run_checks
from causal_svc.summary import summarize
from mesh.runtime.exceptions import FailedPrecondition, InvalidInput


@dataclass(frozen=True, slots=True)
class EffectAnalysis:
    """What EstimateEffect answers: the estimate (with checks), the strategy, a summary, and
    the naive comparison it is shown beside."""

    estimate: EffectEstimate
    strategy: Strategy
    spec: EffectSpec
    summary: str
    naive: Coefficient | None = None


def _graph_analysis(
    graph: CausalGraph | None, frame: pd.DataFrame, spec: EffectSpec
) -> GraphAnalysis | None:
    """Analyse the caller's graph, or the default marketing DAG when the roles name its nodes."""
    candidate = graph or default_marketing_graph()
    names = set(candidate.names())
    columns = {n.data_column: n.name for n in candidate.nodes}
    treatment = spec.treatment if spec.treatment in names else columns.get(spec.treatment)
    outcome = spec.outcome if spec.outcome in names else columns.get(spec.outcome)
    if treatment is None or outcome is None:
        if graph is not None:
            missing = spec.treatment if treatment is None else spec.outcome
            raise InvalidGraph(f"the graph has no node for column {missing!r}", field="graph.nodes")
        return None  # a table whose columns the default DAG does not describe
    return analyze_graph(candidate, treatment, outcome, available_columns=list(frame.columns))


def _sharp_rdd_treatment(
    frame: pd.DataFrame, spec: EffectSpec, method: Method
) -> tuple[pd.DataFrame, EffectSpec]:
    """A sharp RDD may name no treatment: it is running variable >= cutoff, added as a column
    so the refuters reassign it like any other."""
    if spec.treatment:
        return frame, spec
    if (
        spec.running_variable is None
        or spec.cutoff is None
        or method
        not in (
            Method.AUTO,
            Method.RDD,
        )
    ):
        raise InvalidSpec(
            "roles.treatment is required; only a sharp regression discontinuity (method rdd or "
            "auto, with roles.running_variable and roles.cutoff) may leave it empty",
            field="roles.treatment",
        )
    return with_sharp_treatment(frame, spec)


def naive_comparison(
    frame: pd.DataFrame, spec: EffectSpec, alpha: float, *, unit_panel: bool = False
) -> Coefficient | None:
    """What a correlation would have claimed: the outcome regressed on the treatment alone (for
    a 0/1 treatment, the unadjusted difference in means) on the same rows, HC1 inference.
    ``unit_panel``: the estimate compared units' means over the treatment window (a
    randomised panel experiment, :func:`unit_means`), so the naive comparison does too — on
    every geo-day it compared the test window with the pre-period (R20-F9: -4,807 on 1,680
    geo-days beside an estimate on 20 geos whose unadjusted difference was +1,021).
    None when it cannot be computed (e.g. a treatment that is constant in these rows)."""
    if not spec.treatment:
        return None
    name = f"{spec.outcome} on {spec.treatment} alone"
    try:
        if unit_panel:
            frame = unit_means(frame, spec)[0]
            name += ", units' means over the treatment window"
        naive = estimate_naive_regression(
            frame, EffectSpec(spec.outcome, spec.treatment, weights=spec.weights), alpha=alpha
        )
    except (InvalidInput, FailedPrecondition):
        return None
    return Coefficient(
        name,
        naive.point_estimate,
        naive.stderr,
        naive.ci_lower,
        naive.ci_upper,
        naive.pvalue,
        nobs=naive.nobs,
    )


def estimate_effect(
    frame: pd.DataFrame,
    spec: EffectSpec,
    method: Method,
    *,
    options: EstimationOptions,
    graph: CausalGraph | None = None,
    randomised: bool = False,
    refutation_simulations: int = DEFAULT_SIMULATIONS,
    skip_refutation: bool = False,
    data_warnings: tuple[str, ...] = (),
) -> EffectAnalysis:
    """Identify (AUTO) or take the named method, estimate, then run the checks."""
    frame, spec = _sharp_rdd_treatment(frame, spec, method)
    if method is Method.AUTO:
        analysis = _graph_analysis(graph, frame, spec)
        strategy = choose_strategy(
            frame, spec, analysis, randomised=randomised, alpha=options.alpha
        )
        spec = strategy.apply(spec)
    else:
        strategy = Strategy(
            method=method,
            reason=f"{method.value} was requested by the caller",
            assumptions=method_info(method).assumptions,
            adjustment_set=spec.covariates,
            alternatives=(),
            instruments=spec.instruments,
        )
    info = method_info(strategy.method)
    with_reuse = None if skip_refutation else info.fit_with_reuse(options)
    if with_reuse is not None:
        estimate, refit = with_reuse(frame, spec)
    else:
        estimate, refit = info.estimator(options)(frame, spec), info.estimator(options, refit=True)
    if strategy.warnings or data_warnings:
        estimate = estimate.with_warnings((*data_warnings, *strategy.warnings))
    if not estimate.assumptions:
        estimate = replace(estimate, assumptions=strategy.assumptions)
    if not skip_refutation:
        estimate = run_checks(
            refit,
            frame,
            spec,
            estimate,
            n_simulations=refutation_simulations or DEFAULT_SIMULATIONS,
            random_state=options.seed,
            draws=info.check_draws,
        )
    summary = summarize(
        estimate,
        outcome=spec.outcome,
        treatment=spec.treatment,
        unit=spec.unit or "",
        time=spec.time or "",
    )
    panel = strategy.method is Method.DIFFERENCE_IN_MEANS and bool(spec.unit and spec.time)
    naive = naive_comparison(frame, spec, options.alpha, unit_panel=panel)
    return EffectAnalysis(
        estimate=estimate, strategy=strategy, spec=spec, summary=summary, naive=naive
    )
