"""When a planned spend is a move, for every service that compares a plan with the spend as
run: within :data:`SAME_SPEND_RTOL` of it, a spend is that spend. An optimiser's answer for a
channel held at its current spend comes back as float noise around it (1106822.1999999988 for
1106822.2); counted as a move, it joined a Counterfactual as a changed, unestablished channel
and widened the plan's interval past zero, and printed as "-0%" (R20-F5). OptimizeBudget's
output and Recommend's moves (surfacing_svc.spend_moves) and Counterfactual's multipliers
(causal_svc.attribution.counterfactual) read this one constant."""

from __future__ import annotations

__all__ = ["SAME_SPEND_RTOL"]

# Relative: spends run from a few units to hundreds of millions.
SAME_SPEND_RTOL = 1e-9
