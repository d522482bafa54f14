"""Macro shock by the index's own daily steps: read from the registry's loaded values (real
SQLite) and applied by the detector."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ingestion_svc.calendar import calendar_columns
from ingestion_svc.confounder_macro import MACRO_STEPS, MIN_STEPS, step_ratios
from ingestion_svc.confounders import detect
from ingestion_svc.external_factors import (
    FactorRegistry,
    FactorSeries,
    FactorTable,
    join_factors,
)

D0 = dt.date(2024, 9, 1)
DAY0 = (D0 - dt.date(1970, 1, 1)).days


def _registered(tmp_path: Path, **series: np.ndarray) -> pd.DataFrame:
    reg = FactorRegistry(tmp_path / "f.sqlite")
    for name, values in series.items():
        dated = tuple((D0 + dt.timedelta(days=i), float(v)) for i, v in enumerate(values))
        kind = "competitor" if name.startswith("rival") else "macro"
        reg.register("acme", FactorSeries(name, kind, "cb", "index", "", dated))
    frame = reg.table("acme", DAY0 - 60, DAY0 + 400).frame
    reg.close()
    return frame


def _walk(n: int, step: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 + np.cumsum(rng.normal(0.0, step, n))


def test_step_ratio_is_the_sd_over_the_robust_daily_step(tmp_path: Path) -> None:
    walk = _walk(120, 0.5, 1)
    jumpy = walk.copy()
    jumpy[60:] += 40.0  # one jump moves the sd a lot, the median step not at all
    frame = _registered(tmp_path, cci=walk, jumpy=jumpy, rival=walk)
    ratios = step_ratios(frame)
    assert set(ratios) == {"cci", "jumpy"}  # only macro factors
    change = np.diff(walk)
    mad = 1.4826 * np.median(np.abs(change - np.median(change)))
    assert ratios["cci"] == pytest.approx(walk.std(ddof=1) / mad)
    jump_mad = np.diff(jumpy)
    jump_mad = 1.4826 * np.median(np.abs(jump_mad - np.median(jump_mad)))
    assert jump_mad == pytest.approx(mad, rel=0.05)


def test_too_few_consecutive_days_leave_the_series_to_its_z_score(tmp_path: Path) -> None:
    every_other = pd.DataFrame(
        {"name": "cci", "geo": "", "day": np.arange(0, 80, 2), "value": np.arange(40.0),
         "type": "macro", "std": 1.0}
    )  # fmt: skip
    assert step_ratios(every_other) == {}
    frame = _registered(tmp_path, cci=_walk(MIN_STEPS, 1.0, 2))  # 13 changes
    assert step_ratios(frame) == {}


def test_a_shock_is_measured_in_steps_not_in_standard_deviations(tmp_path: Path) -> None:
    # Two indices one standard deviation from their mean on the same days: a calm one whose
    # day-to-day steps are tiny (far out in steps) and a choppy one whose ordinary daily
    # noise is that large (not a shock).
    n = 120
    rng = np.random.default_rng(3)
    calm = 100.0 + np.cumsum(rng.normal(0.0, 0.05, n))
    choppy = 100.0 + rng.normal(0.0, 1.0, n)
    frame = _registered(tmp_path, calm=calm, choppy=choppy)
    days = DAY0 + np.arange(n)
    table = FactorTable(frame, DAY0 - 60, DAY0 + 400, 1)
    joined = join_factors(table, days, pd.Series(["US-CA"] * n), pd.Series(["CA"] * n))
    cube = np.full((n, 29, 3), 100.0)
    found = {
        d.name: d
        for d in detect(
            "meta",
            calendar_columns("US", days),
            "US",
            days,
            cube,
            np.full(n, 100.0),
            pd.Series(["Prospecting"] * n),
            joined,
            step_ratios(frame),
        )
    }
    ratios = step_ratios(frame)
    for name, series in (("calm", calm), ("choppy", choppy)):
        steps = np.abs(series - series.mean()) / series.std(ddof=1) * ratios[name]
        expected = steps >= MACRO_STEPS
        got = np.isfinite(found[name].value) if name in found else np.zeros(n, dtype=bool)
        assert got.tolist() == expected.tolist()
    assert np.isfinite(found["calm"].value).mean() > 0.5
    assert "choppy" not in found or np.isfinite(found["choppy"].value).mean() < 0.05
    live = np.isfinite(found["calm"].value)
    assert (found["calm"].strength[live] >= 0.5).all()
    assert "daily steps from its mean" in found["calm"].description[np.argmax(live)]
