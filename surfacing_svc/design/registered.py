"""What the org's registered tests mean for a new design beyond business-as-usual spend
(:mod:`surfacing_svc.usual_spend`): their days are not placebo windows, and geos they treated
lately may still carry their effect.

Placebo windows. Power is read from the spread of the TBR lift in windows of the org's own
history where nothing was done (:mod:`.power`). A window that meets a registered test's days
is not such a window: the outcome of the test's treated geos moved because of the test, not by
chance, and the move is read as noise (a holdout's dip inflates the spread, so the design asks
for a longer test than it needs). Every test that ran counts, whatever its channel: the placebo
measures the outcome, and the outcome moved in the treated geos whichever channel was treated.
A window meets a test when its pre-period or its test period holds one of the test's days (a
dip in the pre-period bends the regression as much as one in the test period). Where leaving
them out would leave fewer windows than the design needs for a duration, they are kept, and the
answer says the noise there is overstated.

Carry-over. Geos whose spend a test moved (either arm), that ended within
:data:`CARRY_OVER_DAYS` days before the new test would start (or that still runs), may carry
its effect — adstock, platform learning,
customers won or lost in the holdout — into the new test's first weeks; the answer names the
test and the geos, in the proposed treatment and in the proposed control.

Concurrent tests. A registered experiment, drafts included, whose window meets the proposed
test's days in geos where either moves spend (:func:`mesh.runtime.usual_days.overlaps`) is
named with the shared geos and days (R26-F3: a design whose control arm was another test's
go-dark arm was saved without a word); one of the same channel is what the registry refuses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from mesh.runtime.usual_days import met_units, overlap_text, overlaps
from surfacing_svc.usual_spend import RegisteredTest

from .power import DurationNoise

__all__ = ["CARRY_OVER_DAYS", "carry_over_notes", "concurrent_notes", "placebo_note", "tested_days"]

# A test that ended within this many days of a new test's start may still move its geos: a
# quarter covers the adstock half-lives an MMM fits (days to weeks) several times over.
CARRY_OVER_DAYS = 90


def tested_days(dates: np.ndarray, tests: Sequence[RegisteredTest]) -> np.ndarray:
    """Per history day (``dates``, datetime64[D]): whether a registered test ran on it."""
    day = dates.astype("datetime64[D]")
    inside = np.zeros(day.size, dtype=bool)
    for t in tests:
        inside |= (day >= np.datetime64(t.start, "D")) & (day <= np.datetime64(t.end, "D"))
    return inside


def _named(tests: Sequence[RegisteredTest]) -> str:
    return "; ".join(
        f"{t.experiment_id} ({t.channel}, {t.start:%Y-%m-%d}..{t.end:%Y-%m-%d})" for t in tests
    )


def placebo_note(
    dates: np.ndarray, tests: Sequence[RegisteredTest], noise: Sequence[DurationNoise]
) -> str:
    """The placebo windows left out (or kept) because they meet registered tests, in words;
    "" when none met one."""
    if not any(n.left_out or n.met_kept for n in noise):
        return ""
    day = dates.astype("datetime64[D]")
    first, last = day[0].item(), day[-1].item()
    met = [t for t in tests if t.start <= last and t.end >= first]
    left = [n for n in noise if n.left_out]
    kept = [n for n in noise if n.met_kept]
    said = f"the history holds the days of registered experiment(s) {_named(met)}"
    if left:
        said += (
            ": placebo windows that meet them are left out of the null spread, as the outcome "
            "moved there because of a test, not by chance ("
            + ", ".join(f"{n.left_out} of {n.left_out + n.n_windows} at {n.duration_days} days"
                        for n in left) + ")"
        )  # fmt: skip
    if kept:
        said += (
            ("; " if left else ": ")
            + "at "
            + ", ".join(f"{n.duration_days}" for n in kept)
            + " days too few windows lie outside them, so all are used and the noise there "
            "(and the duration it asks for) is overstated"
        )
    return said


def carry_over_notes(
    tests: Sequence[RegisteredTest],
    start: dt.date,
    treated: Sequence[tuple[int, Sequence[str]]],
    control: Sequence[str],
    days: int = CARRY_OVER_DAYS,
) -> list[str]:
    """A warning per registered test that started before the new test's ``start`` and ended
    within ``days`` days before it (or still runs), and moved spend in geos the design uses:
    naming the test and the geos in each proposed cell (``treated``: cell index, its geos)
    and in the proposed control. The geos are those of every arm whose spend the test moved
    (a go-dark's treated arm; the simulator's and Meta's holdout's dark control), matched in
    either spelling ("TX" for "US-TX", R26-F1: the note never fired for the demo's test)."""
    out = []
    multi = len(treated) > 1
    for t in tests:
        gap = (start - t.end).days  # 1: it ended the day before the new test starts
        if gap > days or t.start >= start:
            continue  # long over, or not started before the new test (concurrent_notes)
        when = (
            f"runs until {t.end:%Y-%m-%d}, past the test's start {start:%Y-%m-%d}"
            if gap <= 0
            else f"ended {t.end:%Y-%m-%d}, {gap} day{'s' if gap != 1 else ''} before the "
            f"test's start {start:%Y-%m-%d}"
        )
        head = f"registered experiment {t.experiment_id} ({t.channel}, {when})"
        if not (t.geos or t.control):
            out.append(f"{head} lists no geos (hash-assigned): the proposed geos may include "
                       "some whose spend it moved, whose outcome may still carry its effect")  # fmt: skip
            continue
        moved = t.moved
        parts = [
            f"{len(hit)} of the proposed treatment geos{f' of cell {k}' if multi else ''} "
            f"({', '.join(hit)})"
            for k, geos in treated
            if (hit := met_units(geos, moved))
        ]
        hit = met_units(control, moved)
        if hit:
            parts.append(f"{len(hit)} of the proposed control geos ({', '.join(hit)})")
        if parts:
            arms = " and ".join(
                f"its {arm} arm" for arm in ("treatment", "control") if arm not in t.usual_arms
            )
            out.append(
                f"{head} moved spend ({arms}) in {' and '.join(parts)}: within {days} days of "
                "a test their outcome may still carry its effect (adstock, platform learning, "
                "customers won or lost), which the new test would read as its own; start "
                "later or choose other geos"
            )
    return out


def concurrent_notes(
    tests: Sequence[RegisteredTest],
    channel: str,
    start: dt.date,
    cells: Sequence[tuple[int, Sequence[str], int]],
    control: Sequence[str],
) -> list[str]:
    """A warning per registered experiment (``tests``, drafts included) that meets a proposed
    cell (``cells``: index, treatment geos, recommended days from ``start``) in days and in
    geos where either moves spend; the proposed control runs as usual."""
    out: list[str] = []
    multi = len(cells) > 1
    for index, geos, days in cells:
        name = f"the proposed test{f' (cell {index})' if multi else ''}"
        proposed = RegisteredTest(
            "proposed", channel, start, start + dt.timedelta(days=days - 1), "proposed",
            tuple(geos), tuple(control),
        )  # fmt: skip
        for o in overlaps(proposed, tests):
            said = overlap_text(proposed, o, name=name)
            if o.same_channel(proposed):
                said += (
                    f"; both test {channel}, so each measures the other and the registry "
                    "refuses saving it: start after it ends or choose other geos"
                )
            out.append(said)
    return out
