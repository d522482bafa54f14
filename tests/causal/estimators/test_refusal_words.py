"""Refusals name the column, where the problem is and the fix (R27-F8, F10, F11)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causal_svc.errors import InvalidSpec
from causal_svc.estimators.result import EffectSpec
from causal_svc.estimators.weighting import estimate_aipw


def _cross_section(n: int = 200) -> pd.DataFrame:
    """R27's xs.csv (gen.py, seed 1)."""
    rng = np.random.default_rng(1)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    region = rng.choice(["north", "south", "east", "west"], size=n)
    t = (rng.uniform(size=n) < 1 / (1 + np.exp(-x1))).astype(int)
    y = 1 + 0.5 * t + x1 + 0.5 * x2 + rng.normal(size=n)
    return pd.DataFrame({"y": y, "t": t, "x1": x1, "x2": x2, "region": region})


def test_words_where_numbers_are_read_get_the_fix() -> None:
    frame = _cross_section()
    yes_no = frame.assign(t=np.where(frame.t == 1, "yes", "no"))
    with pytest.raises(InvalidSpec, match=r"\('no', 'yes'\): map it to 1 for treated") as err:
        estimate_aipw(yes_no, EffectSpec("y", "t", covariates=("x1", "x2")))
    assert err.value.field == "roles.treatment"
    spec = EffectSpec("y", "t", covariates=("x1", "region"))
    for data in (frame, frame.assign(region=frame.region.astype("category"))):
        with pytest.raises(InvalidSpec, match="4 levels: 'east', 'north', 'south', 'west'") as err:
            estimate_aipw(data, spec)
        assert "one-hot encode it (3 0/1 columns)" in err.value.message


def test_an_arm_too_small_for_its_covariates_is_named() -> None:
    """R27-F10: 8 rows (2 control, 6 treated) with one covariate were refused as 'a group with
    a single observation'; the 2 control rows meet 2 parameters in Lin's interacted fit."""
    from causal_svc.errors import InsufficientData
    from causal_svc.estimators.difference_in_means import estimate_difference_in_means

    frame = _cross_section().head(8)
    assert (frame.t == 0).sum() == 2 and (frame.t == 1).sum() == 6
    with pytest.raises(InsufficientData, match="the control arm has 2 rows for its 2 param"):
        estimate_difference_in_means(frame, EffectSpec("y", "t", covariates=("x1",)))
    plain = estimate_difference_in_means(frame, EffectSpec("y", "t"))
    assert np.isfinite(plain.stderr)


def _panel(seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit, day = np.repeat(np.arange(12), 10), np.tile(np.arange(10), 12)
    d = ((unit < 4) & (day >= 6)).astype(int)
    y = rng.normal(size=12)[unit] + 0.1 * day + 2 * d + rng.normal(size=unit.size)
    return pd.DataFrame({"unit": [f"g{u:02d}" for u in unit], "day": day, "d": d, "y": y})


def test_panel_refusals_locate_the_problem() -> None:
    """R27-F11: missing values and repeated (unit, time) pairs were counted (or not even that)
    but not located; one treated unit was not pointed to the methods made for it."""
    from causal_svc.errors import InsufficientData
    from causal_svc.estimators.did import estimate_did

    spec = EffectSpec("y", "d", unit="unit", time="day")
    panel = _panel()
    holes = panel.assign(y=panel.y.where(~panel.index.isin([3, 17, 50])))
    with pytest.raises(InvalidSpec, match=r"3 missing or non-finite values \(data rows 4, 18, 51"):
        estimate_did(holes, spec)
    twice = pd.concat([panel, panel.iloc[[5, 17, 33]].assign(y=lambda f: f.y + 5)])
    with pytest.raises(InvalidSpec, match=r"3 row\(s\) repeat a \(unit, day\) pair, the first "
                       r"\(unit g00, day 5\) at data row 121") as err:  # fmt: skip
        estimate_did(twice, spec)
    assert err.value.reason == "DUPLICATE_UNIT_PERIOD"
    one = panel.assign(d=np.where(panel.unit.isin(["g01", "g02", "g03"]), 0, panel.d))
    with pytest.raises(InsufficientData, match="use synthetic_control or sdid"):
        estimate_did(one, spec)
