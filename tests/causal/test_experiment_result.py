"""A geo experiment's estimate as the registry's lift test (causal_svc.experiment_result), set
beside the benches' analyst (tests/causal/attribution/world.py::experiment_lift) on simulated
worlds, and read back the way attribution reads it (convert.lift_test)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from liftos.v1 import causal_pb2 as pb

import sim
from causal_svc import convert
from causal_svc.attribution import panel_from_frames
from causal_svc.convert.experiment_results import experiment_result
from causal_svc.errors import InsufficientData
from causal_svc.experiment_result import (
    GeoExperiment,
    NoSpendContrast,
    arm_spend,
    lift_from_records,
    measured_lift,
)
from causal_svc.experiment_units import require_arms_found, unit_matches
from causal_svc.jobs import RecordsData, run_estimate
from causal_svc.record_tables import Aggregation, ExperimentDesign
from mesh.runtime.exceptions import FailedPrecondition
from mesh.runtime.frames import records_to_frame
from mesh.runtime.money import FxSeries, MixedCurrencies, spend_in_outcome_currency
from tests.causal.attribution import world as analyst
from tests.causal.attribution.records import world_records


def _experiment(e: dict) -> GeoExperiment:
    return GeoExperiment(
        e["experiment_id"], e["channel"], dt.date.fromisoformat(e["start_date"]),
        dt.date.fromisoformat(e["end_date"]), tuple(e["treatment_units"]),
        tuple(e["control_units"]),
    )  # fmt: skip


def _world(seed: int) -> tuple[sim.SimResult, pd.DataFrame, GeoExperiment, object]:
    """A demo world, its records as memory returns them (pre-period to the window's end),
    the registered experiment and the analyst's lift test of it."""
    r = analyst.simulate("demo", seed)
    outcome, media, campaigns = analyst.frames(r)
    lift = analyst.experiment_lift(r, panel_from_frames(outcome, media, campaigns=campaigns))
    assert lift is not None
    e = r.experiments[0]
    frame = records_to_frame(list(world_records(r, "o")), groups=("core", "external"))
    day = pd.to_datetime(frame["local_date"])
    keep = (day >= pd.Timestamp(e["pre_period_start"])) & (day <= pd.Timestamp(e["end_date"]))
    return r, frame.loc[keep].reset_index(drop=True), _experiment(e), lift[0]


@pytest.fixture(scope="module")
def seed0() -> tuple[sim.SimResult, pd.DataFrame, GeoExperiment, object]:
    return _world(0)


def test_same_effect_gives_the_analysts_lift_test(seed0) -> None:
    """Handed the analyst's effect per treated geo-day, the conversion gives the analyst's lift
    and standard error, the true treated spend as the spend the test removed, and a go-dark
    counterfactual (multiplier 0) once read back from the wire."""
    r, frame, experiment, theirs = seed0
    truth = r.truth["experiments"][0]
    spend = arm_spend(frame, experiment, "revenue")
    geo_days = spend.treated_geo_days
    assert geo_days == truth["n_treated_geos"] * ((experiment.end - experiment.start).days + 1)
    ours = measured_lift(
        experiment, spend, effect=theirs.lift / geo_days, stderr=theirs.stderr / geo_days,
        alpha=0.1, p_value=0.01, outcome="revenue", analysis_id="an-x",
    )  # fmt: skip
    assert ours.lift == pytest.approx(theirs.lift, rel=1e-12)
    assert ours.stderr == pytest.approx(theirs.stderr, rel=1e-12)
    assert ours.spend == pytest.approx(truth["spend_treated"], rel=1e-4)  # cents rounded
    assert ours.spend_delta == -ours.spend and ours.spend_baseline == ours.spend
    # The analyst's Welch df is at most the pooled n_t + n_c − 2 the unit counts carry.
    assert ours.df == truth["n_treated_geos"] + truth["n_control_geos"] - 2 >= theirs.df
    wire = experiment_result(ours, "USD")
    read = convert.lift_test(wire, "registry:x", experiment.treatment_units)
    assert read.counterfactual_multiplier == 0.0 == theirs.counterfactual_multiplier
    assert read.lift == pytest.approx(theirs.lift, rel=1e-12)
    assert read.stderr == pytest.approx(theirs.stderr, rel=1e-12)
    assert (read.start, read.end, read.geos) == (theirs.start, theirs.end, theirs.geos)
    assert read.df == ours.df
    assert wire.incremental_roas.estimate == pytest.approx(theirs.lift / truth["spend_treated"],
                                                           rel=1e-4)  # fmt: skip


def _mesh_estimate(frame: pd.DataFrame, experiment: GeoExperiment) -> tuple[float, float]:
    """The estimate the demo asks the mesh for (AUTO, randomised, geo x day, first-party
    revenue), run in-process: its effect per treated geo-day and standard error."""
    request = pb.EstimateEffectRequest(
        org_id="o", method=pb.ESTIMATION_METHOD_AUTO, randomized=True,
        records=pb.RecordQuery(experiment_id=experiment.experiment_id),
        roles=pb.EffectRoles(outcome="revenue", treatment="treated_post", unit="geo", time="day"),
        options=pb.EstimationOptions(skip_refutation=True),
    )  # fmt: skip
    job = convert.estimate_question(request).job
    design = ExperimentDesign(experiment.experiment_id, experiment.start, experiment.end,
                              experiment.treatment_units, experiment.control_units)  # fmt: skip
    data = RecordsData(frame, Aggregation.GEO_DAY, experiment.experiment_id, design)
    e = run_estimate(job, data).estimate
    return e.point_estimate, e.stderr


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_mesh_estimate_agrees_with_the_analyst_within_sampling_error(seed: int, seed0) -> None:
    """The mesh weighs geos equally (effect per geo-day), the analyst weighs residents (DiD of
    revenue per resident): the same total, estimated differently. Stated tolerance: the two
    lifts within 2.5 of the analyst's standard errors (observed |z| ≤ 2 on seeds 0–4), and the
    truth within 3 of ours."""
    r, frame, experiment, theirs = seed0 if seed == 0 else _world(seed)
    effect, stderr = _mesh_estimate(frame, experiment)
    ours, _ = lift_from_records(experiment, frame, effect=effect, stderr=stderr, alpha=0.05,
                                p_value=0.05, outcome="revenue", analysis_id="an-x")  # fmt: skip
    assert abs(ours.lift - theirs.lift) <= 2.5 * theirs.stderr
    assert abs(ours.lift - r.truth["experiments"][0]["incremental_revenue_treated"]) <= (
        3 * ours.stderr
    )
    assert ours.spend_delta < 0 < ours.spend_baseline


def _records(
    treated_spend: tuple[float, float], control_spend: tuple[float, float]
) -> pd.DataFrame:
    """2 treated and 2 control geos, 10 pre-period days then a 5-day window: the channel's
    spend per geo-day (pre, window) per arm, and first-party revenue 100 per geo-day."""
    rows = []
    start = dt.date(2024, 1, 1)
    for geo, (pre, win) in (("US-CA", treated_spend), ("US-TX", treated_spend),
                            ("US-NY", control_spend), ("US-FL", control_spend)):  # fmt: skip
        for d in range(15):
            day = start + dt.timedelta(days=d)
            spend = pre if d < 10 else win
            rows.append({"geo": geo, "local_date": day, "channel": "meta", "data_source": "meta",
                         "spend": spend, "revenue": 0.0})  # fmt: skip
            rows.append({"geo": geo, "local_date": day, "channel": "first_party",
                         "data_source": "generic", "spend": 0.0, "revenue": 100.0})  # fmt: skip
    return pd.DataFrame(rows)


GEO = GeoExperiment("exp", "meta", dt.date(2024, 1, 11), dt.date(2024, 1, 15), ("CA", "TX"),
                    ("NY", "FL"))  # fmt: skip


def test_treated_cell_cut_follows_pymc_marketing() -> None:
    """The treated geos went dark (the control kept spending): x is the business as usual the
    pre-period implies, delta_x = −x, delta_y the (negative) estimate; attribution restores
    x in the dark cell (R26 F6) and compares it with the estimate: a gain of 200."""
    frame = _records(treated_spend=(50.0, 0.0), control_spend=(40.0, 40.0))
    m, _ = lift_from_records(GEO, frame, effect=-20.0, stderr=5.0, alpha=0.05, p_value=0.01,
                             outcome="revenue", analysis_id="an-y")  # fmt: skip
    assert m.spend == 0.0 and m.spend_baseline == pytest.approx(2 * 5 * 50.0)
    assert m.spend_delta == pytest.approx(-500.0)
    assert m.lift == pytest.approx(-20.0 * 10) and m.iroas == pytest.approx(200.0 / 500.0)
    read = convert.lift_test(experiment_result(m), "x", GEO.treatment_units)
    assert read.lift == pytest.approx(-200.0) and read.gain == pytest.approx(200.0)
    assert read.counterfactual_spend == pytest.approx(500.0)


def test_control_dose_scales_the_counterfactual() -> None:
    """A budget test: the treated geos kept their spend, the control ran at half: the
    counterfactual is half the treated spend (multiplier 0.5 once read back)."""
    frame = _records(treated_spend=(60.0, 60.0), control_spend=(30.0, 15.0))
    m, _ = lift_from_records(GEO, frame, effect=8.0, stderr=2.0, alpha=0.05, p_value=0.01,
                             outcome="revenue", analysis_id="an-z")  # fmt: skip
    assert m.spend == pytest.approx(600.0) and m.spend_delta == pytest.approx(-300.0)
    read = convert.lift_test(experiment_result(m), "x", GEO.treatment_units)
    assert read.counterfactual_multiplier == pytest.approx(0.5) and read.lift == 80.0
    assert m.lift_relative == pytest.approx(80.0 / (2 * 5 * 100.0 - 80.0))


def test_a_negative_holdout_estimate_stays_negative_evidence() -> None:
    """The control went dark and the channel-on geos did worse (noise around a null): the
    recorded lift is read as negative, not turned into a positive effect as PyMC-Marketing's
    go-dark delta_y (no stated spend as run) still is."""
    frame = _records(treated_spend=(60.0, 60.0), control_spend=(30.0, 0.0))
    m, _ = lift_from_records(GEO, frame, effect=-4.0, stderr=5.0, alpha=0.05, p_value=0.4,
                             outcome="revenue", analysis_id="an-neg")  # fmt: skip
    wire = experiment_result(m)
    assert wire.spend.amount == wire.spend_baseline == pytest.approx(600.0)
    read = convert.lift_test(wire, "x", GEO.treatment_units)
    assert read.lift == pytest.approx(-40.0) and read.counterfactual_multiplier == 0.0
    wire.ClearField("spend")  # the same numbers in PyMC-Marketing's convention: a go-dark
    dark = convert.lift_test(wire, "x")
    assert dark.gain == pytest.approx(40.0) and dark.counterfactual_spend == pytest.approx(600.0)


def test_units_in_another_case_read_the_same_arms() -> None:
    """The lift test's arms are read with the estimate's own rule
    (experiment_units.unit_matches): "ca", "us-tx", "Ny" are US-CA, US-TX and US-NY, as the
    registry's units and the estimate read them."""
    frame = _records(treated_spend=(60.0, 60.0), control_spend=(30.0, 15.0))
    cased = GeoExperiment("exp", "meta", GEO.start, GEO.end, ("ca", "us-tx"), ("Ny", "fl"))
    for design in (GEO, cased):
        spend = arm_spend(frame, design, "revenue")
        assert spend == arm_spend(frame, GEO, "revenue")
    assert arm_spend(frame, cased, "revenue").treated_window == pytest.approx(600.0)


def test_one_unit_rule_for_the_estimate_and_the_lift_test() -> None:
    """Both call sites share one matcher, case-insensitive (ISO 3166 codes and region names
    are the same place in any case): "tx" is US-TX for the estimate's arms as it is for the
    lift test's spend, where the estimate refused it before."""
    geos = pd.Series(["US-TX", "US-CA", "DE-BY", "London"])
    assert unit_matches(geos, ("tx", "Us-Ca", "by", "LONDON")).tolist() == [True] * 4
    assert unit_matches(geos, ("TX",)).tolist() == [True, False, False, False]
    assert unit_matches(geos, ("US",)).tolist() == [False] * 4  # a country is no subdivision
    require_arms_found("e", {"treatment": ("tx",), "control": ("ca",)}, geos, GEO.start, GEO.end)
    with pytest.raises(FailedPrecondition, match="treatment unit 'texas'"):
        require_arms_found("e", {"treatment": ("texas",)}, geos, GEO.start, GEO.end)


def test_no_spend_contrast_is_no_lift_test() -> None:
    frame = _records(treated_spend=(50.0, 50.0), control_spend=(40.0, 40.0))
    with pytest.raises(NoSpendContrast, match="did not change the channel's spend"):
        lift_from_records(GEO, frame, effect=3.0, stderr=1.0, alpha=0.05, p_value=0.5,
                          outcome="revenue", analysis_id="an-n")  # fmt: skip


def test_no_pre_period_is_refused() -> None:
    frame = _records(treated_spend=(50.0, 0.0), control_spend=(40.0, 40.0))
    frame = frame.loc[pd.to_datetime(frame["local_date"]) >= pd.Timestamp(GEO.start)]
    with pytest.raises(InsufficientData, match="pre-period"):
        arm_spend(frame, GEO, "revenue")


def test_spend_in_another_currency_is_converted_before_the_iroas() -> None:
    """Meta bills in EUR, the orders are in USD: the recorded iROAS divides USD by USD spend
    converted day by day with the org's rate, or the result is refused naming the rate."""
    usd = _records(treated_spend=(50.0, 0.0), control_spend=(40.0, 40.0))
    usd["currency_code"] = "USD"
    eur = usd.copy()
    media = eur["data_source"].eq("meta")
    eur.loc[media, "currency_code"] = "EUR"
    eur.loc[media, "spend"] = eur.loc[media, "spend"] / 1.25
    args = {"effect": -20.0, "stderr": 5.0, "alpha": 0.05, "p_value": 0.01,
            "outcome": "revenue", "analysis_id": "an-fx"}  # fmt: skip
    want, currency = lift_from_records(GEO, usd, **args)
    assert currency == "USD"
    with pytest.raises(MixedCurrencies, match="register fx_eur_usd"):
        spend_in_outcome_currency(eur, "meta", ())
    days = sorted(set(pd.to_datetime(eur["local_date"]).dt.date))
    for fx in (
        [FxSeries.parse("fx_eur_usd", days, [1.25] * len(days))],
        [FxSeries.parse("fx_usd_eur", [days[0]], [0.8])],
    ):  # reverse rate, a constant
        converted, note = spend_in_outcome_currency(eur, "meta", fx)
        assert "EUR spend converted to USD" in note
        got, currency = lift_from_records(GEO, converted, **args)
        assert currency == "USD"
        assert got.iroas == pytest.approx(want.iroas) and got.spend_delta == pytest.approx(
            want.spend_delta
        )
    # Before the conversion the same test's iROAS read 25% high (USD over EUR).
    mixed, _ = lift_from_records(GEO, eur, **args)
    assert mixed.iroas == pytest.approx(want.iroas * 1.25)
    # A rate that stops a week before the test's last days is refused, naming a day.
    with pytest.raises(MixedCurrencies, match="does not cover"):
        spend_in_outcome_currency(eur, "meta", [FxSeries.parse("fx_eur_usd", days[:3], [1.25] * 3)])
    # One currency already: returned as is.
    assert spend_in_outcome_currency(usd, "meta", ())[1] == ""


def test_a_lift_read_over_part_of_the_test_carries_the_days_it_measured(seed0) -> None:
    """R26 F5: records read to an end a week into the 28-day test measured 7 days; the result
    was stored under all 28, and calibration asked the model for 28 days of lift to match a
    week's (meta_prospecting's iROAS 2.86 → 0.31, truth 1.56). The result now carries the
    days measured, its spend contrast over those days, and the estimate says so."""
    from causal_svc.experiment_result import partial_window_note

    _, frame, experiment, _ = seed0
    cut = experiment.start + dt.timedelta(days=6)
    week = frame.loc[pd.to_datetime(frame["local_date"]) <= pd.Timestamp(cut)]
    spend = arm_spend(week, experiment, "revenue")
    assert (spend.first, spend.last, spend.window_days) == (experiment.start, cut, 7)
    full = arm_spend(frame, experiment, "revenue")
    assert spend.treated_window < full.treated_window / 3  # a week of the cell's spend
    ours = measured_lift(experiment, spend, effect=1_000.0, stderr=400.0, alpha=0.1,
                         p_value=0.01, outcome="revenue", analysis_id="an-x")  # fmt: skip
    assert (ours.start, ours.end) == (experiment.start, cut)
    read = convert.lift_test(experiment_result(ours, "USD"), "registry:x",
                             experiment.treatment_units)  # fmt: skip
    assert (read.start, read.end) == (experiment.start, cut)
    note = partial_window_note(experiment, ours)
    assert note.startswith(f"experiment result recorded over {experiment.start}..{cut}, 7 of "
                           "the test's 28 days")  # fmt: skip
    assert f"{cut + dt.timedelta(days=1)}..{experiment.end}" in note
    whole = measured_lift(experiment, full, effect=1_000.0, stderr=400.0, alpha=0.1,
                          p_value=0.01, outcome="revenue", analysis_id="an-x")  # fmt: skip
    assert (whole.start, whole.end) == (experiment.start, experiment.end)
    assert partial_window_note(experiment, whole) == ""


def test_orders_not_yet_landed_for_the_last_days_end_the_measured_window() -> None:
    """Media rows through the test's last day, orders through 2 days before it: the lift and
    its spend contrast cover the 3 days with orders (R26 F5's late-landing case)."""
    frame = _records(treated_spend=(60.0, 60.0), control_spend=(30.0, 0.0))
    late = (frame["data_source"] == "generic") & (
        pd.to_datetime(frame["local_date"]) > pd.Timestamp(2024, 1, 13)
    )
    spend = arm_spend(frame.loc[~late], GEO, "revenue")
    assert (spend.first, spend.last) == (GEO.start, dt.date(2024, 1, 13))
    assert spend.window_days == 3 and spend.treated_geo_days == 2 * 3
    assert spend.treated_window == pytest.approx(2 * 3 * 60.0)
    m = measured_lift(GEO, spend, effect=8.0, stderr=2.0, alpha=0.05, p_value=0.01,
                      outcome="revenue", analysis_id="an-late")  # fmt: skip
    assert (m.start, m.end, m.lift) == (GEO.start, dt.date(2024, 1, 13), pytest.approx(48.0))
