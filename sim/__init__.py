"""A simulated marketing world with known causal truth.

``simulate(scenario, seed=...)`` runs one data-generating process (demand, confounded budgets,
adstock + Hill media response, first-party outcomes with exact potential outcomes, platform
exports in native shapes with listed dirt) and returns a :class:`SimResult`; ``write`` puts it
on disk; ``study_table`` gives an identification scenario's estimator-ready table and truth.
``sim`` imports nothing else of ours.
"""

from __future__ import annotations

from .core import SimResult, resolve, simulate, study_table
from .errors import SimError
from .io import write
from .reapply import reapply
from .scenarios import SCENARIOS, STUDY_SCENARIOS, Scenario
from .study import StudyTable

__all__ = [
    "SCENARIOS",
    "STUDY_SCENARIOS",
    "Scenario",
    "SimError",
    "SimResult",
    "StudyTable",
    "reapply",
    "resolve",
    "simulate",
    "study_table",
    "write",
]
