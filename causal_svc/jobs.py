"""The work the causal service sends to its worker processes, as picklable jobs.

The servicer reads memory and the registry in its own process; only a DataFrame (or the raw
records frame, aggregated here) and a spec cross to a worker, and an :class:`EffectAnalysis`
or :class:`GraphAnalysis` comes back.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from causal_svc.estimators.result import EffectSpec, Method
from causal_svc.graph import CausalGraph, GraphAnalysis, analyze_graph
from causal_svc.methods import METHODS, EstimationOptions
from causal_svc.pipeline import EffectAnalysis, estimate_effect
from causal_svc.record_tables import Aggregation, ExperimentDesign, analysis_table

# Imported once by the forkserver every worker is forked from, so a new worker starts warm.
PRELOAD = (
    "causal_svc.jobs",
    "causal_svc.attribution",
    *dict.fromkeys(f"causal_svc.estimators.{info.module}" for info in METHODS.values()),
    "econml.dml",
    "threadpoolctl",
)


@dataclass(frozen=True, slots=True)
class RecordsData:
    """Memory records (a :func:`mesh.runtime.frames.records_to_frame` frame) and how to aggregate them."""

    records: pd.DataFrame
    aggregation: Aggregation
    experiment_id: str = ""
    design: ExperimentDesign | None = None


@dataclass(frozen=True, slots=True)
class EstimateJob:
    """One EstimateEffect question, validated: everything but the data."""

    spec: EffectSpec
    method: Method
    options: EstimationOptions
    graph: CausalGraph | None = None
    randomised: bool = False
    refutation_simulations: int = 0
    skip_refutation: bool = False


def run_estimate(job: EstimateJob, data: pd.DataFrame | RecordsData) -> EffectAnalysis:
    """Build the analysis table if needed, then estimate and check (runs in a worker)."""
    warnings: tuple[str, ...] = ()
    if isinstance(data, RecordsData):
        frame, warnings = analysis_table(
            data.records,
            data.aggregation,
            experiment_id=data.experiment_id,
            design=data.design,
        )
    else:
        frame = data
    return estimate_effect(
        frame,
        job.spec,
        job.method,
        options=job.options,
        graph=job.graph,
        randomised=job.randomised,
        refutation_simulations=job.refutation_simulations,
        skip_refutation=job.skip_refutation,
        data_warnings=warnings,
    )


def run_graph_analysis(graph: CausalGraph, treatment: str, outcome: str) -> GraphAnalysis:
    """Identification facts for BuildGraph (runs in a worker: large graphs take a while)."""
    return analyze_graph(graph, treatment, outcome)
