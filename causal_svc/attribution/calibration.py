"""Lift tests as evidence on channel effects, and the checks a set of them must pass.

A lift test says: in these geos over these days, the outcome with the channel's spend as it
ran minus the outcome with that spend multiplied by ``counterfactual_multiplier`` (0 for a
go-dark holdout of the geos that kept spending, above 1 for geos the test cut) was ``lift``
with standard error ``stderr``. Geos the test took dark ran no spend to multiply: their
counterfactual is ``counterfactual_spend``, laid out as those geos' spend ran before the window
(:func:`_restored`). The model predicts the same
difference from its response curve, and the fit adds ``((predicted - lift) / stderr)^2`` to its
objective: a Gaussian likelihood for the test, as PyMC-Marketing's
``add_lift_test_measurements`` adds one and as Robyn's MAPE.LIFT penalises the gap. Because the
panel's own rows are scaled to likelihood units (inverse noise variance, inflated for
autocorrelation), a test with a tight standard error pulls hard and a vague one barely moves the
fit, as a Bayesian update would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from causal_svc.errors import ContradictoryCalibration, InvalidSpec
from mesh.runtime.quoting import shown_all

from .panel import MediaPanel

__all__ = [
    "LiftTest",
    "PreparedLift",
    "check_lift_tests",
    "one_per_experiment",
    "usable_lift_tests",
]

# Two tests of the same channel over overlapping geos and days whose lifts per unit of spend
# differ by more than this many combined standard errors contradict each other (p < 0.001).
CONTRADICTION_Z = 3.29


@dataclass(frozen=True, slots=True)
class LiftTest:
    """One measured lift of one channel.

    Attributes
    ----------
    channel : str
    start, end : date
        Test window, both inclusive.
    lift : float
        Outcome with spend as run minus outcome under the counterfactual spend, summed over the
        test's geos and days (outcome units).
    stderr : float
        Standard error of ``lift``, > 0.
    geos : tuple of str
        Geos the lift was measured in (empty: every geo of the panel).
    counterfactual_multiplier : float
        The counterfactual spend as a multiple of the spend as run (0: go-dark).
    name : str
        Experiment id, for messages.
    df : float
        Degrees of freedom of ``stderr``: a geo experiment's standard error is estimated from
        its geos (a difference in differences over ``n_t`` treated and ``n_c`` control geos
        has about ``n_t + n_c − 2``), so it is itself uncertain, and an interval resting on
        the test must widen for it as a t-test would. ``inf`` (default): the standard error
        is taken as known.
    spend_change : float
        The size of the spend change the result states (``|spend_delta|``), for a test that
        names no geos: such a test (Robyn's lift table: channel, dates, liftAbs, spend) is
        read as that much of the channel's spend over its window moved, spread over the
        panel's geos as the channel ran there, and ``counterfactual_multiplier`` follows from
        the panel's spend (:func:`check_lift_tests`). 0: the multiplier is taken as given.
    treatment_units : int
        Treated units the result reports (0: not said), to warn when a test of some geos
        names none of them.
    counterfactual_spend : float
        For a cell the test took dark (PyMC-Marketing's ``x + delta_x = 0``: GeoLift's and
        ``liftos design``'s go-dark, whose treated geos are the dark ones): the business-as-
        usual spend over the window the counterfactual restores there (``x``); ``lift`` is
        then the dark cell's outcome minus that, negative when the channel works. 0: the
        counterfactual is ``counterfactual_multiplier`` × the spend as run. Where the cell's
        geos did run the channel, the test is read as that spend going dark.
    spend_added : float
        A heavy-up that states no business-as-usual spend: the spend it added over the window;
        the counterfactual is the cell's spend as run in the panel less this.
    spend_removed : float
        A cut that states no business-as-usual spend: the spend it removed over the window;
        the counterfactual is the cell's spend as run in the panel plus this (``lift`` is as
        run minus that), or, where the cell ran none (a go-dark), this much restored.
    """

    channel: str
    start: dt.date
    end: dt.date
    lift: float
    stderr: float
    geos: tuple[str, ...] = ()
    counterfactual_multiplier: float = 0.0
    name: str = ""
    df: float = float("inf")
    spend_change: float = 0.0
    treatment_units: int = 0
    counterfactual_spend: float = 0.0
    spend_added: float = 0.0
    spend_removed: float = 0.0

    @property
    def raises(self) -> bool:
        """Whether the counterfactual has more of the channel's spend than the test ran."""
        return (self.counterfactual_spend > 0 or self.counterfactual_multiplier > 1.0
                or self.spend_removed > 0)  # fmt: skip

    @property
    def gain(self) -> float:
        """The outcome with the higher of the two spends minus with the lower (positive when
        the channel works, whichever side ran)."""
        return -self.lift if self.raises else self.lift


@dataclass(frozen=True, slots=True)
class PreparedLift:
    """A lift test located in the panel: channel index, geo indices, day window [a, b), and
    how it was read where that is not what it says of itself (a warning for the report)."""

    test: LiftTest
    channel: int
    geos: np.ndarray
    a: int
    b: int
    note: str = ""
    # The test's lift and stderr here are its own ÷ ``share`` (a test of part of the
    # channel's spend read as all of it going dark: _as_spend_change); × share to show them.
    share: float = 1.0
    # A dark cell's counterfactual media (geos × window days, the panel's media units);
    # None: ``test.counterfactual_multiplier`` × the media as run.
    counterfactual: np.ndarray | None = None


def _field(i: int, name: str) -> str:
    return f"calibration[{i}].{name}"


def check_lift_tests(panel: MediaPanel, tests: Sequence[LiftTest]) -> list[PreparedLift]:
    """Locate each test in the panel and refuse impossible or contradictory sets.

    Raises
    ------
    InvalidSpec
        Unknown channel or geo, non-positive or non-finite standard error or one below
        ``MIN_RELATIVE_STDERR`` of the outcome it measures, non-positive degrees of freedom, a
        window not wholly inside the panel or with no spend, a negative multiplier.
    ContradictoryCalibration
        Two overlapping tests of one channel disagree beyond ``CONTRADICTION_Z`` standard
        errors, or a test's lift is significantly negative where the spend it removes is
        positive (media effects are non-negative in this model).
    """
    out: list[PreparedLift] = []
    for i, t in enumerate(tests):
        c = panel.channel_index(t.channel, field_name=_field(i, "channel"))
        if not (np.isfinite(t.stderr) and t.stderr > 0):
            raise InvalidSpec(
                f"lift test {t.name or i}: stderr must be positive, got {t.stderr}",
                field=_field(i, "lift_std_error"),
            )
        if not (t.df > 0):  # inf is allowed (a known standard error); NaN is not
            raise InvalidSpec(
                f"lift test {t.name or i}: degrees of freedom of the standard error must be "
                f"positive, got {t.df}",
                field=_field(i, "df"),
            )
        if not np.isfinite(t.lift):
            raise InvalidSpec(f"lift test {t.name or i}: lift is not finite",
                              field=_field(i, "lift_absolute"))  # fmt: skip
        if not (np.isfinite(t.counterfactual_multiplier) and t.counterfactual_multiplier >= 0):
            raise InvalidSpec(
                f"lift test {t.name or i}: counterfactual spend multiplier must be >= 0",
                field=_field(i, "spend_delta"),
            )
        a, b = _window(panel, t, i)
        if t.geos:
            unknown = [g for g in t.geos if _geo(panel, g) < 0]
            if unknown:
                raise InvalidSpec(
                    f"lift test {t.name or i}: geo(s) {shown_all(unknown)} not in the panel",
                    field=_field(i, "geos"),
                )
            geos = np.array(sorted({_geo(panel, g) for g in t.geos}), dtype=np.int64)
        else:
            geos = np.arange(panel.n_geos)
        note, share = "", 1.0
        if t.spend_change > 0 and not t.geos:
            t, note, share = _as_spend_change(panel, t, i, c, a, b)
        counterfactual = None
        ran = float(panel.media[c][np.ix_(geos, np.arange(a, b))].sum())
        if t.spend_added > 0:
            t = _added_to(panel, t, i, c, geos, a, b)
        if t.spend_removed > 0:
            t, note = _removed_from(panel, t, i, c, geos, a, b)
        if t.counterfactual_spend > 0 and ran > 0:
            # Its geos ran the channel: what ran there is what the test took away (a holdout
            # recorded with its control dark, or the result's spend_baseline + spend_delta
            # misses what the panel holds).
            t = replace(t, lift=t.gain, counterfactual_spend=0.0, counterfactual_multiplier=0.0)
        elif t.counterfactual_spend > 0:
            counterfactual, note = _restored(panel, t, i, c, geos, a, b)
        elif ran <= 0:
            raise InvalidSpec(
                f"lift test {t.name or i}: channel {t.channel!r} has no media in its geos and "
                "window, and the result states no business-as-usual spend the test took from "
                "them (spend_baseline), so the test cannot inform its effect",
                field=_field(i, "window"),
            )
        _check_stderr(panel, t, i, geos, a, b)
        moved = t.counterfactual_spend > 0 or t.counterfactual_multiplier != 1.0
        if moved and t.gain / t.stderr < -CONTRADICTION_Z:
            raise ContradictoryCalibration(
                f"lift test {t.name or i}: the outcome was significantly lower with more of "
                f"the spend of {t.channel!r} (the higher of the test's two spends minus the lower: "
                f"{t.gain:,.0f} ± {t.stderr:,.0f}), which contradicts non-negative media effects",
                subject=_field(i, "lift_absolute"),
            )
        out.append(PreparedLift(t, c, geos, a, b, note, share, counterfactual))
    _check_agreement(out)
    return out


# |spend_delta| up to this much above the channel's spend in the window still reads as all of
# it going dark (rounding in the user's own sums), not as a refusal.
SPEND_CHANGE_SLACK = 1.001


def _as_spend_change(
    panel: MediaPanel, t: LiftTest, i: int, c: int, a: int, b: int
) -> tuple[LiftTest, str, float]:
    """A test without geos as the spend change it states: ``|spend_delta|`` of the channel's
    spend ``S`` over the window (all geos) went dark, a share ``s = |Δ|/S`` of it, in geos the
    result does not name. Its lift is read as ``s`` × the lift of the whole channel going dark
    there (Robyn's calibration scales the model's contribution in the window by the study's
    spend over the channel's the same way): the test becomes a go-dark of every geo with lift
    and standard error ÷ ``s``, which leaves its likelihood term ``((s·pred − lift)/se)²``
    as it is. Returns the test so read, the warning saying so, and ``s`` (to show the test
    in its own units). Read as a go-dark of every geo instead, a test of 6 of 12 geos (audit
    R4 F9: 97,781 of 179,017) credited its lift to all the channel's spend and calibrated an
    iROAS of 2.0 to 1.22."""
    spent = float(panel.spend[c][:, a:b].sum())
    where = (f"{panel.channels[c]}'s spend over {t.start}..{t.end} in all {panel.n_geos} "
             "geos")  # fmt: skip
    if spent <= 0:
        raise InvalidSpec(
            f"lift test {t.name or i} names no geos and states a spend change of "
            f"{t.spend_change:,.0f}, but {where} is zero (the channel has impressions only): "
            "list the test's geos",
            field=_field(i, "spend_delta"),
        )
    if t.spend_change > SPEND_CHANGE_SLACK * spent:
        raise InvalidSpec(
            f"lift test {t.name or i} names no geos and states a spend change of "
            f"{t.spend_change:,.0f}, more than {where} ({spent:,.0f}): it cannot be read as a "
            "change of that spend; list the test's geos (the experiment's treatment_units) or "
            "check spend_delta's units and window",
            field=_field(i, "spend_delta"),
        )
    share = min(1.0, t.spend_change / spent)
    note = (f"lift test {t.name or i} names no geos: read as {t.spend_change:,.0f} of "
            f"{where} ({spent:,.0f}, {share:.0%}) going dark, its lift as {share:.0%} of the "
            "channel's effect there")  # fmt: skip
    if 0 < t.treatment_units < panel.n_geos:
        note += (f"; it reports {t.treatment_units} treated unit(s) of the panel's "
                 f"{panel.n_geos} geos: record the experiment's treatment_units to calibrate "
                 "on those geos only")  # fmt: skip
    read = replace(t, counterfactual_multiplier=0.0, counterfactual_spend=0.0, spend_added=0.0,
                   spend_removed=0.0, lift=t.gain / share, stderr=t.stderr / share)  # fmt: skip
    return read, note, share


def _added_to(
    panel: MediaPanel, t: LiftTest, i: int, c: int, geos: np.ndarray, a: int, b: int
) -> LiftTest:
    """A heavy-up stated without its usual spend, as a multiplier of the cell's spend as run:
    the counterfactual is that spend less the spend the test added."""
    spent = float(panel.spend[c][np.ix_(geos, np.arange(a, b))].sum())
    if t.spend_added >= spent:
        raise InvalidSpec(
            f"lift test {t.name or i} added {t.spend_added:,.0f} of {t.channel!r} spend over "
            f"{t.start}..{t.end} and states no business-as-usual spend, but its geos ran "
            f"{spent:,.0f} there in all: state spend_baseline (the spend before the heavy-up) "
            "or check spend_delta's units and the test's geos",
            field=_field(i, "spend_baseline"),
        )
    return replace(t, counterfactual_multiplier=1.0 - t.spend_added / spent, spend_added=0.0)


def _removed_from(
    panel: MediaPanel, t: LiftTest, i: int, c: int, geos: np.ndarray, a: int, b: int
) -> tuple[LiftTest, str]:
    """A cut stated without its usual spend, the mirror of :func:`_added_to`: where the cell
    ran the channel, the counterfactual is its spend as run plus what the cut removed
    (×(1 + removed/spent)), so the fit is asked what the removed spend added on top of what
    still ran, not what the remaining spend added over none (V2 F6); where it ran none, the
    removed spend is restored (a go-dark). Returns the test so read and, for a cell that ran
    the channel, the note saying how it was read (a go-dark whose panel still holds the cell's
    spend reads the same way, hence the note)."""
    if float(panel.media[c][np.ix_(geos, np.arange(a, b))].sum()) <= 0:
        return replace(t, counterfactual_spend=t.spend_removed, spend_removed=0.0), ""
    spent = float(panel.spend[c][np.ix_(geos, np.arange(a, b))].sum())
    if spent <= 0:
        raise InvalidSpec(
            f"lift test {t.name or i} removed {t.spend_removed:,.0f} of {t.channel!r} spend "
            f"over {t.start}..{t.end} and states no business-as-usual spend, but its geos ran "
            "impressions only there: state spend_baseline (the spend before the cut)",
            field=_field(i, "spend_baseline"),
        )
    note = (f"lift test {t.name or i} states no business-as-usual spend (spend_baseline): its "
            f"geos ran {spent:,.0f} of {t.channel!r} spend over {t.start}..{t.end}, read as a "
            f"cut of {t.spend_removed:,.0f} from {spent + t.spend_removed:,.0f}; if the cell "
            "went dark, state spend_baseline")  # fmt: skip
    read = replace(t, counterfactual_multiplier=1.0 + t.spend_removed / spent, spend_removed=0.0)
    return read, note


def _restored(
    panel: MediaPanel, t: LiftTest, i: int, c: int, geos: np.ndarray, a: int, b: int
) -> tuple[np.ndarray, str]:
    """A dark cell's counterfactual media over the window: each geo at its mean daily media
    over a pre-period as long as the test (EstimateEffect's default), scaled so that the
    cell's spend over the window is ``counterfactual_spend``. A go-dark has no spend as run
    to multiply (audit R26 F6: every go-dark registered as ``liftos design`` registers one
    was dropped as "no media in its geos and window")."""
    first = max(0, a - (b - a))
    media = panel.media[c][geos, first:a]
    what = (f"lift test {t.name or i}: its geos ran none of {t.channel!r} over "
            f"{t.start}..{t.end} (the test took them dark)")  # fmt: skip
    if a == 0 or float(media.sum()) <= 0:
        raise InvalidSpec(
            what + ", and the analysed period holds none of its media there before the window, "
            "so the business-as-usual spend the test took away cannot be laid out: start the "
            "analysis at least as long before the test as the test lasts",
            field=_field(i, "window"),
        )
    days, window = a - first, b - a
    rate = media.sum(axis=1) / days
    usual = float(panel.spend[c][geos, first:a].sum()) / days * window
    scale = t.counterfactual_spend / usual if usual > 0 else 1.0
    note = (f"{what}: its counterfactual restores the {t.counterfactual_spend:,.0f} of "
            f"business-as-usual spend the result states, laid out as those geos ran the channel "
            f"over the {days} days before the test ({scale:.2f}× that rate)")  # fmt: skip
    return np.repeat((rate * scale)[:, None], window, axis=1), note


def _window(panel: MediaPanel, t: LiftTest, i: int) -> tuple[int, int]:
    """The test's days [a, b) in the panel. A window that is not wholly inside the analysed
    period is refused, not clipped: its lift sums over every day of the window, so the part
    the panel does not hold would be credited to the days it does."""
    first, last = panel.dates[0], panel.dates[-1]
    start, end = np.datetime64(t.start, "D"), np.datetime64(t.end, "D")
    if end < start:
        raise InvalidSpec(f"lift test {t.name or i}: window ends {t.end} before it starts "
                          f"{t.start}", field=_field(i, "window"))  # fmt: skip
    if end < first or start > last:
        raise InvalidSpec(
            f"lift test {t.name or i}: window {t.start}..{t.end} is outside the analysed "
            f"period {first}..{last}",
            field=_field(i, "window"),
        )
    if start < first or end > last:
        raise InvalidSpec(
            f"lift test {t.name or i}: window {t.start}..{t.end} is not inside the analysed "
            f"period {first}..{last}: its lift sums over days the model does not see",
            field=_field(i, "window"),
        )
    a = int((start - first).astype(np.int64))
    return a, a + int((end - start).astype(np.int64)) + 1


# A lift test's standard error below this share of the outcome summed over its geos and days
# is refused. No experiment measures a sum of geo-days to a millionth of it (a 1% daily noise
# over a year of 50 geos leaves ~7e-5 of the sum), so such a value is a units mistake; and the
# fit weighs the test by 1/stderr², which overflows (INTERNAL) for stderr ~ 1e-150 × the lift.
MIN_RELATIVE_STDERR = 1e-6


def _check_stderr(panel: MediaPanel, t: LiftTest, i: int, geos: np.ndarray, a: int, b: int) -> None:
    cells = panel.outcome[np.ix_(geos, np.arange(a, b))]
    # the outcome the test sums over; its geos' typical level if that is all zero
    scale = max(float(np.abs(cells).sum()), abs(t.lift),
                float(np.abs(panel.outcome).mean()) * cells.size)  # fmt: skip
    floor = MIN_RELATIVE_STDERR * scale
    if t.stderr < floor:
        raise InvalidSpec(
            f"lift test {t.name or i}: standard error {t.stderr:.3g} is below "
            f"{MIN_RELATIVE_STDERR:g} of the outcome over its geos and days ({scale:,.0f}), "
            f"i.e. {floor:,.3g}; no test is that precise: is it in outcome units?",
            field=_field(i, "lift_std_error"),
        )


def _geo(panel: MediaPanel, g: str) -> int:
    name = g.strip().upper()
    for i, have in enumerate(panel.geos):
        h = have.upper()
        if h == name or h.rsplit("-", 1)[-1] == name.rsplit("-", 1)[-1]:
            return i
    return -1


def _check_agreement(tests: list[PreparedLift]) -> None:
    for i, p in enumerate(tests):
        for j in range(i + 1, len(tests)):
            q = tests[j]
            overlap = (
                p.channel == q.channel
                and p.a < q.b
                and q.a < p.b
                and np.intersect1d(p.geos, q.geos).size > 0
            )
            if not overlap:
                continue
            # Compare per geo-day of test: tests of different sizes measure different totals.
            n_p = p.geos.size * (p.b - p.a)
            n_q = q.geos.size * (q.b - q.a)
            # (each as the higher spend minus the lower: a cut and a heavy-up agree in sign)
            d = p.test.gain / n_p - q.test.gain / n_q
            se = np.hypot(p.test.stderr / n_p, q.test.stderr / n_q)
            if abs(d) > CONTRADICTION_Z * se:
                raise ContradictoryCalibration(
                    f"lift tests {p.test.name or i} and {q.test.name or j} measure the same "
                    f"channel {p.test.channel!r} over overlapping geos and days but disagree by "
                    f"{abs(d) / se:.1f} standard errors",
                    subject=_field(j, "lift_absolute"),
                )


def usable_lift_tests(
    panel: MediaPanel, tests: Sequence[LiftTest]
) -> tuple[list[LiftTest], list[str]]:
    """The registry's tests this panel can use, and why the others were left out (a
    registered experiment of a channel or window outside the analysis is not the caller's
    mistake, so it is skipped with a warning rather than refused)."""
    kept, warnings = [], []
    for t in tests:
        try:
            check_lift_tests(panel, [t])
        except (InvalidSpec, ContradictoryCalibration) as exc:
            warnings.append(f"registry experiment {t.name or t.channel} not used: {exc.message}")
            continue
        kept.append(t)
    return kept, warnings


def _same_test(t: LiftTest, u: LiftTest) -> bool:
    """Whether two results are copies of one test: one experiment id, channel and window, and
    the same geos where both name them (a request's result names none)."""
    return (
        t.name == u.name
        and t.channel == u.channel
        and (t.start, t.end) == (u.start, u.end)
        and (not t.geos or not u.geos or {g.upper() for g in t.geos} == {g.upper() for g in u.geos})
    )


def _described(t: LiftTest) -> str:
    return f"{t.channel} {t.start}..{t.end}" + (f" in {len(t.geos)} geos" if t.geos else "")


def one_per_experiment(
    requested: Sequence[LiftTest], registered: Sequence[LiftTest]
) -> tuple[list[LiftTest], list[str]]:
    """The lift tests with each experiment once, and a warning for each copy left out.

    A test passed with the request and held in the registry (PyMC-Marketing's habit: add the
    tests you have) is one experiment, not two: counted twice it narrowed the calibrated
    interval by a quarter from no new information (audit R26 F2). The registry's copy is kept:
    it carries the experiment's treated geos, which a request's result cannot name. Requested
    tests without an experiment id (named by their position) are never merged.

    Copies are results with one id, channel and window (:func:`_same_test`). One id naming
    tests of other channels or windows (a multi-cell GeoLift export, one id per quarter's
    programme) keeps them all, with a warning: each is evidence of its own, as a registered
    test outside the analysis is skipped rather than refused, and two that measure the same
    spend and disagree are still refused by :func:`check_lift_tests`. Matched on the id alone,
    every test after the first was dropped as "passed twice" (V2 F3)."""
    used: set[int] = set()  # registered tests counted in a request's place
    kept: list[LiftTest] = []
    # the request's tests kept: (index, test, whether the registry's copy stands for it)
    seen: list[tuple[int, LiftTest, bool]] = []
    warnings = []
    for i, t in enumerate(requested):
        where = f"calibration[{i}]"
        if t.name == where:
            kept.append(t)
            continue
        j = next((j for j, u in enumerate(registered) if j not in used and _same_test(t, u)), -1)
        if j >= 0:
            # In the request's place, so that a refusal of a later test names its own index.
            mine = registered[j]
            used.add(j)
            seen.append((i, t, True))
            kept.append(mine)
            differs = (t.lift, t.stderr) != (mine.lift, mine.stderr)
            warnings.append(
                f"lift test {t.name} was passed as {where} and is held in the registry: it is "
                "counted once, as the registry holds it"
                + (f" (over its {len(mine.geos)} treated geos)" if mine.geos else "")
                + (f"; the request's copy ({t.lift:,.0f} ± {t.stderr:,.0f}) differs from the "
                   f"registry's ({mine.lift:,.0f} ± {mine.stderr:,.0f}): record the result "
                   "again to replace it" if differs else "")
            )  # fmt: skip
            continue
        first = next(((k, held) for k, u, held in seen if _same_test(t, u)), None)
        if first is not None:
            k, held = first
            warnings.append(
                f"lift test {t.name} ({_described(t)}) is passed twice (calibration[{k}] and "
                f"{where}): it is counted once, as calibration[{k}]"
                + (", as the registry holds it" if held else "")
            )
            continue
        seen.append((i, t, False))
        kept.append(t)
    out = [*kept, *(u for j, u in enumerate(registered) if j not in used)]
    named: dict[str, list[LiftTest]] = {}
    for t in out:
        if t.name and not t.name.startswith("calibration["):
            named.setdefault(t.name, []).append(t)
    for name, tests in named.items():
        if len(tests) > 1:
            warnings.append(
                f"experiment id {name} names {len(tests)} different tests ("
                + "; ".join(_described(t) for t in tests)
                + "): each is counted as a test of its own; give each test its own "
                "experiment id so that a copy of one is not mistaken for another"
            )
    return out, warnings
