"""What the org's registered tests mean for a new design beyond usual spend: a past test's days
are not placebo noise, and geos it treated lately are named (carry-over)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest

from surfacing_svc.design import (
    DesignSpec,
    design_experiment,
    placebo_noise,
    registered,
    rerandomise,
)
from surfacing_svc.design.assignment import AssignmentMethod, make_blocks
from surfacing_svc.history import GeoHistory
from surfacing_svc.usual_spend import RegisteredTest, RegisteredTests
from tests.surfacing.worlds import geo_history

N, T0, L = 200, 100, 28


def _past_holdout(seed: int, dip: float = 0.2) -> tuple[GeoHistory, GeoHistory, RegisteredTest]:
    """A history, the same history with a 28-day holdout in every third geo from day 100 (the
    treated geos' outcome ``dip`` lower), and that test."""
    h = geo_history(n_geos=12, n_days=N, seed=seed)
    days = [d.item() for d in h.dates.astype("datetime64[D]")]
    out = h.outcome.copy()
    out[1::3, T0 : T0 + L] *= 1 - dip
    test = RegisteredTest("past", "meta", days[T0], days[T0 + L - 1], "completed", h.geos[1::3])
    return h, replace(h, outcome=out), test


def test_a_past_holdouts_days_are_not_placebo_noise() -> None:
    clean, dipped, test = _past_holdout(seed=0)
    spec = DesignSpec("meta", durations=(14, 28), rerandomisations=50, seed=0)
    blind = design_experiment(dipped, spec)
    seen = design_experiment(dipped, spec, [test])
    truth = design_experiment(clean, spec, [test])
    # Registered, the holdout's dip is not read as noise: the design is the one the history
    # would give had the test moved nothing (same windows, same geos, same spread).
    assert seen.cells[0].treatment_geos == truth.cells[0].treatment_geos
    for got, want in zip(seen.cells[0].power_curve, truth.cells[0].power_curve, strict=True):
        assert got.noise == pytest.approx(want.noise, rel=1e-9)
        assert got.placebo_windows == want.placebo_windows
    # Unregistered, the dip inflates the spread (the old behaviour).
    assert blind.cells[0].power_curve[1].noise > 1.2 * seen.cells[0].power_curve[1].noise
    (note,) = [w for w in seen.warnings if "placebo windows that meet them are left out" in w]
    left = [blind.cells[0].power_curve[k].placebo_windows - p.placebo_windows
            for k, p in enumerate(seen.cells[0].power_curve)]  # fmt: skip
    assert all(n > 0 for n in left)
    assert "past (meta, 2024-04-10..2024-05-07)" in note
    assert f"{left[0]} of {blind.cells[0].power_curve[0].placebo_windows} at 14 days" in note
    assert note in seen.registry_notes


def test_placebo_windows_meeting_a_test_are_dropped_and_its_days_skip_the_regression() -> None:
    clean, dipped, test = _past_holdout(seed=4)
    tested = registered.tested_days(clean.dates, [test])
    assert tested.sum() == L and tested[T0] and not tested[T0 - 1]
    arms = rerandomise(make_blocks(clean.outcome, n_cells=1, controls_per_block=1,
                                   method=AssignmentMethod.MATCHED_MARKETS),
                       np.random.default_rng(0), 20)  # fmt: skip
    kw = {"pre_days": 56, "durations": (14, 28), "excluded": tested, "min_windows": 14}
    a = placebo_noise(clean.outcome, arms, 1, **kw)  # type: ignore[arg-type]
    b = placebo_noise(dipped.outcome, arms, 1, **kw)  # type: ignore[arg-type]
    assert [n.raw_noise for n in a] == pytest.approx([n.raw_noise for n in b], rel=1e-12)
    # A window is left out when its test period meets the test, or more than half its
    # pre-period does: 28 days of test, 56-day pre-period, 14-day test period.
    total = N - 56 - 14 + 1
    out = sum(1 for w in range(total)
              if (w + 56 <= T0 + L - 1 and w + 56 + 14 > T0)
              or 2 * len(set(range(w, w + 56)) & set(range(T0, T0 + L))) > 56)  # fmt: skip
    assert a[0].left_out == out and a[0].n_windows == total - out and a[0].met_kept == 0
    # Too few windows outside the tests: all are kept, and the answer says the noise is high.
    days = [d.item() for d in clean.dates.astype("datetime64[D]")]
    most = RegisteredTest("long", "google", days[20], days[-20], "completed")
    spec = DesignSpec("meta", durations=(28,), rerandomisations=10)
    kept = design_experiment(clean, spec, [most])
    assert (kept.cells[0].power_curve[0].placebo_windows
            == design_experiment(clean, spec).cells[0].power_curve[0].placebo_windows)  # fmt: skip
    assert any("too few windows lie outside them, so all are used" in w for w in kept.warnings)


def test_geos_a_recent_test_treated_are_named_in_each_arm() -> None:
    h = geo_history(n_geos=12, n_days=N, seed=1)
    days = [d.item() for d in h.dates.astype("datetime64[D]")]
    spec = DesignSpec("meta", durations=(28,), rerandomisations=10)
    # The test's days, not its geos, shape the design (matching and placebo windows skip them).
    recent = RegisteredTest("recent", "tiktok", days[-60], days[-31], "completed")
    base = design_experiment(h, spec, [recent])
    geos = base.cells[0].treatment_geos[:2] + base.control_geos[:1]

    def said(t: RegisteredTest) -> list[str]:
        return [w for w in design_experiment(h, spec, [t]).warnings if "carry its effect" in w]

    (unlisted,) = said(recent)
    assert unlisted.startswith("registered experiment recent (tiktok, ended ")
    assert "lists no geos (hash-assigned)" in unlisted
    recent = replace(recent, geos=geos)
    (note,) = said(recent)
    start = days[-1] + dt.timedelta(days=1)
    assert note.startswith("registered experiment recent (tiktok, ended "
                           f"{days[-31]:%Y-%m-%d}, 31 days before the test's start "
                           f"{start:%Y-%m-%d}) moved spend (its treatment arm) in "
                           f"2 of the proposed treatment geos ({', '.join(geos[:2])}) "
                           f"and 1 of the proposed control geos ({geos[2]})")  # fmt: skip
    assert note in design_experiment(h, spec, [recent]).registry_notes
    # Ended long ago: quiet.
    assert not said(RegisteredTest("old", "tiktok", days[5], days[10], "completed", geos))
    # Still running after the history: said so; a test of geos the design does not use: quiet.
    running = RegisteredTest("live", "tiktok", days[-10], days[-1] + dt.timedelta(days=20),
                             "running", geos[:1])  # fmt: skip
    assert any("runs until" in w and geos[0] in w for w in said(running))
    elsewhere = RegisteredTest("else", "tiktok", days[-40], days[-35], "completed", ("ZZ",))
    assert not said(elsewhere)


def test_a_registered_draft_on_the_proposed_days_and_geos_is_named() -> None:
    """R26-F3: a saved-but-not-run design is invisible to business as usual, but a new design
    that meets it in days and geos says so (the same channel: the registry refuses it)."""
    h = geo_history(n_geos=12, n_days=N, seed=1)
    last = h.dates.astype("datetime64[D]")[-1].item()
    spec = DesignSpec(
        "meta", durations=(28,), rerandomisations=10, start=last + dt.timedelta(days=8)
    )
    base = design_experiment(h, spec)
    treated, control = base.cells[0].treatment_geos, base.control_geos
    # A draft whose go-dark arm is two of the proposed control geos, from the history's end.
    draft = RegisteredTest("r26-a", "google", last + dt.timedelta(days=1),
                           last + dt.timedelta(days=28), "draft", control[:2], treated[:1])  # fmt: skip

    def said(tests: RegisteredTests) -> list[str]:
        return [w for w in design_experiment(h, spec, tests).warnings if "runs on" in w]

    (note,) = said(RegisteredTests(drafts=[draft]))
    assert note.startswith(
        f"experiment r26-a (google, draft, {last + dt.timedelta(days=1):%Y-%m-%d}.."
        f"{last + dt.timedelta(days=28):%Y-%m-%d}) runs on 21 days "
    )
    assert f"{control[0]} (control here, treatment there)" in note
    assert f"{treated[0]} (treatment here, control there)" in note
    assert "registry refuses" not in note
    (same,) = said(RegisteredTests(drafts=[replace(draft, channel="meta")]))
    assert "both test meta, so each measures the other and the registry refuses" in same
    # Before the proposed start: no overlap, nothing said.
    early = replace(draft, end=last + dt.timedelta(days=7))
    assert not said(RegisteredTests(drafts=[early]))


def test_carry_over_matches_either_spelling_reads_the_arm_that_moved_and_counts_from_start() -> (
    None
):
    """R26-F1: the demo's registry spells geos "TX", the history "US-TX", so the note never
    fired; the simulator's holdout darkened its control arm (treated kept spend), which was
    never checked; and "ended N days before" was counted from the history's last day, not the
    test's start."""
    h = geo_history(n_geos=12, n_days=N, seed=1)
    h = replace(h, geos=tuple(f"US-{g}" for g in h.geos))
    days = [d.item() for d in h.dates.astype("datetime64[D]")]
    spec = DesignSpec("meta", durations=(28,), rerandomisations=10)
    base = design_experiment(h, spec)
    treated, control = base.cells[0].treatment_geos, base.control_geos
    short = [g.removeprefix("US-") for g in (*treated[:2], *control[:1])]
    # The simulator's holdout: the treated arm kept spend (x1), the control went dark (x0).
    holdout = RegisteredTest("exp_org_001_001", "meta", days[-28], days[-1], "completed",
                             ("ZZ",), tuple(short), frozenset({"treatment"}))  # fmt: skip

    def said(s: DesignSpec, t: RegisteredTest) -> list[str]:
        return [w for w in design_experiment(h, s, [t]).warnings if "carry its effect" in w]

    (note,) = said(spec, holdout)
    assert note.startswith(
        f"registered experiment exp_org_001_001 (meta, ended {days[-1]:%Y-%m-%d}, 1 day before "
        f"the test's start {days[-1] + dt.timedelta(days=1):%Y-%m-%d}) moved spend (its control "
        f"arm) in 2 of the proposed treatment geos ({', '.join(treated[:2])}) and 1 of the "
        f"proposed control geos ({control[0]})"
    )
    # Its kept-spend arm alone: nothing moved there, nothing said.
    kept = replace(holdout, geos=tuple(short), control=("ZZ",))
    assert not said(spec, kept)
    # Counted from --start: 100 days after the test ended, past the carry-over window.
    later = replace(spec, start=days[-1] + dt.timedelta(days=100))
    assert not said(later, holdout)
    (near,) = said(replace(spec, start=days[-1] + dt.timedelta(days=40)), holdout)
    assert "40 days before the test's start" in near
