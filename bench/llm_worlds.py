"""Simulated analyses with known truth, for the LLM benchmarks and the LLM test fixtures.

Each case is one simulator world (``sim``), one estimation method run in-process through the
causal service's own pipeline (identify → estimate → refute), and the result stored exactly
as ``EstimateEffect`` stores it (an ``Analysis`` message), next to the truth the simulator
knows: the true effect in the study's units, the design channel's true incremental ROAS and
what its platform reported over the design window.

The study table's treatment column is renamed to the design channel (``meta_prospecting``),
so explanations and claims name a real cause.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, replace

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from liftos.v1 import causal_pb2 as causal_pb

import sim
from bench.causal_sim_study import _bsts_frame, _spec
from causal_svc.convert import METHOD_TO_PROTO, estimate_to_proto, strategy_to_proto
from causal_svc.estimators.result import Estimand, Method
from causal_svc.methods import EstimationOptions
from causal_svc.pipeline import estimate_effect

# (scenario, method, replicates): null and real channels; identified, failed-check and
# correlation-only estimates.
DESIGNS: list[tuple[str, Method, int]] = [
    ("null", Method.DIFFERENCE_IN_MEANS, 30),
    ("null", Method.NAIVE_REGRESSION, 6),
    ("null", Method.IPW, 6),
    ("geo_experiment", Method.DIFFERENCE_IN_MEANS, 12),
    ("small_effect", Method.DIFFERENCE_IN_MEANS, 12),
    ("staggered", Method.STAGGERED_DID, 6),
    ("staggered", Method.DID, 6),
    ("staggered", Method.EVENT_STUDY, 6),
    ("rdd", Method.RDD, 6),
    ("instrument", Method.IV, 6),
    ("observational", Method.AIPW, 4),
    ("observational", Method.IPW, 4),
    ("observational", Method.MATCHING, 4),
    ("observational", Method.NAIVE_REGRESSION, 6),
    ("synthetic_control", Method.SYNTHETIC_CONTROL, 3),
    ("synthetic_control", Method.BSTS, 3),
]


@dataclass(frozen=True)
class Case:
    """One analysis and the truth behind it."""

    scenario: str
    method: str
    seed: int
    channel: str
    analysis: bytes  # a serialised causal_pb.Analysis
    true_effect: float  # in the study's outcome units
    baseline: float  # mean outcome of the comparison rows (the relative-effect base)
    naive_effect: float  # OLS of outcome on treatment alone
    true_iroas: float  # the channel's true incremental ROAS over the design window
    platform_roas: float  # what the platform reported over the same window
    window: tuple[str, str]  # the design window (ISO dates)
    error: str = ""


def _design_window(result: sim.SimResult, channel: str) -> dict:
    org = next(iter(result.truth["orgs"].values()))
    windows = org["channels"][channel]
    named = {w["window"]: w for w in windows}
    return named.get("design_window", named["all"])  # designs without a window span it all


def _naive(frame: pd.DataFrame, outcome: str, treatment: str) -> float:
    y, t = frame[outcome].to_numpy(float), frame[treatment].to_numpy(float)
    t = t - t.mean()
    return float((t * (y - y.mean())).sum() / (t * t).sum())


def build_case(scenario: str, method: Method, seed: int, *, simulations: int = 10) -> Case:
    """Simulate, estimate with ``method`` (checks included) and store as an Analysis."""
    result = sim.simulate(scenario, seed=seed)
    study = sim.study_table(result)
    channel = result.truth["designs"][0]["channel"]
    window = _design_window(result, channel)
    frame = study.frame.rename(columns={study.roles["treatment"]: channel})
    roles = {**study.roles, "treatment": channel}
    spec = _spec(roles, study.estimand, method)
    if method is Method.IPW and scenario == "null":
        spec = _spec(
            {**roles, "covariates": ["log_population", "revenue_pre"]}, study.estimand, method
        )
    if method is Method.BSTS:
        frame, spec = _bsts_frame(frame, roles)
        frame = frame.rename(columns={"y": study.roles["outcome"], "post": channel})
        spec = replace(spec, outcome=study.roles["outcome"], treatment=channel)
    if method is Method.NAIVE_REGRESSION:
        spec = replace(spec, covariates=())
    treated = frame[spec.treatment].to_numpy(float) > 0
    baseline = float(frame.loc[~treated, spec.outcome].mean())
    naive = _naive(frame, spec.outcome, spec.treatment)
    spend = float(window["spend"])
    common = dict(
        scenario=scenario, method=method.value, seed=seed, channel=channel,
        true_effect=float(study.true_effect), baseline=baseline, naive_effect=naive,
        true_iroas=float(window["iroas"]),
        platform_roas=float(window["platform_revenue"]) / spend if spend else 0.0,
        window=(window["start"], window["end"]),
    )  # fmt: skip
    try:
        fit = estimate_effect(
            frame, spec, method,
            options=EstimationOptions(estimand=Estimand(study.estimand), seed=seed),
            refutation_simulations=simulations,
        )  # fmt: skip
    except Exception as exc:  # a failed estimate is counted by the caller, not hidden
        return Case(analysis=b"", error=f"{type(exc).__name__}: {exc}", **common)  # type: ignore[arg-type]
    estimate = estimate_to_proto(
        fit.estimate, outcome=spec.outcome, treatment=spec.treatment, summary=fit.summary
    )
    estimate.strategy.CopyFrom(strategy_to_proto(fit.strategy))
    request = causal_pb.EstimateEffectRequest(
        org_id="bench", method=METHOD_TO_PROTO[method],
        roles=causal_pb.EffectRoles(outcome=spec.outcome, treatment=spec.treatment),
    )  # fmt: skip
    start, end = dt.date.fromisoformat(window["start"]), dt.date.fromisoformat(window["end"])
    if study.design == "geo_holdout":  # the study table is the design window's totals
        request.records.date_range.start_date.year = start.year
        request.records.date_range.start_date.month = start.month
        request.records.date_range.start_date.day = start.day
        request.records.date_range.end_date.year = end.year
        request.records.date_range.end_date.month = end.month
        request.records.date_range.end_date.day = end.day
    analysis = causal_pb.Analysis(
        analysis_id=f"an-{scenario}-{method.value}-{seed}",
        org_id="bench",
        kind=causal_pb.ANALYSIS_KIND_EFFECT_ESTIMATE,
        estimate=estimate,
        request=request,
    )
    analysis.create_time.FromDatetime(dt.datetime(2024, 11, 1, tzinfo=dt.UTC))
    return Case(analysis=analysis.SerializeToString(), **common)  # type: ignore[arg-type]


def build_case_args(args: tuple[str, str, int]) -> Case:
    scenario, method, seed = args
    return build_case(scenario, Method(method), seed)


def plan(scale: float = 1.0, first_seed: int = 5000) -> list[tuple[str, str, int]]:
    """The (scenario, method, seed) of every case, ``scale`` times the default count."""
    out = []
    for scenario, method, n in DESIGNS:
        count = max(1, int(np.ceil(n * scale)))
        out += [(scenario, method.value, first_seed + i) for i in range(count)]
    return out
