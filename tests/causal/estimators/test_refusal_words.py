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
