"""Counterfactual outcomes under a changed spend plan, read from a fitted model's curves.

A plan names channels and, for each, a multiplier of the spend as run or an absolute spend
over the window. The window is a span of the analysed days (default all of them), or the next
``future_days`` days, which are taken to look like the last ``future_days`` analysed days
(baseline demand and each channel's spend pattern repeat; the plan scales the spend; a warning
names the template days and says the outcome there is not a forecast) — or,
where those days meet a registered experiment's test window, like the latest ``future_days``
consecutive days clear of every test (:func:`mesh.runtime.usual_days.usual_window`, the rule
PredictPerformance's business-as-usual spend keeps; R10-F1: a finished geo holdout read as
"the next 28 days" halved the loss of switching its channel off), and a warning says so.

The outcome change is evaluated over the window plus the carry-over that follows it inside
the data, so cutting spend at the end of a window still loses the sales it would have carried
into the next days. Changes add over channels (each channel adds its own share of baseline
demand), so a plan's delta is the sum of the channels' deltas and its interval comes from the
summed gradient — widened where the plan rests on a channel whose effect is not established.

Why, and how. A channel's change is exactly zero when its effect is (``β_c = 0`` makes its
carry-over and saturation shape irrelevant), so an interval of the change that excludes zero
claims the channel has an effect: the claim the attribution table lets stand only where
Hansen's (1996, Econometrica 64(2)) sup-score test of "no effect" rejects
(:mod:`.null_test`; the delta-method interval treats the fitted shape as known, which at zero
effect the data do not identify — Davies' problem). The plan uses the same decisions:

- A channel's change whose delta-method interval excludes zero in the direction of the change
  (a loss for a cut, a gain for a raise; effects are non-negative, so no other sign can be
  claimed) keeps that only where the test rejects at the interval's one-sided level,
  ``(1 − level) / 2``. Otherwise the bound nearest zero goes to zero: the interval becomes the
  delta-method one joined with {0}, whose coverage at zero effect is the test's.
- The plan's total joins, over every subset ``Z`` of the changed channels whose effect is not
  established (their own interval includes no change, or the test does not reject), the
  delta-method interval of the sum over the other channels (:func:`.inference.union_of_sums`).
  Whichever of those channels truly do nothing, the interval right for that truth is inside.
  So a plan whose every changed channel is unestablished gets an interval that includes zero
  (``Z`` = all of them). With an established channel changed, the subset that leaves only it
  excludes zero; the total itself may still include it (``Z`` empty: the plain interval).
- The decisions are per channel at the interval's level, as the table's are: at the table's
  level and over its window, "without X" claims a loss exactly where the table calls X
  significant. A plan of ``k`` channels that all do nothing is called non-zero only where one
  of them is, at most ``k`` times one channel's rate (Bonferroni): the multiplicity a reader
  of ``k`` rows of the table already has.
- The decisions are the stored analysis's (the tests its table ran, :func:`plan`'s ``tests``);
  a channel its table did not test (no interval of its row claimed an effect) is tested here,
  with the bootstrap's fixed seed, so the decision is the one the analysis would have made. A
  stored test is reused at any level and over any window: it tests ``β_c = 0``, which neither
  changes.
- Instrumented fits: the test is not available (:mod:`.null_test`); changes keep the
  delta-method interval and the warnings say so.

Point estimates are never changed; every widening is named in the result's ``warnings``.

Intervals also keep to the sign the model allows: a channel's response rises with its spend
(non-negative effects, increasing adstock and Hill terms), so a cut cannot add outcome nor a
raise lose it. The delta-method interval, symmetric about the estimate, can cross zero into
the impossible side; it is cut at zero there (the truth, if the model's shape holds, is never
on that side, so coverage cannot fall), as the attribution table's intervals are. For the same
reason a larger raise of one channel gains at least as much as a smaller one, so a raise's
lower bound is held at least at a smaller raise's (:func:`_monotone`; R47 F3: the delta-method
lower bound fell from +126,713 at ×2 to 0 at ×5, its stderr growing faster than the estimate
off the data). A plan that
cuts some channels and raises others has no sign of its own to keep; its total is instead held
inside the sum of its rows' bounds (:func:`_within_rows`), so it never reaches a value that the
rows, each cut to its own sign, rule out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from causal_svc.errors import InvalidSpec
from mesh.runtime.spend_moves import SAME_SPEND_RTOL  # a multiplier this near 1 is no move
from mesh.runtime.usual_days import RegisteredTest, usual_window

from .fit import FitState, restore_fit
from .health import ChannelIdentification, channel_identification
from .inference import Evaluator, Interval
from .null_test import NullTest

__all__ = ["ChannelChange", "CounterfactualResult", "SpendChange", "counterfactual", "plan"]

# Beyond this multiple of a channel's spend (its input, for a channel without spend) in the
# window the curve is extrapolation, and the answer says so — as OptimizeBudget's plans do.
EXTRAPOLATION_RATIO = 2.0
# The largest multiple a plan may ask for, as PredictPerformance's multipliers: far beyond it a
# saturating curve's answer is its asymptote, and 1e308 overflows the spend to inf.
MAX_MULTIPLIER = 100.0
# A raise's lower bound is held to those of the smaller raises of the same channel by these
# steps (multiplier 1 + step; :func:`_monotone`): dense near no move, where the delta-method
# bound of a weakly shaped channel peaks before its stderr outgrows the estimate, and the same
# for every plan, so two plans' bounds are held to the same points. Between them the bound may
# still dip, by a second-order amount.
RAISE_STEPS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0)


@dataclass(frozen=True, slots=True)
class SpendChange:
    """One channel's new spend: a multiplier of the spend as run, or an absolute amount."""

    channel: str
    multiplier: float | None = None
    spend: float | None = None


@dataclass(frozen=True, slots=True)
class ChannelChange:
    channel: str
    reference_spend: float
    counterfactual_spend: float
    delta: Interval


@dataclass(frozen=True, slots=True)
class CounterfactualResult:
    """The outcome over the evaluated days as observed (reference) and under the plan."""

    start: dt.date
    end: dt.date
    evaluated_days: int
    reference_outcome: Interval
    counterfactual_outcome: Interval
    delta: Interval
    channels: tuple[ChannelChange, ...]
    # Which intervals the test of no effect widened (or could not check), and why.
    warnings: tuple[str, ...] = ()


def _window(
    ev: Evaluator,
    start: dt.date | None,
    end: dt.date | None,
    future_days: int,
    tests: Sequence[RegisteredTest] = (),
) -> tuple[int, int, str]:
    """The changed days [a, b) and, when the period was clipped to the data or a future
    window's template skips registered test windows, a warning."""
    panel = ev.fit.panel
    if future_days:
        if future_days < 1 or future_days > panel.n_days:
            raise InvalidSpec(
                f"future window must be 1..{panel.n_days} days (the analysed period), got "
                f"{future_days}",
                field="future_days",
            )
        usual = usual_window(panel.dates, tests, future_days)
        a, b = int(usual.index[0]), int(usual.index[-1]) + 1
        # R13-F2: the template's outcome is what those days sold, not a forecast of the next
        # ones (a template in peak season reads high, and its interval has no baseline term).
        first, last = (str(d)[:10] for d in panel.dates[[a, b - 1]])
        template = (
            f"the next {future_days} days are taken to repeat {first}..{last} as run: the "
            "outcomes are those days' demand with the plan's change, not a forecast, and their "
            "interval holds only the media change's uncertainty; PredictPerformance (`liftos "
            "predict`) forecasts the next days' outcome with the baseline's uncertainty"
        )
        return a, b, f"{usual.note}; {template}" if usual.note else template
    first, last = panel.dates[0], panel.dates[-1]
    lo = first if start is None else np.datetime64(start, "D")
    hi = last if end is None else np.datetime64(end, "D")
    if lo > last or hi < first or hi < lo:
        raise InvalidSpec(
            f"reference period {start}..{end} is outside the analysed period {first}..{last}",
            field="reference_period",
        )
    # Days after the data are the future's, which future_days answers on its own terms (the
    # last days repeated); clipping them would answer a shorter question than was asked.
    if hi > last:
        raise InvalidSpec(
            f"reference period {start}..{end} ends after the analysed period {first}..{last}: "
            f"end it by {last}, or ask for the next days with future_days",
            field="reference_period",
        )
    note = ""
    if lo < first:  # "since January" on data that starts later: the days there are
        note = (f"the reference period starts {start}, before the analysed period; the plan "
                f"changes spend from {first}, the first analysed day")  # fmt: skip
        lo = first
    a = int((lo - first).astype(np.int64))
    return a, int((hi - first).astype(np.int64)) + 1, note


def counterfactual(
    ev: Evaluator,
    changes: Sequence[SpendChange],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    future_days: int = 0,
    tests: Sequence[RegisteredTest] = (),
    identification: ChannelIdentification | None = None,
) -> CounterfactualResult:
    """The outcome under ``changes`` with an interval (``tests``: the org's registered
    experiments, whose windows a future template keeps out of; ``identification``: the
    analysis's own channel identification, computed from ``ev.fit`` when None).

    Raises
    ------
    InvalidSpec
        No change, an unknown channel, a channel named twice, a negative or non-finite
        multiplier or spend, a change beyond ``MAX_MULTIPLIER`` times the window's spend, both
        or neither of multiplier and spend, a window outside the analysed period or ending
        after it, or an absolute spend for a channel with no spend in the window.
    """
    panel = ev.fit.panel
    if not changes:
        raise InvalidSpec("a counterfactual needs at least one spend change", field="changes")
    a, b, clipped = _window(ev, start, end, future_days, tests)
    # Future windows are evaluated on their template days only; past ones keep their tail.
    until = b if future_days else min(panel.n_days, b + ev.fit.spec.max_lag)
    seen: set[str] = set()
    level = ev.fit.spec.interval_level
    values: list[float] = []
    grads: list[np.ndarray] = []
    unestablished: list[bool] = []
    moves: list[float] = []  # each change's direction: multiplier − 1
    dfs: list[float] = []
    warnings: list[str] = [clipped] if clipped else []
    out = []
    for i, ch in enumerate(changes):
        field = f"changes[{i}]"
        c = panel.channel_index(ch.channel, field_name=f"{field}.channel")
        if ch.channel in seen:
            raise InvalidSpec(f"channel {ch.channel!r} is changed twice", field=f"{field}.channel")
        seen.add(ch.channel)
        if (ch.multiplier is None) == (ch.spend is None):
            raise InvalidSpec(
                "give exactly one of multiplier and spend", field=f"{field}.multiplier"
            )
        ref_spend = float(panel.spend[c][:, a:b].sum())
        ref_input = float(panel.media[c][:, a:b].sum())
        if ch.multiplier is not None:
            mult = float(ch.multiplier)
            if not (np.isfinite(mult) and mult >= 0):
                raise InvalidSpec(
                    f"multiplier must be >= 0, got {mult}", field=f"{field}.multiplier"
                )
        else:
            target = float(ch.spend)  # type: ignore[arg-type]
            if not (np.isfinite(target) and target >= 0):
                raise InvalidSpec(f"spend must be >= 0, got {target}", field=f"{field}.spend")
            if ref_spend <= 0:
                raise InvalidSpec(
                    f"channel {ch.channel!r} has no spend in the window to rescale; use a "
                    "multiplier of its impressions",
                    field=f"{field}.spend",
                )
            mult = target / ref_spend
        if ref_input <= 0 or abs(mult - 1.0) <= SAME_SPEND_RTOL:
            mult = 1.0
        if mult > MAX_MULTIPLIER:
            what = "multiplier" if ch.spend is None else "spend"
            raise InvalidSpec(
                f"{ch.channel}: the plan is {mult:.3g}× the channel's "
                f"{'spend' if ref_spend > 0 else 'input'} in the window; at most "
                f"{MAX_MULTIPLIER:g}× (its response curve is extrapolation well before that)",
                field=f"{field}.{what}",
            )
        if mult > EXTRAPOLATION_RATIO:
            warnings.append(
                f"{ch.channel}: the plan is {mult:.1f}× its {'spend' if ref_spend > 0 else 'input'}"
                " in the window, beyond what the model saw; its curve there is extrapolation"
            )
        # effect() is outcome(as run) − outcome(multiplied): the plan's delta is its negative.
        value, g = ev.effect(c, a=a, b=b, multiplier=mult, until=until)
        dfs.append(ev.df(g))
        wald = ev.interval(-value, -g, floor=None, df=dfs[-1])
        interval, established, note = _gate(ev, c, ch.channel, wald, mult)
        interval = _signed(interval, mult - 1.0)
        interval, established = _monotone(ev, c, ch.channel, mult, interval, established,
                                          a=a, b=b, until=until)  # fmt: skip
        moves.append(mult - 1.0)
        values.append(-value)
        grads.append(-g)
        unestablished.append(mult != 1.0 and not established)
        if note:
            warnings.append(note)
        out.append(ChannelChange(ch.channel, ref_spend, ref_spend * mult, interval))
    found = identification if identification is not None else channel_identification(ev.fit)
    forced = _unidentified(ev, found, changes, out, moves, unestablished, warnings, a=a, b=b,
                           until=until)  # fmt: skip
    reference = float(panel.outcome[:, a:until].sum())
    # Unchanged channels (multiplier 1, or no input to scale) add exactly nothing; left in,
    # their degrees of freedom would still narrow the quantile of every sum they join.
    moved = [i for i, m in enumerate(moves) if m != 0.0] or list(range(len(moves)))
    delta, widened = ev.total(np.array(values)[moved], np.array(grads)[moved],
                              np.array(unestablished)[moved], np.array(dfs)[moved])  # fmt: skip
    delta = _signed(delta, 1.0 if min(moves) >= 0 else -1.0 if max(moves) <= 0 else 0.0)
    delta = _within_rows(delta, [o.delta for o in out])
    if forced:  # rows bounded only by their group's change: the total holds their sum
        lo, hi = sum(o.delta.lower for o in out), sum(o.delta.upper for o in out)
        delta = replace(delta, lower=min(delta.lower, lo), upper=max(delta.upper, hi))
    if widened and len(out) > 1:
        names = ", ".join(o.channel for o, u in zip(out, unestablished, strict=True) if u)
        warnings.append(
            f"the plan's {level:.0%} interval is widened to hold the outcome should {names} "
            "have no effect: none of theirs is established (each one's own interval includes "
            "no change, or the test of no effect does not reject)"
        )
    cf = Interval(reference + delta.estimate, delta.stderr, reference + delta.lower,
                  reference + delta.upper, delta.level)  # fmt: skip
    ref = Interval(reference, 0.0, reference, reference, delta.level)
    day = [dt.date.fromisoformat(str(d)) for d in panel.dates[[a, b - 1]]]
    return CounterfactualResult(day[0], day[1], until - a, ref, cf, delta, tuple(out),
                                tuple(warnings))  # fmt: skip


def _unidentified(
    ev: Evaluator,
    found: ChannelIdentification,
    changes: Sequence[SpendChange],
    rows: list[ChannelChange],
    moves: Sequence[float],
    unestablished: list[bool],
    warnings: list[str],
    *,
    a: int,
    b: int,
    until: int,
) -> bool:
    """Rows of channels the analysis marks not identified (:func:`.health.channel_identification`,
    its table's "(not identified)" and recommend's "test it"), widened and named in
    ``warnings`` in place; True when the plan's total must hold the rows' sum (audit R30 F7:
    "display off: 0 [-9.9M, 0]" and "video off: -13.3M [-20.1M, -6.5M]" on two channels with
    one spend series, no warning).

    What a planner can be told. A channel whose spend moves with others' is bounded by its
    group: changes add over channels and each has the sign of its move, so one channel's
    change lies between no change and the whole group's change at the same multiplier, which
    the data do identify; the row becomes that (its estimate, an arbitrary split, is kept
    and said to be so), and the warning names the partners to move with it. A channel with
    too little spend variation or spend has no such bound: its row is the prior's, joined with
    no change and counted as unestablished, so the total allows for it doing nothing. Not a
    refusal: a plan moving such a channel with others still needs an answer, and the warning
    says what would measure it (a lift test)."""
    bad = set(found.unidentified)
    if not bad:
        return False
    panel = ev.fit.panel
    plan = {c.channel: 1.0 + m for c, m in zip(changes, moves, strict=True)}
    forced = False
    named: set[tuple[frozenset[str], float]] = set()
    for i, (ch, move) in enumerate(zip(changes, moves, strict=True)):
        name = ch.channel
        if move == 0.0 or name not in bad:
            continue
        why = found.reason(name)
        partners = [p for p in found.partners(name) if panel.spend[panel.channels.index(p)].any()]
        row = rows[i].delta
        if not partners:
            unestablished[i] = True
            rows[i] = replace(rows[i], delta=_joined(row, 0.0, 0.0))
            warnings.append(
                f"{name} is not identified ({why}): its change is the model's prior, not a "
                f"measurement, and its interval includes no change; a lift test (liftos design) "
                "measures it"
            )
            continue
        mult = 1.0 + move
        together = all(abs(plan.get(p, 1.0) - mult) <= SAME_SPEND_RTOL for p in partners)
        group = [name, *partners]
        key = (frozenset(group), mult)
        joint = _group_change(ev, [panel.channels.index(p) for p in group], mult,
                              a=a, b=b, until=until)  # fmt: skip
        rows[i] = replace(rows[i], delta=_joined(row, joint.lower, joint.upper))
        if key in named:  # the group moved together: one warning says it for every member
            continue
        named.add(key)
        both = " and ".join(group) if len(group) == 2 else ", ".join(group)
        whose = "each one's" if together else "its"
        text = (f"{name} is not identified apart from {', '.join(partners)} ({why}): {whose} "
                "row is only bounded by no change and the group's joint change at the same "
                f"multiplier, {round(joint.estimate):,} [{joint.lower:,.0f}, {joint.upper:,.0f}], "
                f"and {'their estimates are' if together else 'its estimate is'} an arbitrary "
                "split of that")  # fmt: skip
        if together:
            text += f"; the plan moves {both} together, so its total is identified"
        else:
            forced = True
            sets = " ".join(f"--set {p}={mult:g}" for p in group)
            text += f"; move {both} by the same multiplier for a change the data identify ({sets})"
        warnings.append(text)
    return forced


def _group_change(
    ev: Evaluator, channels: Sequence[int], mult: float, *, a: int, b: int, until: int
) -> Interval:
    """The change of moving every one of ``channels`` by ``mult``, with the interval a plan
    of that move gets (each channel gated by the test of no effect, the total joined over
    the unestablished ones), so a row it bounds agrees with the plan that moves them all."""
    values, grads, dfs, loose = [], [], [], []
    for c in channels:
        v, g = ev.effect(c, a=a, b=b, multiplier=mult, until=until)
        dfs.append(ev.df(g))
        wald = ev.interval(-v, -g, floor=None, df=dfs[-1])
        loose.append(not _gate(ev, c, ev.fit.panel.channels[c], wald, mult)[1])
        values.append(-v)
        grads.append(-g)
    total, _ = ev.total(np.array(values), np.array(grads), np.array(loose), np.array(dfs))
    return _signed(total, mult - 1.0)


def _monotone(
    ev: Evaluator,
    c: int,
    name: str,
    mult: float,
    interval: Interval,
    established: bool,
    *,
    a: int,
    b: int,
    until: int,
) -> tuple[Interval, bool]:
    """A raise's change, its lower bound held at least at that of every smaller raise of the
    same channel on ``RAISE_STEPS``; and whether the change is established (see the module
    docstring). Cuts are left as they are.

    Why: the gain grows with the raise in every parameter value the model allows, so "×2 gains
    at least L" implies "×3 gains at least L". The delta-method bound, symmetric about the
    estimate, need not follow: off the data its stderr can grow faster than the estimate (R47
    F3, "×2 at least +126,713, ×3 at least +52,885, ×5 at least 0"). Each smaller raise's bound
    is the one that raise's own answer gives (gated and cut to its sign), so the envelope
    claims nothing a user could not have read off a smaller plan; the estimate and the upper
    bound stay. A cut stays inside the data, where the bounds follow the cut's depth (to ~2 %
    on the demo world), and "without X" must keep the attribution table's row exactly.
    """
    if mult <= 1.0 or interval.estimate == 0.0:  # not a raise, or no effect at the estimate
        return interval, established
    lower = interval.lower
    for m in 1.0 + np.array([x for x in RAISE_STEPS if x < mult - 1.0]):
        value, g = ev.effect(c, a=a, b=b, multiplier=float(m), until=until)
        wald = ev.interval(-value, -g, floor=None, df=ev.df(g))
        gated, kept, _ = _gate(ev, c, name, wald, float(m))
        if wald.lower > 0.0 and not kept:
            break  # the test of no effect does not reject: no raise of this channel can claim
        lower = min(max(lower, _signed(gated, 1.0).lower), interval.estimate)
    return replace(interval, lower=lower), established or lower > 0.0


def _joined(interval: Interval, lower: float, upper: float) -> Interval:
    """``interval`` widened to hold ``[lower, upper]`` and no change."""
    return replace(interval, lower=min(interval.lower, lower, 0.0),
                   upper=max(interval.upper, upper, 0.0))  # fmt: skip


def _signed(interval: Interval, direction: float) -> Interval:
    """``interval`` cut at zero on the side a change in ``direction`` (its sign: a raise,
    a cut, or 0 for none or both) cannot reach; see the module docstring."""
    if direction > 0 and interval.lower < 0:
        return replace(interval, lower=0.0, upper=max(interval.upper, 0.0))
    if direction < 0 and interval.upper > 0:
        return replace(interval, upper=0.0, lower=min(interval.lower, 0.0))
    return interval


def _within_rows(total: Interval, rows: Sequence[Interval]) -> Interval:
    """The plan's total with its bounds held inside ``[Σ rows' lower, Σ rows' upper]``.

    Why the sum of the rows' bounds as the outer limits: whenever every row holds its
    channel's change, the total lies within their sum, and a row cut at zero by its sign
    (a raise cannot lose, a cut cannot gain) carries that restriction into the total — which
    the total's own interval, symmetric about a sum of opposite-signed changes, does not (it
    could say a plan loses more than its cuts can lose). Elsewhere the limits do not bind: the
    sum of the rows' half-widths is at least the sum's (Minkowski). The estimate is unchanged.
    """
    lo = sum(r.lower for r in rows)
    hi = sum(r.upper for r in rows)
    lower = min(max(total.lower, lo), total.estimate)
    upper = max(min(total.upper, hi), total.estimate)
    return replace(total, lower=lower, upper=upper)


def _gate(
    ev: Evaluator, channel: int, name: str, wald: Interval, mult: float
) -> tuple[Interval, bool, str]:
    """A channel's change interval under the test of no effect (see the module docstring):
    the interval, whether the change is established, and the warning, if any. The decision is
    the table's own (:meth:`.Evaluator.claim`), on the change read in its claimed direction."""
    if mult == 1.0:
        return wald, False, ""
    sign = -1.0 if mult < 1.0 else 1.0  # a cut claims a loss, a raise a gain
    claim = wald.scaled(sign)
    if claim.lower <= 0.0:
        return wald, False, ""
    kept, test = ev.claim(channel, claim)
    if test is None:
        note = (
            f"{name}: the {wald.level:.0%} interval of the change is the delta-method one: the "
            "test of no effect that allows for the channel's carry-over and saturation shape "
            "(Hansen's sup-score) is not available for instrumented (two-stage least squares) "
            "fits, so this interval does not allow for that shape being unidentified at zero "
            "effect"
        )
        return wald, True, note
    if kept.lower > 0.0:
        return wald, True, ""
    what = "loss" if mult < 1.0 else "gain"
    note = (
        f"{name}: the {wald.level:.0%} interval of the change is widened to include no "
        f"{what}: a test of no effect that allows for the channel's carry-over and saturation "
        f"shape, which zero effect leaves unidentified, does not reject (p = "
        f"{test.p_value:.3g}, sup-score over {test.shapes} shapes); the attribution table holds "
        "this channel's lower bound at 0 for the same reason"
    )
    return kept.scaled(sign), False, note


def plan(
    state: FitState,
    changes: Sequence[SpendChange],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    future_days: int = 0,
    level: float | None = None,
    tests: Mapping[str, NullTest] | None = None,
    registered: Sequence[RegisteredTest] = (),
) -> CounterfactualResult:
    """:func:`counterfactual` on a stored fit (at interval ``level``, default the fit's);
    ``tests``: the sup-score tests of no effect the analysis's scores ran, by channel name
    (reused, not re-run; channels the fit does not have are ignored); ``registered``: the
    org's registered experiments (a future window's template keeps out of their windows)."""
    if level is not None:
        state = replace(state, spec=replace(state.spec, interval_level=level))
    names = state.panel.channels
    known = {names.index(n): t for n, t in (tests or {}).items() if n in names}
    # the analysis's own findings, stored with it (a Jacobian and a pinv per request saved;
    # the interval level does not enter them); an older state's are computed here
    stored = state.identification
    found = stored if isinstance(stored, ChannelIdentification) else None
    return counterfactual(Evaluator(restore_fit(state), known), changes, start=start, end=end,
                          future_days=future_days, tests=registered,
                          identification=found)  # fmt: skip
