"""Surfacing service: what to do next — budgets, forecasts, experiments and recommendations,
from an attribution analysis and the org's history.

Where things are:

- ``service.py`` (servicer), ``convert.py`` (proto ↔ domain, the attribution result read into
  curves), ``peers.py`` (causal GetAnalysis/ListAnalyses, memory Scan, registry
  CreateExperiment), ``app.py``, ``errors.py``;
- ``planning.py``: each RPC's question and the domain call that answers it;
- ``curves.py``: response curves with parameter draws; ``optimizer.py``: OptimizeBudget;
  ``forecast.py``: PredictPerformance; ``recommend.py``: Recommend;
- ``design/``: DesignExperiment (assignment, TBR analysis, placebo power, the plan);
- ``history.py``: the org's geo × day history from memory's records;
  ``intervals.py``: a figure with its interval.
"""
