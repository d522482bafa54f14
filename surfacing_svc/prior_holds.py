"""OptimizeBudget's hold of a channel whose effect is mostly the prior's, and the user's bound
that overrides it (s21 P1, R48-F1 per channel).

A channel whose data share (``HillCurve.data_share``) is under ``MIN_DATA_SHARE`` arrives
from the planning model not identified (``on_prior``), so the optimiser holds it at its current
spend, both bounds, and the other channels are optimised around it, with a warning naming it
and why. A bound the request sets on it explicitly is the user's call: it wins over the hold,
and the answer says so (its spend then follows that bound and a curve that is mostly the
prior's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from mesh.runtime.data_share import prior_words
from surfacing_svc.curves import HillCurve

__all__ = ["release_asked"]


class _Asked(Protocol):
    """A request's bound on a channel (``surfacing_svc.planning.BoundRequest``)."""

    @property
    def channel(self) -> str: ...
    @property
    def min_spend(self) -> float | None: ...
    @property
    def max_spend(self) -> float | None: ...
    @property
    def min_ratio(self) -> float | None: ...
    @property
    def max_ratio(self) -> float | None: ...


def release_asked(
    curves: Sequence[HillCurve], bounds: Sequence[_Asked]
) -> tuple[tuple[HillCurve, ...], list[str]]:
    """``curves`` with the channels ``bounds`` set a spend bound on (a price alone is not one)
    that are held only for their data share made movable again, and a warning for each."""
    asked = {b.channel for b in bounds
             if {b.min_spend, b.max_spend, b.min_ratio, b.max_ratio} != {None}}  # fmt: skip
    out: list[HillCurve] = []
    notes: list[str] = []
    for c in curves:
        if c.on_prior and c.channel in asked:
            out.append(replace(c, identified=True))
            notes.append(
                f"{c.channel}: your constraint on it wins over the hold OptimizeBudget keeps on "
                f"a channel whose effect is mostly the prior's ({prior_words(c.data_share or 0.0)}"
                "): its plan follows your bound and a curve that is the prior's rather than a "
                "measurement; without the constraint it is held at its current spend"
            )
        else:
            out.append(c)
    return tuple(out), notes
