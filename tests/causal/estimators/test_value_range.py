"""Values whose squares overflow (or underflow) double precision are refused up front, for every
method, as InvalidSpec naming the column and role, instead of an internal error (STAGGERED_DID
SVD failure, RDD ZeroDivisionError, DML's float32 cast) or a misleading "does not vary"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causal_svc.errors import InvalidSpec
from causal_svc.estimators.result import EffectSpec, Method
from causal_svc.estimators.validate import MAX_MAGNITUDE
from causal_svc.methods import EstimationOptions
from causal_svc.pipeline import estimate_effect


def _panel(n_geo: int = 8, n_day: int = 12, n_treated: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for g in range(n_geo):
        for d in range(n_day):
            tr = int(g < n_treated and d >= n_day // 2)
            rows.append(
                {
                    "geo": f"g{g}",
                    "day": d,
                    "treated": tr,
                    "x": rng.normal(),
                    "z": rng.normal() + (g < n_treated),
                    "r": rng.normal(),
                    "y": 10 + g + 0.3 * d + 5 * tr + rng.normal(),
                }
            )
    return pd.DataFrame(rows)


_PANEL = {"unit": "geo", "time": "day"}
_BACKDOOR = {"covariates": ("x", "z")}
# Each method's roles on the shared table (synthetic control: one treated unit; bsts: one series).
CASES: dict[Method, dict[str, object]] = {
    Method.AUTO: _PANEL,
    Method.DIFFERENCE_IN_MEANS: {},
    Method.DID: _PANEL,
    Method.EVENT_STUDY: _PANEL,
    Method.STAGGERED_DID: _PANEL,
    Method.SDID: _PANEL,
    Method.SYNTHETIC_CONTROL: _PANEL,
    Method.IV: {"instruments": ("z",)},
    Method.RDD: {"running_variable": "r", "cutoff": 0.0},
    Method.MATCHING: _BACKDOOR,
    Method.IPW: _BACKDOOR,
    Method.AIPW: _BACKDOOR,
    Method.DML: _BACKDOOR,
    Method.NAIVE_REGRESSION: _BACKDOOR,
    Method.BSTS: {"time": "day", "covariates": ("x",)},
}


def _frame(method: Method) -> pd.DataFrame:
    if method is Method.SYNTHETIC_CONTROL:
        return _panel(n_treated=1)
    if method is Method.BSTS:
        return _panel(n_geo=1, n_day=40, n_treated=1).drop(columns="geo")
    return _panel()


def test_every_method_has_a_case() -> None:
    assert set(CASES) == set(Method)


def _scale(frame: pd.DataFrame, column: str, how: str) -> pd.DataFrame:
    frame = frame.copy()
    if how == "one 1e308":
        frame.loc[3, column] = 1e308
    elif how == "all x 1e200":
        frame[column] = frame[column] * 1e200
    else:  # all x 1e-300: squares underflow to 0
        frame[column] = frame[column] * 1e-300
    return frame


@pytest.mark.parametrize("how", ["one 1e308", "all x 1e200", "all x 1e-300"])
@pytest.mark.parametrize("method", list(Method))
def test_outcome_out_of_range_is_refused_naming_the_column(method: Method, how: str) -> None:
    frame = _scale(_frame(method), "y", how)
    spec = EffectSpec(outcome="y", treatment="treated", **CASES[method])  # type: ignore[arg-type]
    with pytest.raises(InvalidSpec) as err:
        estimate_effect(frame, spec, method, options=EstimationOptions(), skip_refutation=True)
    assert err.value.reason == "VALUE_OUT_OF_RANGE"
    assert "'y' (role outcome)" in str(err.value)
    assert err.value.field == "roles.outcome"


@pytest.mark.parametrize(
    "method", [m for m, roles in CASES.items() if "covariates" in roles and m is not Method.BSTS]
)
def test_covariate_out_of_range_is_refused_naming_the_column(method: Method) -> None:
    frame = _frame(method)
    frame["x"] = frame["x"] * 1e300  # DML's learners cast to float32: was an internal error
    spec = EffectSpec(outcome="y", treatment="treated", **CASES[method])  # type: ignore[arg-type]
    with pytest.raises(InvalidSpec) as err:
        estimate_effect(frame, spec, method, options=EstimationOptions(), skip_refutation=True)
    assert err.value.reason == "VALUE_OUT_OF_RANGE"
    assert "'x' (role covariates)" in str(err.value)


def test_large_but_carried_values_still_estimate() -> None:
    """The bound is not a cliff on real data: an outcome near it still estimates, and the effect
    scales exactly with the outcome."""
    frame, spec = _panel(), EffectSpec(outcome="y", treatment="treated", **_PANEL)  # type: ignore[arg-type]
    base = estimate_effect(
        frame, spec, Method.DID, options=EstimationOptions(), skip_refutation=True
    )
    big = frame.assign(y=frame["y"] * (MAX_MAGNITUDE / frame["y"].abs().max()))
    scaled = estimate_effect(
        big, spec, Method.DID, options=EstimationOptions(), skip_refutation=True
    )
    ratio = MAX_MAGNITUDE / frame["y"].abs().max()
    assert scaled.estimate.point_estimate == pytest.approx(base.estimate.point_estimate * ratio)
    assert scaled.estimate.stderr == pytest.approx(base.estimate.stderr * ratio)
