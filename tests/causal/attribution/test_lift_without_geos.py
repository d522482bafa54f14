"""A lift test that names no geos (Robyn's lift table: channel, dates, liftAbs, spend change) is
read as the spend change it states, not as the channel going dark in every geo (audit R4 F9:
a go-dark of 6 of 12 states calibrated an iROAS of 2.0 to 1.22 with no warning)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from liftos.v1 import marketing_data_pb2 as md_pb

from causal_svc.attribution import Evaluator, LiftTest, ModelSpec, fit_mmm
from causal_svc.attribution.calibration import check_lift_tests, usable_lift_tests
from causal_svc.attribution.fit import restore_fit, state_from_bytes, state_to_bytes
from causal_svc.convert.attribution import lift_test
from causal_svc.errors import InvalidSpec
from tests.support import pickled_without

from .world import World, experiment_lift


def _iroas(fit, channel: str) -> float:
    c = fit.panel.channels.index(channel)
    return Evaluator(fit).effect(c)[0] / fit.panel.spend[c].sum()


def _cell_spend(demo: World, t: LiftTest, geos: tuple[str, ...] | None) -> float:
    p = demo.panel
    c = p.channels.index(t.channel)
    days = (p.dates >= np.datetime64(t.start)) & (p.dates <= np.datetime64(t.end))
    rows = np.array([p.geos.index(g) for g in geos] if geos is not None else range(p.n_geos))
    return float(p.spend[c][np.ix_(rows, np.flatnonzero(days))].sum())


@pytest.fixture(scope="module")
def half(demo: World) -> LiftTest:
    """The demo's geo holdout analysed on half its treated geos (the demo's channel runs only
    in the treated geos during the test, so the whole test would be all of its spend)."""
    e = demo.result.experiments[0]
    treated = sorted(e["treatment_units"])
    first = {**e, "treatment_units": treated[: len(treated) // 2]}
    r = dataclasses.replace(demo.result, experiments=[first, *demo.result.experiments[1:]])
    found = experiment_lift(r, demo.panel)
    assert found is not None
    return found[0]


@pytest.fixture(scope="module")
def without_geos(demo: World, half: LiftTest) -> LiftTest:
    """That test as Robyn records it: its treated geos' spend as the spend change, the treated
    count, no geo list."""
    return dataclasses.replace(half, geos=(), spend_change=_cell_spend(demo, half, half.geos),
                               treatment_units=len(half.geos))  # fmt: skip


def test_the_result_without_geos_carries_its_spend_change() -> None:
    r = md_pb.ExperimentResult(channel="tiktok", lift_absolute=-500.0, lift_std_error=100.0,
                               spend_delta=-250.0, treatment_unit_count=6,
                               control_unit_count=6)  # fmt: skip
    r.window.start_date.year, r.window.start_date.month, r.window.start_date.day = 2024, 9, 2
    r.window.end_date.year, r.window.end_date.month, r.window.end_date.day = 2024, 9, 29
    t = lift_test(r, "calibration[0]")
    assert (t.spend_change, t.treatment_units, t.gain) == (250.0, 6, 500.0)
    # With its geos the test is a go-dark of those geos, as before.
    assert lift_test(r, "calibration[0]", ("TX", "NY")).spend_change == 0.0


def test_a_test_without_geos_is_read_as_its_share_of_the_spend(
    demo: World, without_geos: LiftTest
) -> None:
    (p,) = check_lift_tests(demo.panel, [without_geos])
    share = without_geos.spend_change / _cell_spend(demo, without_geos, None)
    assert 0.05 < share < 0.95  # the demo's holdout is part of the channel's spend
    assert p.share == pytest.approx(share)
    assert p.geos.size == demo.panel.n_geos and p.test.counterfactual_multiplier == 0.0
    # lift and standard error ÷ share: the same likelihood term, shown back in its own units
    assert p.share * p.test.lift == pytest.approx(without_geos.lift)
    assert p.share * p.test.stderr == pytest.approx(without_geos.stderr)
    assert "names no geos" in p.note and f"{share:.0%}" in p.note
    assert f"{without_geos.treatment_units} treated unit(s)" in p.note


def test_it_calibrates_as_the_test_with_its_geos_does(
    demo: World, half: LiftTest, without_geos: LiftTest
) -> None:
    with_geos = _iroas(fit_mmm(demo.panel, ModelSpec(), [half]), half.channel)
    read = _iroas(fit_mmm(demo.panel, ModelSpec(), [without_geos]), half.channel)
    # before the fix: the same test as a go-dark of every geo
    every_geo = dataclasses.replace(without_geos, spend_change=0.0)
    old = _iroas(fit_mmm(demo.panel, ModelSpec(), [every_geo]), half.channel)
    assert abs(read - with_geos) < 0.5 * abs(old - with_geos), (read, with_geos, old)
    assert abs(read - with_geos) <= 0.25 * with_geos, (read, with_geos)


def test_a_spend_change_above_the_channels_spend_is_refused_or_skipped(
    demo: World, without_geos: LiftTest
) -> None:
    spent = _cell_spend(demo, without_geos, None)
    too_big = dataclasses.replace(without_geos, spend_change=1.5 * spent)
    with pytest.raises(InvalidSpec) as info:
        check_lift_tests(demo.panel, [too_big])
    assert info.value.field == "calibration[0].spend_delta"
    assert f"more than {without_geos.channel}'s spend" in info.value.message
    kept, warnings = usable_lift_tests(demo.panel, [too_big])
    assert kept == [] and "cannot be read as a change of that spend" in warnings[0]
    # all of it going dark (rounded up a little) is the channel dark in every geo
    (p,) = check_lift_tests(demo.panel, [dataclasses.replace(without_geos, spend_change=spent)])
    assert p.share == 1.0 and p.test.lift == pytest.approx(without_geos.lift)


def test_a_state_stored_before_the_spend_change_restores(demo: World) -> None:
    """Stored analyses pickled LiftTest without ``spend_change`` and ``treatment_units``:
    they restore with the multiplier they were fitted with."""
    exp = demo.experiment
    assert exp is not None
    fit = fit_mmm(demo.panel, ModelSpec(), [exp])
    # the layout a build of that time wrote: the fields added after them absent too (a slots
    # dataclass unpickles by position, and a layout no build wrote is refused: 652ce53)
    absent = ("spend_change", "treatment_units", "counterfactual_spend", "spend_added",
              "spend_removed")  # fmt: skip
    with pickled_without(LiftTest, absent):
        blob = state_to_bytes(fit.state())
    restored = state_from_bytes(blob)
    (t,) = restored.lift_tests
    assert (t.spend_change, t.treatment_units, t.df, t.geos) == (0.0, 0, exp.df, exp.geos)
    np.testing.assert_array_equal(restore_fit(restored).theta, fit.theta)
