"""What Recommend answers with: the kinds of action, the analysis's figures an action rests on
(:class:`Fact`), the channel's row of the attribution table (:class:`AnalysisEffect`) and how a
return is quoted in the table's units or valued (:class:`Units`), and an effect estimate of one
channel as Recommend weighs it (:class:`EffectEvidence`)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from surfacing_svc.design import ExperimentDesign
from surfacing_svc.intervals import Interval

__all__ = [
    "Action", "ActionKind", "AnalysisEffect", "EffectEvidence", "Fact", "Units", "effect_channel",
]  # fmt: skip


class ActionKind(enum.StrEnum):
    SCALE = "scale"
    CUT = "cut"
    HOLD = "hold"
    REALLOCATE = "reallocate"
    TEST = "test"


@dataclass(frozen=True, slots=True)
class AnalysisEffect:
    """A channel's row of the attribution table (what ``analyze`` shows), over the analysed
    period: its incremental outcome and return with their intervals, the lower bounds at zero
    where the analysis's test of no effect did not reject."""

    channel: str
    incremental: Interval
    roas: Interval | None
    period_days: int
    # The table's mROAS: the point fit's next-unit return, which the plans are not computed on.
    marginal: Interval | None = None

    @property
    def established(self) -> bool:
        return self.incremental.lower > 0.0


@dataclass(frozen=True, slots=True)
class Units:
    """How a return is quoted: the analysis's table is in its outcome per unit of spend
    (conversions per USD for a conversions analysis), the moves in value per unit of spend
    (``value`` per unit of outcome). Where the two differ every figure says which it is
    (R10-F11: "the table shows mROAS 0.93" was 0.0116 conversions per USD × 80, beside an
    iROAS left in conversions per USD)."""

    value: float = 1.0
    outcome: str = "revenue"
    currency: str = ""

    @property
    def valued(self) -> bool:
        """Whether a valued return differs from the table's (a conversion, or a revenue
        multiplier other than 1)."""
        return self.outcome != "revenue" or self.value != 1.0

    def per_spend(self) -> str:
        """The table's unit of a return."""
        cur = self.currency or "unit of currency"
        if self.outcome == "conversions":
            return f"conversions per {cur} of spend"
        return f"{self.outcome} per {cur} of spend"

    def at(self) -> str:
        """The value applied, in words."""
        cur = self.currency or "units of currency"
        if self.outcome == "conversions":
            return f"at {self.value:g} {cur} per conversion"
        return f"at {self.value:g} per unit of {self.outcome}"

    def table(self, raw: Interval) -> str:
        """A return of the analysis's table: as the table shows it and, valued, as the moves
        read it."""
        if not self.valued:
            return raw.text("{:.2f}")
        return (f"{raw.text('{:.3g}')} {self.per_spend()} ({(raw * self.value).text('{:.2f}')} "
                f"{self.at()})")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Fact:
    """A figure from the analysis an action rests on."""

    name: str
    value: Interval | None
    text: str


@dataclass(frozen=True, slots=True)
class Action:
    """One recommended action."""

    kind: ActionKind
    channel: str  # "" for a portfolio-wide reallocation
    action: str
    rationale: str
    impact: Interval  # change in value · outcome − spend over the horizon
    confidence: float  # share of draws in which the action improves the objective
    facts: tuple[Fact, ...]
    current_spend: float
    proposed_spend: float
    design: ExperimentDesign | None = None
    # A reallocation's spend per movable channel over the horizon (the plan to check with
    # Counterfactual: :func:`with_counterfactual`).
    spends: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class EffectEvidence:
    """An effect estimate of one channel (EstimateEffect), as Recommend weighs it."""

    analysis_id: str
    channel: str
    supported: bool
    summary: str = ""


def effect_channel(records_channels: Sequence[str], treatment: str,
                   channels: Sequence[str]) -> str | None:  # fmt: skip
    """The channel an effect estimate is about: the one channel its records were read for,
    else the channel its treatment column names (``meta`` or ``meta_spend``); None when it
    is about no single planned channel."""
    if len(records_channels) == 1 and records_channels[0] in channels:
        return records_channels[0]
    named = [c for c in channels if treatment == c or treatment.startswith(f"{c}_")]
    return max(named, key=len) if named else None
