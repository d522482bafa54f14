"""Lift tests: they pull the channel they measure towards the measurement, by as much as their
standard error allows; bad or contradictory ones are refused naming the field."""

from __future__ import annotations

import dataclasses

import pytest
from liftos.v1 import marketing_data_pb2 as md_pb

from causal_svc.attribution import Evaluator, LiftTest, ModelSpec, fit_mmm
from causal_svc.attribution.calibration import check_lift_tests
from causal_svc.convert.attribution import lift_test
from causal_svc.errors import ContradictoryCalibration, InvalidSpec

from .world import World


def _iroas(fit, channel: str) -> float:
    c = fit.panel.channels.index(channel)
    return Evaluator(fit).effect(c)[0] / fit.panel.spend[c].sum()


def test_a_tight_lift_test_moves_its_channel_to_the_measurement(demo: World, demo_fit) -> None:
    exp = demo.experiment
    assert exp is not None
    # The same test with a 5× tighter standard error, and half the lift: the model follows.
    half = dataclasses.replace(exp, lift=exp.lift / 2, stderr=exp.stderr / 5)
    fit = fit_mmm(demo.panel, ModelSpec(), [half])
    assert fit.lift_predictions[0] == pytest.approx(half.lift, rel=0.2)
    assert _iroas(fit, exp.channel) < _iroas(demo_fit, exp.channel)


def test_calibration_helps_on_the_registry_experiment(demo: World, demo_fit) -> None:
    exp = demo.experiment
    assert exp is not None and demo.experiment_truth is not None
    fit = fit_mmm(demo.panel, ModelSpec(), [exp])
    truth = demo.true_iroas[exp.channel]
    assert abs(_iroas(fit, exp.channel) - truth) <= abs(_iroas(demo_fit, exp.channel) - truth)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": "myspace"}, "calibration[0].channel"),
        ({"stderr": 0.0}, "calibration[0].lift_std_error"),
        ({"geos": ("ZZ",)}, "calibration[0].geos"),
        ({"counterfactual_multiplier": -1.0}, "calibration[0].spend_delta"),
        ({"df": 0.0}, "calibration[0].df"),
        ({"df": float("nan")}, "calibration[0].df"),
    ],
)
def test_bad_lift_tests_name_the_field(demo: World, change: dict, field: str) -> None:
    assert demo.experiment is not None
    with pytest.raises(InvalidSpec) as info:
        check_lift_tests(demo.panel, [dataclasses.replace(demo.experiment, **change)])
    assert info.value.field == field


def test_a_window_outside_the_panel_is_refused(demo: World) -> None:
    import datetime as dt

    assert demo.experiment is not None
    late = dataclasses.replace(demo.experiment, start=dt.date(2030, 1, 1), end=dt.date(2030, 2, 1))
    with pytest.raises(InvalidSpec) as info:
        check_lift_tests(demo.panel, [late])
    assert info.value.field == "calibration[0].window"


def test_contradictory_tests_are_refused(demo: World) -> None:
    exp = demo.experiment
    assert exp is not None
    other = dataclasses.replace(exp, lift=exp.lift * 10, stderr=exp.stderr / 10, name="second")
    with pytest.raises(ContradictoryCalibration) as info:
        check_lift_tests(demo.panel, [exp, other])
    assert info.value.subject == "calibration[1].lift_absolute"
    negative = dataclasses.replace(exp, lift=-10 * exp.stderr)
    with pytest.raises(ContradictoryCalibration):
        check_lift_tests(demo.panel, [negative])


def test_lift_test_accepts_a_plain_test(demo: World) -> None:
    assert isinstance(demo.experiment, LiftTest)
    assert len(check_lift_tests(demo.panel, [demo.experiment])) == 1


@pytest.mark.parametrize(("treated", "control", "df"), [(25, 25, 48.0), (0, 0, float("inf")),
                                                         (1, 1, float("inf"))])  # fmt: skip
def test_an_experiment_result_with_its_unit_counts_carries_its_df(
    treated: int, control: int, df: float
) -> None:
    """The wire's unit counts give the lift test its standard error's two-sample df; a result
    without them is taken as having a known standard error, as before."""
    r = md_pb.ExperimentResult(channel="tiktok", lift_absolute=10.0, lift_std_error=2.0,
                               treatment_unit_count=treated, control_unit_count=control)  # fmt: skip
    r.window.start_date.year, r.window.start_date.month, r.window.start_date.day = 2024, 1, 1
    r.window.end_date.year, r.window.end_date.month, r.window.end_date.day = 2024, 1, 28
    assert lift_test(r, "calibration[0]").df == df
