"""A recorded lift is read as PyMC-Marketing reads it (``x`` = spend_baseline, the usual spend;
``delta_x`` = spend_delta; the cell ran ``x + delta_x``), whichever way the spend moved (audit
R26): a heavy-up's positive lift calibrates (F11: refused as "a significantly negative lift"),
a cut to ×m is compared at the usual spend and ×m (not ×m and ×m²), and a go-dark whose treated
geos are the dark ones, as ``liftos design`` registers it, calibrates (F6: dropped as "no media
in its geos and window")."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from causal_svc.attribution import Evaluator, LiftTest, ModelSpec, fit_mmm
from causal_svc.attribution.calibration import check_lift_tests
from causal_svc.attribution.objective import lift_data
from causal_svc.convert.attribution import lift_test
from causal_svc.errors import ContradictoryCalibration, InvalidSpec

from .world import World


def _result(
    lift: float, base: float, delta: float, spend: float | None = None
) -> md_pb.ExperimentResult:
    r = md_pb.ExperimentResult(channel="tiktok", lift_absolute=lift, lift_std_error=lift / 4 or 1.0,
                               spend_baseline=base, spend_delta=delta)  # fmt: skip
    if spend is not None:
        r.spend.CopyFrom(common_pb.Money(amount=spend))
    r.window.start_date.year, r.window.start_date.month, r.window.start_date.day = 2024, 1, 1
    r.window.end_date.year, r.window.end_date.month, r.window.end_date.day = 2024, 1, 28
    return r


def test_a_heavy_up_is_compared_with_its_usual_spend() -> None:
    """+50,000 on a usual 50,000 ran 100,000: the counterfactual is half the spend as run, and
    the 100,000 it added is the lift as run minus counterfactual."""
    t = lift_test(_result(100_000.0, 50_000.0, 50_000.0), "calibration[0]")
    assert t.counterfactual_multiplier == pytest.approx(0.5)
    assert t.lift == 100_000.0 and t.gain == 100_000.0 and not t.raises


@pytest.mark.parametrize("lift", [-30_000.0, 30_000.0])
def test_a_cut_is_compared_at_the_usual_spend(lift: float) -> None:
    """A cut from 100,000 to 50,000 (×0.5) that cost 30,000 (stated as PyMC's delta_y, −30,000,
    or as its size): the counterfactual is 2× the spend as run, so the model is asked for
    f(usual) − f(×0.5), not f(×0.5) − f(×0.25)."""
    t = lift_test(_result(lift, 100_000.0, -50_000.0), "calibration[0]")
    assert t.counterfactual_multiplier == pytest.approx(2.0)
    assert t.lift == -30_000.0 and t.gain == 30_000.0 and t.raises


def test_a_go_dark_restores_its_usual_spend() -> None:
    t = lift_test(_result(-30_000.0, 80_000.0, -80_000.0), "calibration[0]")
    assert t.counterfactual_spend == 80_000.0 and t.lift == -30_000.0 and t.gain == 30_000.0


def test_a_cell_that_ran_as_usual_keeps_its_reading() -> None:
    """EstimateEffect's holdout whose control went dark: spend as run = the baseline, the
    counterfactual takes spend_delta from it, the lift is already as run minus counterfactual."""
    t = lift_test(_result(40_000.0, 80_000.0, -80_000.0, spend=80_000.0), "calibration[0]")
    assert t.counterfactual_multiplier == 0.0 and t.counterfactual_spend == 0.0
    assert t.lift == 40_000.0
    noise = lift_test(_result(-4_000.0, 80_000.0, -80_000.0, spend=80_000.0), "calibration[0]")
    assert noise.lift == -4_000.0 and noise.gain == -4_000.0


def _window(demo: World, t: LiftTest) -> tuple[int, int]:
    days = np.flatnonzero((demo.panel.dates >= np.datetime64(t.start))
                          & (demo.panel.dates <= np.datetime64(t.end)))  # fmt: skip
    return int(days[0]), int(days[-1]) + 1


def _spend(demo: World, t: LiftTest, geos: tuple[str, ...], a: int, b: int) -> float:
    p = demo.panel
    rows = [p.geos.index(g) for g in geos]
    return float(p.spend[p.channels.index(t.channel)][rows, a:b].sum())


@pytest.fixture(scope="module")
def dark(demo: World) -> LiftTest:
    """The demo's holdout registered the go-dark way: treated = the control geos, where the
    channel ran nothing over the test; its lift the treated arm's per resident, negative (the
    dark cell's outcome minus with its usual spend), its usual spend that of the 28 days
    before, as EstimateEffect's record gives both."""
    exp = demo.experiment
    assert exp is not None
    e = demo.result.experiments[0]
    pop = dict(zip(demo.panel.geos, demo.panel.population, strict=True))
    control = tuple(e["control_units"])
    per = sum(pop[g] for g in control) / sum(pop[g] for g in exp.geos)
    a, b = _window(demo, exp)
    assert _spend(demo, exp, control, a, b) == 0.0  # the control arm went dark
    usual = _spend(demo, exp, control, a - (b - a), a)
    r = _result(-exp.lift * per, usual, -usual, spend=0.0)
    r.channel, r.lift_std_error, r.experiment_id = exp.channel, exp.stderr * per, "dark"
    r.window.start_date.year, r.window.start_date.month, r.window.start_date.day = (
        exp.start.year, exp.start.month, exp.start.day)  # fmt: skip
    r.window.end_date.year, r.window.end_date.month, r.window.end_date.day = (
        exp.end.year, exp.end.month, exp.end.day)  # fmt: skip
    return lift_test(r, "registry:dark", control)


def _iroas(fit, channel: str) -> float:
    c = fit.panel.channels.index(channel)
    return Evaluator(fit).effect(c)[0] / fit.panel.spend[c].sum()


def test_a_dark_cell_calibrates_as_its_mirror_does(demo: World, demo_fit, dark: LiftTest) -> None:
    """The same test read on its dark geos moves the channel as the one read on the geos that
    kept spending does, towards the truth (demo seed 0: uncalibrated 2.34, treated arm 1.54,
    dark arm 1.56, truth 1.60)."""
    exp = demo.experiment
    assert exp is not None
    (prepared,) = check_lift_tests(demo.panel, [dark])
    assert prepared.counterfactual is not None and "took them dark" in prepared.note
    (data,) = lift_data(demo.panel, [prepared], ModelSpec().max_lag)
    assert data.lags_cf is not None and data.lags_cf[0][:, data.a : data.b].min() > 0
    fit = fit_mmm(demo.panel, ModelSpec(), [dark])
    treated = fit_mmm(demo.panel, ModelSpec(), [exp])
    truth = demo.true_iroas[exp.channel]
    assert fit.lift_predictions[0] < 0  # dark minus restored
    assert abs(_iroas(fit, exp.channel) - truth) < abs(_iroas(demo_fit, exp.channel) - truth)
    assert _iroas(fit, exp.channel) == pytest.approx(_iroas(treated, exp.channel), rel=0.15)


def test_a_dark_cell_without_a_pre_period_is_refused(demo: World, dark: LiftTest) -> None:
    """Nothing in the analysed period says how its geos ran the channel before the test."""
    p = demo.panel
    a, _ = _window(demo, dark)
    c = p.channels.index(dark.channel)
    rows = [p.geos.index(g) for g in dark.geos]
    media = p.media.copy()
    media[c][np.ix_(rows, np.arange(a))] = 0.0
    with pytest.raises(InvalidSpec) as info:
        check_lift_tests(dataclasses.replace(p, media=media), [dark])
    assert info.value.field == "calibration[0].window" and "before the test" in info.value.message


def test_a_heavy_up_with_a_positive_lift_calibrates(demo: World) -> None:
    """The treated arm's spend as run recorded as a heavy-up of +100% on half of it: its
    positive lift is accepted (F11) and the model is asked for as run minus half of it; a
    significantly negative one is refused with a message that says so."""
    exp = demo.experiment
    assert exp is not None
    a, b = _window(demo, exp)
    ran = _spend(demo, exp, exp.geos, a, b)
    r = _result(exp.lift / 2, ran / 2, ran / 2)
    r.channel, r.lift_std_error = exp.channel, exp.stderr / 2
    r.window.CopyFrom(_window_proto(exp))
    up = lift_test(r, "registry:up", exp.geos)
    (prepared,) = check_lift_tests(demo.panel, [up])
    assert prepared.test.counterfactual_multiplier == pytest.approx(0.5)
    r.lift_absolute = -10 * r.lift_std_error
    with pytest.raises(ContradictoryCalibration) as info:
        check_lift_tests(demo.panel, [lift_test(r, "registry:up", exp.geos)])
    assert "significantly lower with more of" in info.value.message


def _window_proto(t: LiftTest) -> common_pb.DateRange:
    w = common_pb.DateRange()
    w.start_date.year, w.start_date.month, w.start_date.day = (
        t.start.year,
        t.start.month,
        t.start.day,
    )
    w.end_date.year, w.end_date.month, w.end_date.day = t.end.year, t.end.month, t.end.day
    return w


def test_a_cut_cell_is_compared_at_the_spend_it_was_cut_from(demo: World) -> None:
    """R26 Noticed: the demo's treated cell cut to ×0.5 over the window (its media halved) and
    recorded as PyMC-Marketing states a cut (x = its usual spend, delta_x = −x/2): the fit's
    counterfactual in the window is the usual media (×1), where the old reading of
    1 + delta_x / x applied to the media as run asked for ×0.25."""
    exp = demo.experiment
    assert exp is not None
    p = demo.panel
    c = p.channels.index(exp.channel)
    a, b = _window(demo, exp)
    rows = np.array([p.geos.index(g) for g in exp.geos])
    usual = p.media[c][rows, a:b].copy()
    media = p.media.copy()
    media[c][np.ix_(rows, np.arange(a, b))] *= 0.5
    cut = dataclasses.replace(p, media=media)
    ran = _spend(demo, exp, exp.geos, a, b)
    r = _result(-exp.lift / 2, ran, -ran / 2)
    r.channel, r.lift_std_error = exp.channel, exp.stderr / 2
    r.window.CopyFrom(_window_proto(exp))
    (prepared,) = check_lift_tests(cut, [lift_test(r, "registry:cut", exp.geos)])
    (data,) = lift_data(cut, [prepared], ModelSpec().max_lag)
    assert data.lags_cf is not None
    restored = data.lags_cf[0][:, a:b] * p.population[prepared.geos, None]
    np.testing.assert_allclose(restored, p.media[c][prepared.geos, a:b], rtol=1e-9)
    assert restored.sum() == pytest.approx(usual.sum(), rel=1e-9)


def test_without_a_baseline_the_panel_supplies_the_spend_as_run(demo: World, dark) -> None:
    """`liftos experiments record` leaves --spend-baseline at 0: a heavy-up's counterfactual is
    the cell's spend as run less the spend it added, a dark cell gets |spend_delta| restored
    (both were misread before: the whole spend as run going dark, and "no media")."""
    exp = demo.experiment
    assert exp is not None
    a, b = _window(demo, exp)
    ran = _spend(demo, exp, exp.geos, a, b)
    r = _result(exp.lift / 4, 0.0, ran / 4)
    r.channel, r.lift_std_error = exp.channel, exp.stderr / 4
    r.window.CopyFrom(_window_proto(exp))
    (up,) = check_lift_tests(demo.panel, [lift_test(r, "registry:up", exp.geos)])
    assert up.test.counterfactual_multiplier == pytest.approx(0.75)
    assert up.test.lift == r.lift_absolute
    r.spend_delta = 2 * ran
    with pytest.raises(InvalidSpec) as info:
        check_lift_tests(demo.panel, [lift_test(r, "registry:up", exp.geos)])
    assert info.value.field == "calibration[0].spend_baseline"
    no_base = dataclasses.replace(dark, lift=dark.lift)
    r = _result(dark.gain, 0.0, -dark.counterfactual_spend)  # the size of what it cost
    r.channel, r.lift_std_error = exp.channel, dark.stderr
    r.window.CopyFrom(_window_proto(exp))
    read = lift_test(r, "registry:dark", dark.geos)
    assert read.spend_removed == no_base.counterfactual_spend and read.lift == dark.lift
    (prepared,) = check_lift_tests(demo.panel, [read])
    assert prepared.counterfactual is not None


@pytest.mark.parametrize("spend", [None, 100_000.0])
def test_a_cut_larger_than_the_usual_spend_is_refused(spend: float | None) -> None:
    """V2 F7: spend_delta below -spend_baseline (a sign or units slip) was read as a go-dark of
    the baseline, silently; now refused naming spend_delta and the baseline. A go-dark stated
    with rounding in the user's sums still reads as one."""
    with pytest.raises(InvalidSpec) as info:
        lift_test(_result(-20_000.0, 100_000.0, -150_000.0, spend), "calibration[0]")
    assert info.value.field == "calibration[0].spend_delta"
    assert "spend_baseline (100,000)" in info.value.message
    t = lift_test(_result(-20_000.0, 100_000.0, -100_050.0), "calibration[0]")
    assert t.counterfactual_spend == 100_000.0 and t.lift == -20_000.0


def test_a_cut_without_a_baseline_is_compared_at_the_spend_it_was_cut_from(demo: World) -> None:
    """V2 F6: a cut that left the cell running, recorded with the CLI's default
    --spend-baseline 0 (spend_delta = -what it removed), was read as the spend as run going
    dark (×0, lift +what the cut cost); it is the mirror of a heavy-up without a baseline: the
    counterfactual is the spend as run plus what was removed, as the same cut recorded with its
    baseline reads, and the note says how it was read."""
    exp = demo.experiment
    assert exp is not None
    a, b = _window(demo, exp)
    ran = _spend(demo, exp, exp.geos, a, b)
    prepared = []
    for base in (0.0, 2 * ran):  # the cut halved the cell: usual 2 × ran, ran ran
        r = _result(-exp.lift / 4, base, -ran)
        r.channel, r.lift_std_error = exp.channel, exp.stderr / 4
        r.window.CopyFrom(_window_proto(exp))
        (p,) = check_lift_tests(demo.panel, [lift_test(r, "registry:cut", exp.geos)])
        prepared.append(p)
    no_base, with_base = prepared
    assert with_base.test.counterfactual_multiplier == pytest.approx(2.0)
    assert no_base.test.counterfactual_multiplier == pytest.approx(2.0)
    assert no_base.counterfactual is None and no_base.test.counterfactual_spend == 0.0
    assert no_base.test.lift == with_base.test.lift == pytest.approx(-exp.lift / 4)
    assert no_base.test.gain == pytest.approx(exp.lift / 4)
    assert "spend_baseline" in no_base.note and f"from {2 * ran:,.0f}" in no_base.note
