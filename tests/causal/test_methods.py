"""The method table: total, consistent with the estimators it names, and with the wire enums."""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pandas as pd
import pytest
from liftos.v1 import causal_pb2 as causal_pb

from causal_svc import convert
from causal_svc.errors import InvalidSpec
from causal_svc.estimators.result import EffectSpec, Estimand, Method
from causal_svc.methods import (
    METHODS,
    EstimationOptions,
    Identification,
    estimator_for,
    method_info,
)

# Every knob set, so every Options class passes every keyword it can.
EVERY_KNOB = EstimationOptions(
    alpha=0.1,
    estimand=Estimand.ATT,
    seed=7,
    event_study_leads=3,
    event_study_lags=2,
    caliper=0.5,
    bandwidth=1.0,
    dml_forest=True,
    propensity_trim=0.05,
)


def test_every_method_but_auto_has_a_row() -> None:
    assert set(METHODS) == set(Method) - {Method.AUTO}
    assert all(info.method is m for m, info in METHODS.items())
    with pytest.raises(InvalidSpec) as err:
        method_info(Method.AUTO)
    assert err.value.field == "method"


@pytest.mark.parametrize("method", list(METHODS), ids=str)
def test_options_are_keywords_of_the_estimator(method: Method) -> None:
    info = METHODS[method]
    module = importlib.import_module(f"causal_svc.estimators.{info.module}")
    signature = inspect.signature(getattr(module, info.function))
    for options in (EstimationOptions(), EVERY_KNOB):
        kwargs = info.options.from_request(options).kwargs()
        assert kwargs["alpha"] == options.alpha
        assert set(kwargs) <= set(signature.parameters), sorted(kwargs)
    assert set(info.refit) <= set(signature.parameters), sorted(info.refit)
    assert info.assumptions


def test_request_knobs_reach_the_method_that_reads_them() -> None:
    kwargs = {m: METHODS[m].options.from_request(EVERY_KNOB).kwargs() for m in METHODS}
    assert kwargs[Method.EVENT_STUDY] | {"alpha": 0} == {
        "alpha": 0, "leads": 3, "lags": 2, "random_state": 7, "cluster_inference": "auto"
    }  # fmt: skip
    assert kwargs[Method.DID]["random_state"] == 7
    assert kwargs[Method.STAGGERED_DID]["random_state"] == 7
    assert kwargs[Method.RDD]["bandwidth"] == 1.0
    assert kwargs[Method.MATCHING]["caliper"] == 0.5
    assert kwargs[Method.IPW]["clip_bounds"] == (0.05, 0.95)
    assert "random_state" not in kwargs[Method.IPW]
    assert kwargs[Method.AIPW]["random_state"] == 7
    assert kwargs[Method.DML]["model_y"] == kwargs[Method.DML]["model_t"] == "forest"
    # Unset knobs keep each estimator's own default.
    assert METHODS[Method.MATCHING].options.from_request(EstimationOptions()).kwargs() == {
        "alpha": 0.05
    }


@pytest.mark.parametrize(
    ("knobs", "field"),
    [
        ({"alpha": 1.0}, "alpha"),
        ({"event_study_leads": 367}, "options.event_study_leads"),
        ({"seed": -1}, "options.seed"),
        ({"caliper": 0.0}, "options.caliper"),
        ({"bandwidth": float("nan")}, "options.bandwidth"),
        ({"propensity_trim": 0.5}, "options.propensity_trim"),
    ],
)
def test_request_knobs_are_checked_where_they_are_built(knobs: dict, field: str) -> None:
    with pytest.raises(InvalidSpec) as err:
        EstimationOptions(**knobs)
    assert err.value.field == field


def test_the_wire_enums_match_the_table() -> None:
    wire_methods = {
        v.name.removeprefix("ESTIMATION_METHOD_")
        for v in causal_pb.EstimationMethod.DESCRIPTOR.values
        if v.number != causal_pb.ESTIMATION_METHOD_UNSPECIFIED
    }
    assert wire_methods == {m.name for m in Method}
    wire_kinds = {
        v.name.removeprefix("IDENTIFICATION_KIND_")
        for v in causal_pb.IdentificationKind.DESCRIPTOR.values
        if v.number != causal_pb.IDENTIFICATION_KIND_UNSPECIFIED
    }
    assert wire_kinds == {k.name for k in Identification}
    assert set(convert.METHOD_TO_PROTO) == set(Method)


def _frames() -> dict[Method, tuple[pd.DataFrame, EffectSpec]]:
    """A small data set each method can estimate on."""
    rng = np.random.default_rng(0)
    unit, day = np.repeat(np.arange(30), 20), np.tile(np.arange(20), 30)
    x = rng.normal(size=unit.size)
    d = ((unit < 15) & (day >= 12)).astype(np.int64)
    panel = pd.DataFrame({"unit": unit, "day": day, "x": x, "d": d})
    panel["y"] = rng.normal(size=unit.size) + 0.5 * x + 2.0 * d
    one = panel.assign(d=((unit == 0) & (day >= 12)).astype(np.int64))
    one["y"] = panel["y"] - 2.0 * panel["d"] + 2.0 * one["d"] + 0.3 * unit
    days = np.arange(60)
    control = np.cumsum(rng.normal(size=60)) + 10
    series = pd.DataFrame({"day": days, "c": control, "d": (days >= 45).astype(np.int64)})
    series["y"] = 2 * control + rng.normal(size=60) + 3.0 * series["d"]
    n = 600
    z, r, u = rng.normal(size=n), rng.uniform(-1, 1, n), rng.normal(size=n)
    cross = pd.DataFrame({"z": z, "r": r, "u": u, "d_iv": z + u, "d_rd": (r >= 0).astype(int)})
    cross["y"] = 1.5 * cross["d_iv"] + 2.0 * cross["d_rd"] + r + u + rng.normal(size=n)
    panel_spec = EffectSpec(outcome="y", treatment="d", unit="unit", time="day")
    backdoor = (panel, EffectSpec(outcome="y", treatment="d", covariates=("x",)))
    return {
        Method.DIFFERENCE_IN_MEANS: (panel, EffectSpec(outcome="y", treatment="d")),
        Method.DID: (panel, panel_spec),
        Method.EVENT_STUDY: (panel, panel_spec),
        Method.STAGGERED_DID: (panel, panel_spec),
        Method.IV: (cross, EffectSpec(outcome="y", treatment="d_iv", instruments=("z",))),
        Method.RDD: (
            cross,
            EffectSpec(outcome="y", treatment="d_rd", running_variable="r", cutoff=0.0),
        ),
        Method.MATCHING: backdoor,
        Method.IPW: backdoor,
        Method.AIPW: backdoor,
        Method.SYNTHETIC_CONTROL: (one[one.unit < 12], panel_spec),
        Method.SDID: (panel, panel_spec),
        Method.DML: backdoor,
        Method.BSTS: (
            series,
            EffectSpec(outcome="y", treatment="d", time="day", covariates=("c",)),
        ),
        Method.NAIVE_REGRESSION: backdoor,
    }


def test_each_estimator_answers_the_estimand_and_reference_its_row_says() -> None:
    frames = _frames()
    assert set(frames) == set(METHODS)
    for method, (frame, spec) in frames.items():
        estimate = estimator_for(method, EstimationOptions())(frame, spec)
        assert estimate.method is method
        assert estimate.estimand is METHODS[method].estimand, method
        assert estimate.alpha == 0.05
        # conf_int at the stored level is the stored interval; at another level it follows the
        # estimate's own reference distribution
        assert estimate.conf_int() == (estimate.ci_lower, estimate.ci_upper)


def test_cluster_inference_a_method_cannot_honour_is_warned_about() -> None:
    """R11-F4: ``--cluster-inference wild_bootstrap`` with AIPW returned the same interval and
    said nothing. Methods without a wild bootstrap now say what they did instead."""
    frames = _frames()
    panel, backdoor = frames[Method.AIPW]
    clustered = EffectSpec(outcome="y", treatment="d", covariates=("x",), cluster="unit")

    def warned(method: Method, choice: str, spec: EffectSpec, frame: pd.DataFrame) -> list[str]:
        options = EstimationOptions(cluster_inference=choice)
        estimate = estimator_for(method, options)(frame, spec)
        return [w for w in estimate.warnings if "options.cluster_inference" in w]

    wild = warned(Method.AIPW, "wild_bootstrap", clustered, panel)
    assert len(wild) == 1 and "no wild cluster bootstrap" in wild[0]
    assert warned(Method.AIPW, "cluster_robust", clustered, panel) == []
    assert warned(Method.AIPW, "auto", clustered, panel) == []
    assert "roles.cluster" in warned(Method.IPW, "cluster_robust", backdoor, panel)[0]
    assert "no clustered inference" in warned(Method.MATCHING, "wild_bootstrap", backdoor, panel)[0]
    did_frame, did_spec = frames[Method.DID]
    assert warned(Method.DID, "wild_bootstrap", did_spec, did_frame) == []
    # The cross-fitted path (fit_with_reuse) warns the same way.
    fit = METHODS[Method.AIPW].fit_with_reuse(EstimationOptions(cluster_inference="wild_bootstrap"))
    assert fit is not None
    estimate, _ = fit(panel, clustered)
    assert any("options.cluster_inference" in w for w in estimate.warnings)
