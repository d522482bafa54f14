"""Geo experiment design: which geos to treat, for how long, and how likely the test is to see
the effect.

Where things are:

- ``spec.py``: the request (:class:`DesignSpec`, :class:`CellSpec`, :class:`TreatmentKind`) and the
  answer (:class:`ExperimentDesign`, :class:`CellDesign`, :class:`PowerPoint`);
- ``assignment.py``: blocks of similar geos (matched markets or stratified on the pre-period
  outcome) and randomisation within them;
- ``tbr.py``: the analysis the design is powered for (time-based regression);
- ``power.py``: the null spread from placebo windows, power and MDE, the final test;
- ``returns.py``: a cell's return at the spend each duration runs, read off the channel's
  response curve, and the share of its effect a test that long sees through the carry-over;
- ``plan.py``: :func:`design_experiment`, putting them together.
"""

from __future__ import annotations

from .assignment import AssignmentMethod, Blocks, make_blocks, rerandomise
from .plan import design_experiment, plan_windows
from .power import DurationNoise, mde_at, placebo_noise, power_at, significance
from .spec import CellDesign, CellSpec, DesignSpec, ExperimentDesign, PowerPoint, TreatmentKind
from .tbr import TbrEstimate, tbr_estimate, tbr_windows

__all__ = [
    "AssignmentMethod",
    "Blocks",
    "CellDesign",
    "CellSpec",
    "DesignSpec",
    "DurationNoise",
    "ExperimentDesign",
    "PowerPoint",
    "TbrEstimate",
    "TreatmentKind",
    "design_experiment",
    "make_blocks",
    "mde_at",
    "placebo_noise",
    "plan_windows",
    "power_at",
    "rerandomise",
    "significance",
    "tbr_estimate",
    "tbr_windows",
]
