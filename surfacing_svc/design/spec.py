"""What a geo experiment design is asked for, and what it answers."""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .assignment import AssignmentMethod

if TYPE_CHECKING:
    from surfacing_svc.curves import HillCurve

__all__ = [
    "CellDesign",
    "CellSpec",
    "DesignSpec",
    "ExperimentDesign",
    "PowerPoint",
    "TreatmentKind",
]


class TreatmentKind(enum.StrEnum):
    """What the treatment geos do with the channel's spend."""

    GO_DARK = "go_dark"  # spend off (a holdout)
    HEAVY_UP = "heavy_up"  # spend scaled up

    @property
    def direction(self) -> int:
        """The sign of the outcome change the test looks for."""
        return -1 if self is TreatmentKind.GO_DARK else 1


@dataclass(frozen=True, slots=True)
class CellSpec:
    """One treatment cell.

    Attributes
    ----------
    kind : TreatmentKind
    spend_multiplier : float
        Multiplier on business-as-usual spend in the cell's geos (0 for go-dark; > 1 for a
        heavy-up; 0 with a heavy-up and a budget: as much as the budget buys).
    roas : float or None
        Expected incremental outcome per unit of spend change (iROAS for a go-dark, the
        average return on the added spend for a heavy-up), when known: it gives the expected
        effect. With a ``curve`` it is the curve's at ``spend_multiplier`` (at 1, the
        marginal return, for a heavy-up left to the budget), and each duration is priced at
        the multiplier it spends instead (:mod:`.returns`).
    roas_low : float or None
        The same return at the conservative end of the analysis's interval (the lower bound
        of the channel's incremental effect, 0 where the analysis did not establish one),
        when the analysis gives one; the design is recommended only when powered there too.
        With a ``curve``, ``roas_low / roas`` scales each duration's return the same way.
    level : float
        The coverage of that interval (for the text).
    roas_from : str
        Where ``roas`` comes from, for the text: "planning curve" when read off an analysis's
        response curve (the mean over its draws, not the analysis table's iROAS); "" when the
        caller gave it.
    curve : HillCurve or None
        The channel's response curve the returns are read off, with its carry-over weights:
        each duration's return at the multiplier it spends and the share of the effect the
        test sees; None: ``roas`` at any multiplier, the whole effect within the test.
    """

    kind: TreatmentKind = TreatmentKind.GO_DARK
    spend_multiplier: float = 0.0
    roas: float | None = None
    roas_low: float | None = None
    level: float = 0.0
    roas_from: str = ""
    curve: HillCurve | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class DesignSpec:
    """A request for a geo experiment design.

    Attributes
    ----------
    channel : str
        The channel tested.
    cells : tuple of CellSpec
        One per treatment cell (more than one: a multi-cell design sharing one control).
    method : AssignmentMethod
    treatment_share : float
        Share of geos in treatment, all cells together, in (0, 1).
    alpha : float
        One-sided significance level of the analysis.
    target_power : float
    lift : float or None
        Relative effect (magnitude) the design must detect; None: the expected effect from
        the cells' ``roas``, or no target (the power curve gives each duration's MDE).
    budget : float or None
        Cap on the added spend of a heavy-up cell over the test.
    durations : tuple of int
        Candidate test lengths in days (empty: every week the history can check, 1–8 weeks).
    pre_period_days : int
        Days of pre-period the analysis regresses on (0: chosen from the history length).
    rerandomisations : int
        Re-randomisations of the blocks whose placebo windows join the chosen assignment's.
    seed : int
    start : datetime.date or None
        The test's first day (None: the day after the history), from which the registered
        tests it would meet or follow are read.
    country : str
        The country whose retail calendar (Black Friday to Cyber Monday, the gift weeks) the
        test is checked against: the analysis's holiday calendar, else the US, as a forecast.
    seasons : mapping name -> (mapping date -> value)
        The org's registered seasons (nonzero inside), as a forecast reads them
        (:func:`surfacing_svc.seasons.season_spans`).
    """

    channel: str
    cells: tuple[CellSpec, ...] = (CellSpec(),)
    method: AssignmentMethod = AssignmentMethod.MATCHED_MARKETS
    treatment_share: float = 0.5
    alpha: float = 0.05
    target_power: float = 0.8
    lift: float | None = None
    budget: float | None = None
    durations: tuple[int, ...] = ()
    pre_period_days: int = 0
    rerandomisations: int = 100
    seed: int = 0
    start: dt.date | None = None
    country: str = "US"
    seasons: Mapping[str, Mapping[dt.date, float]] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class PowerPoint:
    """The design at one duration.

    ``power`` is at the target effect (``nan`` without one); ``mde_lift`` is the smallest
    relative effect detected with the target power, ``mde_absolute`` the same in outcome
    units over the test; ``spend_change`` is the cell's change in spend over the test
    (negative for a go-dark) at ``spend_multiplier`` × business-as-usual spend (a budget
    sets it per duration); ``min_detectable_roas`` is the smallest return on that change the
    test detects, ``mde_absolute / (|spend_change| · realised_share)``; ``expected_lift``
    comes from ``expected_roas``, the cell's return at that multiplier, times
    ``realised_share``, the share of the effect a test this long sees through the channel's
    carry-over (``nan`` without a return); ``conservative_lift`` and
    ``power_at_conservative`` the same at ``conservative_roas``, the return at the analysis
    interval's lower bound.
    """

    duration_days: int
    power: float
    mde_lift: float
    mde_absolute: float
    spend_change: float
    min_detectable_roas: float
    expected_lift: float
    power_at_expected: float
    noise: float
    placebo_windows: int
    conservative_lift: float = math.nan
    power_at_conservative: float = math.nan
    spend_multiplier: float = math.nan
    expected_roas: float = math.nan
    conservative_roas: float = math.nan
    realised_share: float = 1.0


@dataclass(frozen=True, slots=True)
class CellDesign:
    """One treatment cell's geos and power."""

    index: int
    spec: CellSpec
    spend_multiplier: float  # after the budget cap at the recommended duration
    treatment_geos: tuple[str, ...]
    power_curve: tuple[PowerPoint, ...]
    recommended_duration_days: int
    feasible: bool
    reason: str
    daily_outcome: float  # treatment geos' business-as-usual outcome per day
    daily_spend: float  # treatment geos' business-as-usual channel spend per day
    outcome_share: float  # treatment geos' share of the org's outcome
    pre_period_correlation: float  # treatment vs control daily totals, pre-period
    # Power at the conservative end of the analysis's interval, and what it means for the
    # recommendation, in words ("" without an interval).
    conservative: str = ""

    @property
    def recommended(self) -> PowerPoint:
        return next(
            p for p in self.power_curve if p.duration_days == self.recommended_duration_days
        )


@dataclass(frozen=True, slots=True)
class ExperimentDesign:
    """The design: control geos, the cells, and how their power was measured."""

    channel: str
    method: AssignmentMethod
    control_geos: tuple[str, ...]
    cells: tuple[CellDesign, ...]
    pre_period_days: int
    alpha: float
    target_power: float
    target_lift: float | None
    history_days: int
    rerandomisations: int
    warnings: tuple[str, ...] = field(default=())
    # The warnings about the org's registered tests (also in ``warnings``): what a caller that
    # keeps only some of the design's warnings must still say (Recommend's proposed tests).
    registry_notes: tuple[str, ...] = field(default=())
    # The warnings about the season peaks its cells run into (also in ``warnings``), for the
    # same callers.
    peak_notes: tuple[str, ...] = field(default=())

    @property
    def feasible(self) -> bool:
        return all(c.feasible for c in self.cells)
