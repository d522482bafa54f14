"""``design_experiment``: a geo experiment for one channel on an org's history — the geos of
each arm, the power curve over durations, the MDE, and the duration a target effect needs.

Steps: the test lengths the history can check and the pre-period the analysis regresses on;
blocks of similar geos (:mod:`.assignment`) and one randomisation within them, plus
re-randomisations of the same blocks; per cell, the null spread of the TBR lift per duration
from placebo windows (:mod:`.power`); per duration, power at the target effect, the MDE at the
target power, the cell's spend change and the smallest return that change would reveal. A cell
read off a response curve is priced per duration at the multiplier it spends, through the
channel's carry-over (:mod:`.returns`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import norm

from mesh.runtime.cancellation import checkpoint
from surfacing_svc.errors import InsufficientData, InvalidRequest
from surfacing_svc.history import GeoHistory
from surfacing_svc.usual_spend import RegisteredTest, usual_days

from .assignment import make_blocks, rerandomise
from .peaks import peak_notes
from .power import DurationNoise, mde_at, placebo_noise, power_at
from .registered import carry_over_notes, concurrent_notes, placebo_note, tested_days
from .returns import carry_over_note, extrapolation_note, priced
from .spec import CellDesign, CellSpec, DesignSpec, ExperimentDesign, PowerPoint, TreatmentKind

__all__ = [
    "MIN_GEOS",
    "MIN_HISTORY_DAYS",
    "MIN_PLACEBO_WINDOWS",
    "MIN_PRE_DAYS",
    "SPILLOVER_NOTE",
    "analysis_note",
    "budget_note",
    "design_experiment",
    "plan_windows",
]

MIN_PRE_DAYS = 28
MAX_PRE_DAYS = 91
# Fewer placebo windows than this say too little about the null spread of a duration.
MIN_PLACEBO_WINDOWS = 14
DEFAULT_DURATIONS = (7, 14, 21, 28, 35, 42, 49, 56)
# What the shortest default design needs: the history to power a week's test, and two blocks
# of one treated and one control geo (what other verbs say before pointing to a test).
MIN_HISTORY_DAYS = MIN_PRE_DAYS + DEFAULT_DURATIONS[0] + MIN_PLACEBO_WINDOWS - 1
MIN_GEOS = 4


def plan_windows(
    n_days: int, spec: DesignSpec, last: dt.date | None = None
) -> tuple[int, tuple[int, ...]]:
    """The pre-period length and the durations the history can check (``last``: the
    history's last day, to say when enough will have accrued).

    Raises
    ------
    InsufficientData
        A requested duration, or the shortest default one, needs more history than there is.
    """
    wanted = tuple(sorted(set(spec.durations))) or DEFAULT_DURATIONS
    longest = wanted[-1]
    pre = spec.pre_period_days or min(
        MAX_PRE_DAYS, max(MIN_PRE_DAYS, n_days - longest - MIN_PLACEBO_WINDOWS + 1)
    )

    def fits(d: int) -> bool:
        return n_days - pre - d + 1 >= MIN_PLACEBO_WINDOWS

    if spec.durations:
        too_long = [d for d in wanted if not fits(d)]
        if too_long:
            d = too_long[0]
            need = pre + d + MIN_PLACEBO_WINDOWS - 1
            raise InsufficientData(
                f"a {d}-day test after a {pre}-day pre-period needs at least {need} days of "
                f"history to power by placebo windows; the org has {n_days}"
                + _wait(n_days, need, last),
                subject="history",
            )
        return pre, wanted
    usable = tuple(d for d in wanted if fits(d))
    if not usable:
        need = pre + wanted[0] + MIN_PLACEBO_WINDOWS - 1
        raise InsufficientData(
            f"the org has {n_days} days of history; powering even a {wanted[0]}-day test "
            f"needs at least {need}" + _wait(n_days, need, last),
            subject="history",
        )
    return pre, usable


def _wait(n_days: int, need: int, last: dt.date | None) -> str:
    """How long until the history is long enough, in days and by date (R48-F3: a 30-day shop
    told to run a test was refused with the minimum only)."""
    more = need - n_days
    if more <= 0:
        return ""
    when = f", i.e. once it runs to {last + dt.timedelta(days=more):%Y-%m-%d}" if last else ""
    return (
        f": {more} more day{'' if more == 1 else 's'} of daily outcomes and spend{when}; "
        "design again then (the test runs after the history it is powered on)"
    )


def _controls_per_block(n_cells: int, share: float) -> int:
    return max(1, round(n_cells * (1.0 - share) / share))


def _multiplier(cell: CellSpec, budget: float | None, daily_spend: float, days: int) -> float:
    if cell.kind is TreatmentKind.GO_DARK or budget is None:
        return cell.spend_multiplier
    affordable = 1.0 + budget / max(daily_spend * days, 1e-300)
    return min(cell.spend_multiplier, affordable) if cell.spend_multiplier > 0 else affordable


# Beyond this many days the extrapolated duration a target needs is no test anyone would run.
_PRACTICAL_DAYS = 2 * 365


def _needed_days(noise: list[DurationNoise], target: float, spec: DesignSpec) -> int | None:
    """Days at which the noise, extrapolated as ``σ_D ∝ D^-γ``, reaches the level the target
    effect needs; None when longer tests do not shrink the noise in this history."""
    durations = np.array([n.duration_days for n in noise], dtype=np.float64)
    sigma = np.array([n.noise for n in noise])
    if durations.size < 2 or not np.all(np.isfinite(sigma)) or np.any(sigma <= 0):
        return None
    gamma = -float(np.polyfit(np.log(durations), np.log(sigma), 1)[0])
    if gamma < 0.05:
        return None
    z, zp = float(norm.ppf(1 - spec.alpha)), float(norm.ppf(spec.target_power))
    magnitude = abs(target)
    wanted = magnitude / (z + zp + (zp * magnitude if target > 0 else -zp * magnitude))
    if wanted <= 0:
        return None
    days = durations[-1] * (sigma[-1] / wanted) ** (1.0 / gamma)
    return math.ceil(days) if np.isfinite(days) else None


def _cell(
    history: GeoHistory,
    spec: DesignSpec,
    index: int,
    arms: np.ndarray,
    pre: int,
    durations: tuple[int, ...],
    bau: np.ndarray,
    tested: np.ndarray,
) -> tuple[CellDesign, list[DurationNoise]]:
    """One cell's design and its placebo noise; ``bau``: the history days its business-as-usual
    levels are read from (the last four weeks outside registered tests of the channel);
    ``tested``: the days a registered test ran, kept out of the placebo windows."""
    checkpoint()
    cell = spec.cells[index - 1]
    chosen = arms[0]
    treated = chosen == index
    control = chosen == 0
    daily_outcome = float(history.outcome[treated][:, bau].sum(axis=0).mean())
    daily_spend = float(history.spend[spec.channel][treated][:, bau].sum(axis=0).mean())
    if daily_spend <= 0:
        raise InsufficientData(
            f"channel {spec.channel!r} has no spend in the treatment geos over the "
            f"{bau.size} days its usual spend is read from: there is nothing to {'turn off' if cell.kind is TreatmentKind.GO_DARK else 'scale up'}",
            subject="channel",
        )
    noise = placebo_noise(history.outcome, arms, index, pre_days=pre, durations=durations,
                          excluded=tested, min_windows=MIN_PLACEBO_WINDOWS)  # fmt: skip
    direction = cell.kind.direction
    points: list[PowerPoint] = []
    for n in noise:
        m = _multiplier(cell, spec.budget, daily_spend, n.duration_days)
        change = (m - 1.0) * daily_spend
        # Each duration at the return of the spend it runs, seen through the carry-over.
        roas, roas_low, seen = priced(cell, m, n.duration_days)
        expected = roas * seen * change / daily_outcome
        low = roas_low * seen * change / daily_outcome
        target = direction * spec.lift if spec.lift is not None else expected
        mde = mde_at(spec.target_power, n.noise, spec.alpha, direction=direction)
        mde_abs = mde * daily_outcome * n.duration_days
        points.append(
            PowerPoint(
                duration_days=n.duration_days,
                power=power_at(target, n.noise, spec.alpha) if math.isfinite(target) else math.nan,
                mde_lift=mde,
                mde_absolute=mde_abs,
                spend_change=change * n.duration_days,
                min_detectable_roas=mde_abs / abs(change * n.duration_days * seen)
                if change != 0
                else math.inf,
                expected_lift=expected,
                power_at_expected=power_at(expected, n.noise, spec.alpha)
                if math.isfinite(expected)
                else math.nan,
                noise=n.noise,
                placebo_windows=n.n_windows,
                conservative_lift=low,
                power_at_conservative=power_at(low, n.noise, spec.alpha)
                if math.isfinite(low)
                else math.nan,
                spend_multiplier=m,
                expected_roas=roas,
                conservative_roas=roas_low,
                realised_share=seen,
            )
        )
    # Without a target of the caller's, the longest duration's expected effect (a budget
    # spread over it, its carry-over seen most): what _why_not speaks of.
    target = direction * spec.lift if spec.lift is not None else points[-1].expected_lift
    feasible, reason = True, ""
    if not math.isfinite(target):
        recommended = points[-1].duration_days  # no target: the most sensitive duration
    else:
        good = [p for p in points if p.power >= spec.target_power]
        if good:
            recommended = good[0].duration_days
        else:
            recommended = points[-1].duration_days
            feasible = False
            reason = _why_not(spec, cell, points, target, noise, history.outcome_name)
            if cell.kind is TreatmentKind.GO_DARK:
                roas = points[-1].expected_roas
                reason += _heavy_up_instead(
                    spec, points[-1], daily_spend, daily_outcome, history.outcome_name,
                    roas if spec.lift is None and math.isfinite(roas) else None,
                )  # fmt: skip
    conservative = ""
    if math.isfinite(points[0].conservative_lift):
        recommended, conservative = _conservative(
            spec, cell, points, recommended if feasible else None, history.outcome_name
        )
    pre_days = slice(history.n_days - pre, history.n_days)
    t_series = history.outcome[treated, pre_days].sum(axis=0)
    c_series = history.outcome[control, pre_days].sum(axis=0)
    corr = float(np.corrcoef(t_series, c_series)[0, 1]) if t_series.std() > 0 else math.nan
    rec = next(p for p in points if p.duration_days == recommended)
    return CellDesign(
        index=index,
        spec=cell,
        spend_multiplier=_multiplier(cell, spec.budget, daily_spend, recommended),
        treatment_geos=tuple(g for g, t in zip(history.geos, treated, strict=True) if t),
        power_curve=tuple(points),
        recommended_duration_days=rec.duration_days,
        feasible=feasible,
        reason=reason,
        daily_outcome=daily_outcome,
        daily_spend=daily_spend,
        outcome_share=float(history.outcome[treated][:, bau].sum() / history.outcome[:, bau].sum()),
        pre_period_correlation=corr,
        conservative=conservative,
    ), noise


def _conservative(
    spec: DesignSpec,
    cell: CellSpec,
    points: list[PowerPoint],
    at_expected: int | None,
    outcome: str,
) -> tuple[int, str]:
    """The recommended duration once the conservative end of the analysis's interval is
    weighed, and the power there in words. A point estimate whose interval spans several
    times its lower bound sizes a test that may well come back null, so the duration is
    recommended only when powered at the lower bound too; when the analysis has not
    established an effect (lower bound 0) the test is what would establish it, and it is
    sized by the smallest effect the history can detect rather than by the estimate."""
    assert cell.roas_low is not None
    target = spec.target_power
    longest = points[-1]
    shortest_expected = (
        f"; the shortest duration powered at the expected effect is {at_expected} days"
        if at_expected is not None
        else ""
    )
    level = f"{cell.level:.0%} " if cell.level > 0 else ""
    if cell.roas_low <= 0.0:
        if spec.lift is not None:
            return (at_expected or longest.duration_days), ""
        return longest.duration_days, (
            f"the analysis has not established an effect of {spec.channel} (the lower bound "
            f"of its {level}interval is 0): this test is what would establish it, so it is "
            f"sized by the smallest effect the history can detect rather than by the "
            f"estimate: {longest.duration_days} days detect a {longest.mde_lift:.1%} change in "
            f"{outcome} ({_a(_return_name(cell, outcome)[0])} of "
            f"{_r(longest.min_detectable_roas)} or more) with {target:.0%} power"
            + shortest_expected
        )
    powers = ", ".join(f"{p.power_at_conservative:.0%} at {p.duration_days} days" for p in points)
    expected = cell.roas if cell.roas is not None else math.nan
    # The returns are the planning curve's (a mean over the model's draws), scaled by where
    # the analysis's interval of the incremental outcome sits: named so, as the analysis's
    # own iROAS interval holds different figures (R2-F5).
    share = cell.roas_low / expected if expected > 0 else math.nan
    curve = f"{cell.roas_from} " if cell.roas_from else ""
    name, what = _return_name(cell, outcome)
    first, last = points[0], points[-1]
    if _same_spend(points):
        returns = (f"{name} {_r(first.conservative_roas)} against {_r(first.expected_roas)} "
                   f"expected")  # fmt: skip
        lifts = f"{abs(first.conservative_lift):.1%}"
    else:  # a budget: each duration spends, and returns, its own
        returns = (
            f"{name} {_r(first.conservative_roas)} against {_r(first.expected_roas)} expected "
            f"at {first.duration_days} days (spend ×{first.spend_multiplier:.3g}) to "
            f"{_r(last.conservative_roas)} against {_r(last.expected_roas)} at "
            f"{last.duration_days} days (×{last.spend_multiplier:.3g}: the budget spread "
            "over more days adds less spend a day, each day's priced on the curve)"
        )
        lifts = f"{abs(first.conservative_lift):.1%} to {abs(last.conservative_lift):.1%}"
    said = (
        f"{spec.channel} at the lower bound of the analysis's {level}interval of its "
        f"incremental {outcome} ({share:.0%} of the estimate; {curve}{returns}, {what}"
        + (" on the curve's mean over the model's draws scaled to that bound, not the analysis "
           "table's point-fit iROAS" if cell.roas_from else "")
        + f"; a {lifts} change in {outcome}): power {powers}"
    )  # fmt: skip
    if spec.lift is not None:  # the caller's own effect of interest sizes the test
        return (at_expected or longest.duration_days), said
    good = [
        p
        for p in points
        if p.power_at_conservative >= target and not (p.power < target)  # nan: no target
    ]
    if good:
        return good[0].duration_days, (
            said + f"; {good[0].duration_days} days reach {target:.0%} power there too"
        )
    return (at_expected or longest.duration_days), (
        said + f"; no duration up to {longest.duration_days} days reaches {target:.0%} power "
        "at the interval's lower bound: the test may come back null" + shortest_expected
    )


def _r(value: float) -> str:
    """A return to three significant digits, as ``liftos analyze`` prints conversions per
    unit of spend (R13-F6: 0.00117 printed as 0.00)."""
    return f"{value:.3g}"


def _same_spend(points: Sequence[PowerPoint]) -> bool:
    """Whether every duration spends the same multiplier (no budget sets it per duration)."""
    return len({round(p.spend_multiplier, 9) for p in points}) <= 1


def _a(name: str) -> str:
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def _return_name(cell: CellSpec, outcome: str) -> tuple[str, str]:
    """The name of the return a cell's expected effect rests on, and what it is, in words
    (R6-F16: a "ROAS" beside the table's iROAS and mROAS, unlabelled): turning the spend off
    gives the average return, the table's iROAS on another curve; a cut or a heavy-up the
    return of the spend removed or added, between the average and the next unit's."""
    if cell.kind is TreatmentKind.GO_DARK and cell.spend_multiplier == 0.0:
        return "iROAS", (
            f"average returns (the {outcome} the test turns off per unit of the spend it turns "
            "off, at the spend as run)"
        )
    if cell.kind is TreatmentKind.GO_DARK:
        return "removed-spend ROAS", f"returns of the spend cut (its {outcome} per unit of it)"
    return "added-spend ROAS", f"returns of the added spend (its {outcome} per unit of it)"


def _why_not(
    spec: DesignSpec,
    cell: CellSpec,
    points: Sequence[PowerPoint],
    target: float,
    noise: list[DurationNoise],
    outcome: str,
) -> str:
    """Why no duration reaches the target power, in words."""
    longest = points[-1]
    d = longest.duration_days
    said = (
        f"at {spec.target_power:.0%} power the smallest change in {outcome} a {d}-day test "
        f"detects is {longest.mde_lift:.1%} (power {longest.power:.0%} at the target "
        f"{abs(target):.1%})"
    )
    if spec.lift is None and cell.roas is not None:
        action = "turning it off" if cell.kind is TreatmentKind.GO_DARK else "the added spend"
        seen = (
            f", of whose effect the test sees {longest.realised_share:.0%} through the carry-over"
            if longest.realised_share < 0.995
            else ""
        )
        said = (
            f"{action} in the treatment geos is expected to move their {outcome} by "
            f"{target:+.1%} ({cell.roas_from + ' ' if cell.roas_from else ''}"
            f"{_return_name(cell, outcome)[0]} {_r(longest.expected_roas)} on a spend change of "
            f"{longest.spend_change:,.0f} over {d} days{seen}); " + said
        )
    if spec.lift is None and spec.budget is not None and not _same_spend(points):
        # The target itself shrinks with the duration: no noise extrapolation reaches it.
        return said + (
            "; a longer test spreads the same budget over more days, so its expected effect "
            "shrinks with the noise"
        )
    needed = _needed_days(noise, target, spec)
    if needed is None:
        return said + "; longer tests do not shrink the noise in this history"
    if needed > _PRACTICAL_DAYS:
        # The extrapolated duration grows as a power of the noise ratio: past a couple of years
        # its figure (it reached 10^11 days on an audit's history) says only "never".
        return said + (
            f"; no practical test reaches the target: longer tests shrink the noise in this "
            f"history too slowly to get there within {_PRACTICAL_DAYS} days ({_PRACTICAL_DAYS // 365} years)"
        )
    return said + f"; reaching the target would take about {needed} days"


# The heavy-up multiples offered where a go-dark cannot reach its target.
_HEAVY_UPS = (2.0, 3.0, 5.0)


def _heavy_up_instead(
    spec: DesignSpec,
    longest: PowerPoint,
    daily_spend: float,
    daily_outcome: float,
    outcome: str,
    expected: float | None,
) -> str:
    """What a heavy-up of the same geos would detect where a go-dark cannot (R48-F3: a small
    shop was "recommended" a go-dark at 6% power, and the heavy-up that could work was never
    named). A go-dark can remove at most the spend the geos run; a heavy-up ×m adds (m − 1)
    times it, so on the same noise it detects a return (m − 1) times smaller. The return is
    per unit of added spend on the same placebo noise, at the longest duration checked;
    ``expected``: the go-dark's expected return (per unit of the spend as run), if known."""
    d = longest.duration_days
    mde = mde_at(spec.target_power, longest.noise, spec.alpha, direction=1)
    if not math.isfinite(mde) or daily_spend <= 0 or longest.realised_share <= 0:
        return ""
    per, least = [], math.inf
    for m in _HEAVY_UPS:
        added = (m - 1.0) * daily_spend * d
        least = mde * daily_outcome * d / (added * longest.realised_share)
        per.append(f"{_r(least)} at ×{m:g} (adding {added:,.0f})")
    pays = "; 1 returns the spend" if outcome == "revenue" else ""
    said = (
        f"; a go-dark can remove only the {daily_spend * d:,.0f} of spend these geos run in "
        f"{d} days, a heavy-up adds more: with {spec.target_power:.0%} power a {d}-day "
        f"heavy-up detects an added-spend ROAS ({outcome} per unit of added spend{pays}) of "
        f"{per[0]} or more, {', '.join(per[1:])}: `liftos design --heavy-up M` sizes one"
    )
    if expected is not None and 0 <= expected < least:
        # The average return of the spend as run bounds the added spend's on a concave curve.
        said += (
            f"; the return expected here ({_r(expected)}) is below even the ×{_HEAVY_UPS[-1]:g} "
            "threshold, so no test of these geos is likely to detect it: more regions, or more "
            f"{outcome} per region, would"
        )
    return said


def budget_note(spec: DesignSpec, cell: CellDesign, index: int | None = None) -> str:
    """What a budget did to a heavy-up cell's multiplier, per duration (R26-F7: ×2 asked ran
    as ×1.18 without a word, and one multiplier was printed for durations that each spend
    another); "" when the budget capped nothing."""
    if spec.budget is None or cell.spec.kind is not TreatmentKind.HEAVY_UP:
        return ""
    asked = cell.spec.spend_multiplier
    points = cell.power_curve
    if asked > 0 and all(p.spend_multiplier >= asked - 1e-12 for p in points):
        return ""  # the budget covers the multiplier asked at every duration
    per = ", ".join(f"×{p.spend_multiplier:.3g} over {p.duration_days} days" for p in points)
    head = f"cell {index}: " if index is not None else ""
    wanted = f"×{asked:g} asked; " if asked > 0 else ""
    return (
        f"{head}{wanted}the {spec.budget:,.0f} budget allows {per} (each duration spreads it "
        f"over its days); the cell's spend × {cell.spend_multiplier:.3g} is the "
        f"{cell.recommended_duration_days}-day recommendation's, the one a saved design registers"
    )


# R26-F9: the geo codes carry no adjacency, so the caveat is general; it names the usual
# cross-border markets as examples of what to look for in the arms.
SPILLOVER_NOTE = (
    "spillover: a control geo that shares a media market or commuting zone with a treatment "
    "geo (neighbouring states; cross-border metros such as New York-New Jersey or Washington "
    "DC-Maryland-Virginia) sees part of the treatment, which biases the measured lift toward "
    "zero; the design does not know which geos neighbour each other, so check the arms and "
    "move a straddling market's geos into one arm"
)


def analysis_note(pre_days: int) -> str:
    """What the power is for against what ``liftos estimate --experiment`` runs (R26-F4: the
    design stated power for a time-based regression the estimate does not offer)."""
    return (
        f"the power and MDE above are for a time-based regression on a {pre_days}-day "
        "pre-period (the analysis line); `liftos estimate --experiment` does not run one: it "
        "reads the experiment's registered pre-period (pre_period_start; where none is "
        "registered, one as long as the test) and estimates with its panel methods (auto: "
        "synthetic DiD or DiD; difference in means with --randomized), whose interval is not "
        "the one powered here and can be wider: size the test with some margin"
    )


def design_experiment(
    history: GeoHistory, spec: DesignSpec, tests: Sequence[RegisteredTest] = ()
) -> ExperimentDesign:
    """Design a geo experiment for ``spec.channel`` on ``history``.

    Parameters
    ----------
    history : GeoHistory
        The org's outcome and spend per geo-day; the test would start the day after it ends.
    spec : DesignSpec
    tests : sequence of RegisteredTest
        The org's registered tests: a test window of the channel is not its business as usual,
        so the cell's daily spend and outcome are read from the latest four weeks outside it;
        the days of any test are left out of the placebo windows, and geos a test treated
        lately are named (:mod:`.registered`).

    Returns
    -------
    ExperimentDesign

    Raises
    ------
    InvalidRequest
        The channel has no spend in the history.
    InsufficientData
        Too few geos for two blocks, too little history for the durations, or no recent
        spend in a cell's geos.
    """
    if spec.channel not in history.spend:
        known = ", ".join(sorted(history.spend)) or "none"
        raise InvalidRequest(
            f"channel {spec.channel!r} has no spend in the history; channels with spend: {known}",
            field="channel",
        )
    pre, durations = plan_windows(
        history.n_days, spec, history.dates.astype("datetime64[D]")[-1].item()
    )
    n_cells = len(spec.cells)
    controls = _controls_per_block(n_cells, spec.treatment_share)
    room = history.n_geos // 2 - n_cells  # the most control geos per block two blocks allow
    if controls > room >= 1:
        # The share is what does not fit (too few geos for any share: make_blocks says so):
        # named by the share asked, not by a block size (1e-300 asked for 300 digits of geos).
        least = math.ceil(1000 * n_cells / (n_cells + room + 0.5)) / 1000
        raise InsufficientData(
            f"treatment_share {spec.treatment_share:g} asks for {controls:,.4g} control geo(s) "
            f"per block of {n_cells} treatment geo(s), and {history.n_geos} geos with outcomes "
            f"make two blocks of at most {room} control geo(s) each; with {n_cells} cell(s) "
            f"the share must be at least {least:.3f}",
            subject="geos",
        )
    tested = tested_days(history.dates, tests)
    # Geos are matched on days no registered test moved (where enough are left).
    matched = history.outcome[:, ~tested] if (~tested).sum() >= MIN_PRE_DAYS else history.outcome
    blocks = make_blocks(matched, n_cells=n_cells, controls_per_block=controls, method=spec.method)
    rng = np.random.default_rng(spec.seed)
    arms = rerandomise(blocks, rng, spec.rerandomisations + 1)
    usual = usual_days(history.dates, spec.channel, tests)
    made = [
        _cell(history, spec, k, arms, pre, durations, usual.index, tested)
        for k in range(1, n_cells + 1)
    ]
    cells = tuple(c for c, _ in made)
    control_geos = tuple(g for g, a in zip(history.geos, arms[0], strict=True) if a == 0)
    # What the org's registered tests change, said once (every cell's windows are the same).
    registry = [usual.note] if usual.note else []
    registry += [placebo_note(history.dates, tests, made[0][1])] if tests else []
    start = spec.start or history.dates.astype("datetime64[D]")[-1].item() + dt.timedelta(days=1)
    registry += carry_over_notes(
        tests,
        start,
        [(c.index, c.treatment_geos) for c in cells],
        control_geos,
    )
    # Drafts have not run (no business-as-usual or placebo days of theirs), but a test that
    # meets one shares its days and geos.
    registry += concurrent_notes(
        [*tests, *getattr(tests, "drafts", ())],
        spec.channel,
        start,
        [(c.index, c.treatment_geos, c.recommended_duration_days) for c in cells],
        control_geos,
    )
    registry = [r for r in registry if r]
    # First: what the recommendation rests on, before the history's caveats.
    warnings = [
        (f"cell {c.index}: " if n_cells > 1 else "") + c.conservative
        for c in cells
        if c.conservative
    ]
    # What the curve's pricing rests on: spend past what the model saw, per cell; the
    # carry-over's share of the effect each duration sees, once (one channel, one curve).
    priced_cells = [c for c in cells if c.spec.curve is not None]
    warnings += [
        extrapolation_note(spec.channel, c.power_curve, c.index if n_cells > 1 else None)
        for c in priced_cells
    ]
    if priced_cells:
        warnings.append(carry_over_note(spec.channel, priced_cells[0].power_curve))
    warnings += [budget_note(spec, c, c.index if n_cells > 1 else None) for c in cells]
    warnings = [w for w in warnings if w]
    # A test into the peak reads out too late and prices the peak at ordinary days (R51-F3).
    peaks = peak_notes(history, cells, start, spec.country, spec.seasons, usual.index)
    warnings += peaks
    warnings.append(analysis_note(pre))
    warnings.append(SPILLOVER_NOTE)
    warnings += history.warnings
    warnings += registry
    if n_cells > 1:
        warnings.append(
            f"each of the {n_cells} cells is tested against the shared control at alpha "
            f"{spec.alpha:g}; the chance that at least one shows a false positive is up to "
            f"{1 - (1 - spec.alpha) ** n_cells:.0%}"
        )
    return ExperimentDesign(
        channel=spec.channel,
        method=spec.method,
        control_geos=control_geos,
        cells=cells,
        pre_period_days=pre,
        alpha=spec.alpha,
        target_power=spec.target_power,
        target_lift=spec.lift,
        history_days=history.n_days,
        rerandomisations=spec.rerandomisations,
        warnings=tuple(warnings),
        registry_notes=tuple(registry),
        peak_notes=tuple(peaks),
    )
